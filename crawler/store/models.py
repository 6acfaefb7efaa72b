"""The evidence database: documents cite targets; each run captures every target once.

``Capture`` is one visit of one target in one run, with the verdict; ``Record``
is one WARC record written for it (every redirect hop and retried attempt has a
request and a response record), so an auditor can seek to each exchange directly.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the database itself (schema version, creator)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(1024), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[str] = mapped_column(String(32), default="")
    sha256: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    citations: Mapped[list[Citation]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Citation.position"
    )


class Target(Base):
    """A distinct URL, exactly as cited; several citations may share it."""

    __tablename__ = "targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    # Line templates of the text that changed between two fetches seconds apart
    # (crawler.verdicts.fingerprint.Noise); None until any was seen
    noise: Mapped[list[str] | None] = mapped_column(JSON)
    citations: Mapped[list[Citation]] = relationship(back_populates="target")


class Citation(Base):
    __tablename__ = "citations"
    __table_args__ = (UniqueConstraint("document_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    position: Mapped[int] = mapped_column(Integer)
    footnote: Mapped[str] = mapped_column(String(64))
    url_as_written: Mapped[str] = mapped_column(Text)
    # The form that tells two spellings of one address apart from two addresses
    # (crawler/citations/normalize.py); targets are shared by it.
    normalized_url: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[str] = mapped_column(Text, default="")
    line: Mapped[int] = mapped_column(Integer)
    # 1-based page of a PDF document; None for formats without pages.
    page: Mapped[int | None] = mapped_column(Integer)
    # The day the author consulted the URL, as far as known (crawler/citations/accessdates.py),
    # and what said so: "note" (an access date in its note), "document" (the document's
    # date), "given" (`evidence import --cited-at`); both None when nothing did.
    cited_at: Mapped[date | None]
    cited_at_source: Mapped[str | None] = mapped_column(String(16))
    document: Mapped[Document] = relationship(back_populates="citations")
    target: Mapped[Target] = relationship(back_populates="citations")


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # running | finished | interrupted | failed
    status: Mapped[str] = mapped_column(String(16), default="running")
    software: Mapped[str] = mapped_column(String(64))
    # Which process ran it, so a later run can tell a dead run from a live one.
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    targets: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    captures: Mapped[list[Capture]] = relationship(back_populates="run")


class Capture(Base):
    # One capture per target and run: the unique key is what keeps two workers that
    # both fetched a URL (one presumed dead, say) from counting it twice.
    __tablename__ = "captures"
    __table_args__ = (
        UniqueConstraint("run_id", "target_id"),
        Index("ix_captures_target_checked", "target_id", "checked_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    checked_at: Mapped[datetime]
    # ok | changed | moved | gone | unreachable
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    redirect_chain: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    content_type: Mapped[str | None] = mapped_column(Text)
    content_length: Mapped[int | None] = mapped_column(BigInteger)
    payload_digest: Mapped[str | None] = mapped_column(String(80))
    # What the page means (see crawler/verdicts/fingerprint.py): ``text-v2:sha256:...`` or ``bytes:sha256:...``
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    # The rules the fingerprints were made under (``html-2;noise=3``); None for rows from
    # before fingerprints had one, which are re-extracted before being compared
    basis: Mapped[str | None] = mapped_column(String(64))
    # The fingerprint of the visible text outside the page's main content
    boilerplate: Mapped[str | None] = mapped_column(String(80))
    # For ok/changed: None (same bytes), "bytes" (only bytes changed), "boilerplate" (only
    # the text outside the main content changed), "text" (the evidence text changed)
    change: Mapped[str | None] = mapped_column(String(16))
    # Whether the evidence differs from the first capture, i.e. from what was cited
    differs_from_first: Mapped[bool | None]
    # Names of the soft-404 and other signals that fired
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    probe_id: Mapped[int | None] = mapped_column(ForeignKey("probes.id"))
    truncated: Mapped[str | None] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # The final response record: where `show` reads the snapshot from.
    warc_filename: Mapped[str | None] = mapped_column(String(255))
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)
    # Where the payload bytes are: the final response itself, or the original a revisit names.
    payload_filename: Mapped[str | None] = mapped_column(String(255))
    payload_offset: Mapped[int | None] = mapped_column(BigInteger)
    # Browser capture (crawler/browser/): None, not rendered; "rendered"; "capped" (rendered
    # at EVIDENCE_BROWSER_TIMEOUT, its network never idle); "failed" (see render_error)
    render: Mapped[str | None] = mapped_column(String(16))
    # Why a render failed: browser_missing, browser_crashed, render_failed...
    render_error: Mapped[str | None] = mapped_column(Text)
    # The rendered DOM's ``resource`` record (``urn:dom:<url>``): what the fingerprint was
    # made from, read back when an earlier capture is re-extracted. The screenshot and text
    # records are among the capture's records (``urn:screenshot:``, ``urn:text:``).
    dom_filename: Mapped[str | None] = mapped_column(String(255))
    dom_offset: Mapped[int | None] = mapped_column(BigInteger)
    run: Mapped[Run] = relationship(back_populates="captures")
    target: Mapped[Target] = relationship()
    records: Mapped[list[Record]] = relationship(
        back_populates="capture", cascade="all, delete-orphan", order_by="Record.position"
    )

    @property
    def snapshot(self) -> str | None:
        if self.warc_filename is None:
            return None
        return f"{self.warc_filename}#{self.warc_offset}"


class WarcFile(Base):
    """A closed WARC file and its SHA-256 at closing, for ``evidence verify``."""

    __tablename__ = "warc_files"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Timestamp(Base):
    """A time-stamping authority's token (RFC 3161) over a file's SHA-256: a closed WARC
    file's, or an exported WACZ package's (``crawler/timestamps/``). Rows are only added:
    a file stamped again (``evidence timestamp --all``) keeps every token."""

    __tablename__ = "timestamps"
    __table_args__ = (Index("ix_timestamps_file", "kind", "filename"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # warc | wacz
    kind: Mapped[str] = mapped_column(String(8))
    # A WARC file's name in the archive folder; a package's path as it was written.
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    tsa_url: Mapped[str] = mapped_column(Text)
    # The TSA's whole answer (TimeStampResp, DER), as in the ``.tsr`` file beside the file.
    reply: Mapped[bytes] = mapped_column(LargeBinary)
    # The time the TSA signed (genTime), and when this machine received the token.
    stamped_time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Probe(Base):
    """A random sibling of a cited URL, fetched to see how the site answers for a missing page."""

    __tablename__ = "probes"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    url: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    # As a capture's: the probe of a rendered page is rendered too
    render: Mapped[str | None] = mapped_column(String(16))
    records: Mapped[list[Record]] = relationship(back_populates="probe", order_by="Record.position")


class Record(Base):
    """One WARC record, written for a capture or for a probe."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_target_uri", "target_uri"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    probe_id: Mapped[int | None] = mapped_column(ForeignKey("probes.id", ondelete="CASCADE"))
    # Set on the exchanges of a web archive lookup (crawler/memento/): never a capture's.
    memento_id: Mapped[int | None] = mapped_column(ForeignKey("mementos.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # request | response | revisit | metadata
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    target_uri: Mapped[str] = mapped_column(Text)
    date: Mapped[datetime | None]
    content_type: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None]
    payload_digest: Mapped[str | None] = mapped_column(String(80))
    truncated: Mapped[str | None] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    capture: Mapped[Capture | None] = relationship(back_populates="records")
    probe: Mapped[Probe | None] = relationship(back_populates="records")
    memento: Mapped[MementoLookup | None] = relationship(back_populates="records")


class MementoLookup(Base):
    """One lookup of a cited URL in the web archives, for one cited date: what the archives
    held of the page when it was cited (``crawler/memento/``).

    Keyed by target and cited date, not by citation: every citation of a URL made on one
    day shares the memento, and citations are rewritten when a document is imported again.
    Rows are only added: the latest ``found`` or ``none`` row of a (target, cited date)
    is what is known; an ``unreachable`` one only until a later lookup answers
    (``crawler.store.mementos``).
    """

    __tablename__ = "mementos"
    __table_args__ = (Index("ix_mementos_target_cited", "target_id", "cited_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    cited_at: Mapped[date]
    looked_up_at: Mapped[datetime] = mapped_column(default=utcnow)
    # found | none | unreachable
    outcome: Mapped[str] = mapped_column(String(16))
    # The archive that holds the memento (found); the archives asked otherwise, one a line.
    archive: Mapped[str | None] = mapped_column(Text)
    # The memento a person can open (the archive's replay page) and its raw ``id_`` form,
    # whose bytes are archived here.
    memento_url: Mapped[str | None] = mapped_column(Text)
    raw_url: Mapped[str | None] = mapped_column(Text)
    memento_datetime: Mapped[datetime | None]
    # The URL the memento archives: the cited one, or where its archived redirects led.
    original_url: Mapped[str | None] = mapped_column(Text)
    # The archived answer's status (200 when found).
    http_status: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(Text)
    payload_digest: Mapped[str | None] = mapped_column(String(80))
    # Made as a live capture's (crawler/verdicts/fingerprint.py), with its basis.
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    basis: Mapped[str | None] = mapped_column(String(64))
    # Soft-404 signals of the memento (a found one has none that make it a "not found" page).
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Mementos passed over: archive, url, datetime, status, reason.
    skipped: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    # Why the archives could not be asked (unreachable), one per archive.
    error: Mapped[str | None] = mapped_column(Text)
    # The memento's response record, as a capture's: where `show --cited` reads it.
    warc_filename: Mapped[str | None] = mapped_column(String(255))
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)
    payload_filename: Mapped[str | None] = mapped_column(String(255))
    payload_offset: Mapped[int | None] = mapped_column(BigInteger)
    target: Mapped[Target] = relationship()
    records: Mapped[list[Record]] = relationship(
        back_populates="memento", cascade="all, delete-orphan", order_by="Record.position"
    )

    @property
    def snapshot(self) -> str | None:
        if self.warc_filename is None:
            return None
        return f"{self.warc_filename}#{self.warc_offset}"


class Ack(Base):
    """A person's review of a target's capture: news that only repeats it is not reported again.

    The acknowledged capture's state and text stay the reference until a capture differs
    from them (see ``crawler/store/acks.py``); the next real change is news again.
    """

    __tablename__ = "acks"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    acked_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[Target] = relationship()
    capture: Mapped[Capture] = relationship()


class Pin(Base):
    """A passage a cited page must hold for a citation (``evidence pin``; crawler/claims/).

    A pin names its URL's target and, as far as given, the document and footnote citing
    it: citations are re-derived on every import of a document, pins must outlive that.
    ``evidence unpin`` keeps the row, with when and why, for the audit history.
    """

    __tablename__ = "pins"
    __table_args__ = (Index("ix_pins_target", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    # None: every document (and footnote) citing the URL.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    footnote: Mapped[str | None] = mapped_column(String(64))
    quote: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    # "given" (`evidence pin`) or "document" (a quotation proposed from the document, `import --pin-quotes`)
    origin: Mapped[str] = mapped_column(String(16), default="given")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    removed_note: Mapped[str | None] = mapped_column(Text)
    target: Mapped[Target] = relationship()
    document: Mapped[Document | None] = relationship()


class PinResult(Base):
    """Whether one capture's text held one pin: ``holds`` (``matched`` at ``start:end`` of the
    extracted text), ``partial`` (``matched`` is the close passage, ``differs`` what differs)
    or ``lost`` (``nearest``: the best passage left); ``unknown`` when the capture answered
    but its text could not be had (cut, or no text layer).

    A row is of a capture of ours (``capture_id``) or of a web archive's memento of a cited
    date (``memento_id``): what the page said when it was cited. Only capture rows make news.
    """

    __tablename__ = "pin_results"
    __table_args__ = (
        UniqueConstraint("pin_id", "capture_id"),
        UniqueConstraint("pin_id", "memento_id", name="uq_pin_results_pin_memento"),
        Index("ix_pin_results_capture", "capture_id"),
        Index("ix_pin_results_memento", "memento_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    pin_id: Mapped[int] = mapped_column(ForeignKey("pins.id", ondelete="CASCADE"))
    # None for a text that is no capture of ours: then ``memento_id`` names it.
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"))
    memento_id: Mapped[int | None] = mapped_column(ForeignKey("mementos.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    matched: Mapped[str | None] = mapped_column(Text)
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    # [{"pinned": "100", "found": "40", "number": true}, ...]
    differs: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    nearest: Mapped[str | None] = mapped_column(Text)
