"""Which records an export or index covers: every capture, or one document's since a time,
with the citation-time copies its cited URLs rest on.

A memento found in a web archive (``crawler/store/mementos.py``) goes along whole: every
record of its lookup (the TimeMaps asked, the archived redirects followed, the mementos
fetched and passed over, the memento itself with its request, and the metadata record
naming it). The memento alone would show what the page said; the rest shows why that copy
was chosen, which is what an auditor checks before trusting ``since_citation``. They are
indexed under the archive's own ``id_`` URLs and are never pages: nobody cited them.

A rendered capture (``crawler/browser/``) goes along whole too: every exchange its page made
(scripts, styles, images, the JSON its text was built from, each with its request and
redirects), with the originals of those archived as revisits, and its ``resource`` records
(``urn:screenshot:``, ``urn:text:``, ``urn:dom:``). Only the cited URL is a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import NotFound
from crawler.export.cdxj import IndexEntry
from crawler.reports.queries import document_label
from crawler.store.mementos import known_mementos
from crawler.store.models import Capture, Citation, Document, MementoLookup, Record, Target


@dataclass
class Page:
    url: str
    date: datetime
    title: str


@dataclass
class Selection:
    #: every record to carry, in archive order (originals of revisits included)
    records: list[Record] = field(default_factory=list)
    #: one page per cited URL: its latest capture with an archived answer
    pages: list[Page] = field(default_factory=list)
    title: str = "evidence"
    #: how many of ``records`` are web archive lookups' (the citation-time copies)
    memento_records: int = 0


def select_records(
    sessions: sessionmaker[Session], document: str | None = None, since: datetime | None = None
) -> Selection:
    with sessions() as session:
        documents = list(session.scalars(select(Document).order_by(Document.id)))
        if document is not None:
            documents = [d for d in documents if document in (d.name, document_label(d.name))]
            if not documents:
                raise NotFound(f"no document named {document!r} in the database; `evidence status` lists them")
        target_ids = set(
            session.scalars(select(Citation.target_id).where(Citation.document_id.in_([d.id for d in documents])))
        )
        query = select(Capture).where(Capture.target_id.in_(target_ids)).order_by(Capture.id)
        if since is not None:
            query = query.where(Capture.checked_at >= since)
        captures = list(session.scalars(query))
        capture_ids = [c.id for c in captures]
        records = list(session.scalars(select(Record).where(Record.capture_id.in_(capture_ids))))
        mementos = _found_mementos(session, target_ids, since)
        lookup_records = list(session.scalars(select(Record).where(Record.memento_id.in_([m.id for m in mementos]))))
        records += lookup_records
        # A revisit is only replayable with the record holding its payload.
        wanted = {(c.payload_filename, c.payload_offset) for c in captures if c.payload_filename}
        wanted |= {(m.payload_filename, m.payload_offset) for m in mementos if m.payload_filename}
        have = {(r.filename, r.offset) for r in records}
        for filename, offset in wanted - have:
            original = session.scalar(select(Record).where(Record.filename == filename, Record.offset == offset))
            if original is not None:
                records.append(original)
        records += _originals_of_revisits(session, records)
        urls = dict(session.execute(select(Target.id, Target.url).where(Target.id.in_(target_ids))).all())
        latest: dict[int, Capture] = {}
        for capture in captures:
            if capture.warc_filename is not None:
                latest[capture.target_id] = capture
        by_location: dict[tuple[str | None, int | None], Record] = {(r.filename, r.offset): r for r in records}
        pages = [Page(urls[t], _page_date(c, by_location), urls[t]) for t, c in sorted(latest.items())]
        title = documents[0].title if len(documents) == 1 and documents[0].title else "evidence"
    unique = {(r.filename, r.offset): r for r in records}
    of_lookups = sum(1 for r in unique.values() if r.memento_id is not None)
    return Selection(records=sorted(unique.values(), key=lambda r: (r.filename, r.offset)), pages=pages, title=title,
                     memento_records=of_lookups)


def _originals_of_revisits(session: Session, records: list[Record]) -> list[Record]:
    """The response records that revisits among ``records`` stand for and that are not among them.

    A capture names its own payload's record, but a rendered page's sub-resources (scripts,
    styles, the JSON its text is built from) are rows of their own: a script unchanged since
    last run is archived as a revisit of last run's response, and without that response the
    replayed page runs no script. The recorder makes a revisit of the latest complete 200
    response of the same URL with the same payload digest, so that is the record looked for."""
    present = {(r.filename, r.offset) for r in records}
    revisits = [r for r in records if r.record_type == "revisit" and r.payload_digest]
    if not revisits:
        return []
    candidates: dict[tuple[str, str], list[Record]] = {}
    uris = sorted({r.target_uri for r in revisits})
    for start in range(0, len(uris), 500):
        query = select(Record).where(
            Record.record_type == "response", Record.target_uri.in_(uris[start:start + 500]),
            Record.payload_digest.is_not(None),
        ).order_by(Record.id)
        for row in session.scalars(query):
            candidates.setdefault((row.target_uri, row.payload_digest or ""), []).append(row)
    found: dict[tuple[str, int], Record] = {}
    for revisit in revisits:
        earlier = [r for r in candidates.get((revisit.target_uri, revisit.payload_digest or ""), []) if r.id < revisit.id]
        if not earlier:
            continue
        original = earlier[-1]
        if (original.filename, original.offset) not in present:
            found[(original.filename, original.offset)] = original
    return list(found.values())


def _found_mementos(session: Session, target_ids: set[int], since: datetime | None) -> list[MementoLookup]:
    """The found mementos the targets' cited dates rest on (what status and the report use),
    looked up at or after ``since`` as captures are checked at or after it. A lookup that
    ``lookup --refresh`` has replaced is what no report cites any more, so it stays out."""
    found = [row for row in known_mementos(session, target_ids).values() if row.outcome == "found"]
    return sorted((row for row in found if since is None or row.looked_up_at >= since), key=lambda row: row.id)


def _page_date(capture: Capture, records: dict[tuple[str | None, int | None], Record]) -> datetime:
    """When to open the page: a 304 re-check replays as the 304 it was, so the page opens
    at the capture that holds its body."""
    if capture.http_status == 304:
        original = records.get((capture.payload_filename, capture.payload_offset))
        if original is not None and original.date is not None:
            return original.date
    return capture.checked_at


def index_entries(records: list[Record], locations: dict[tuple[str, int], tuple[str, int, int]] | None = None) -> list[IndexEntry]:
    """Entries for the replayable records; ``locations`` maps old (file, offset) to new ones.

    ``resource`` records are indexed too, under their own ``urn:`` URIs as pywb's indexer
    keys them: a rendered capture's screenshot, text and DOM (``urn:screenshot:<url>``...)
    can then be fetched from a replay server or ReplayWeb.page like any archived URL."""
    entries = []
    for record in records:
        if record.record_type not in ("response", "revisit", "resource") or record.date is None:
            continue
        filename, offset, length = (locations or {}).get(
            (record.filename, record.offset), (record.filename, record.offset, record.length)
        )
        entries.append(
            IndexEntry(
                url=record.target_uri,
                date=record.date,
                record_type=record.record_type,
                http_status=record.http_status,
                content_type=record.content_type,
                payload_digest=record.payload_digest,
                filename=filename,
                offset=offset,
                length=length,
            )
        )
    return entries
