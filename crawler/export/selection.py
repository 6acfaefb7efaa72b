"""Which records an export or index covers: every capture, or one document's since a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import NotFound
from crawler.export.cdxj import IndexEntry
from crawler.reports.queries import document_label
from crawler.store.models import Capture, Citation, Document, Record, Target


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
        # A revisit is only replayable with the record holding its payload.
        wanted = {(c.payload_filename, c.payload_offset) for c in captures if c.payload_filename}
        have = {(r.filename, r.offset) for r in records}
        for filename, offset in wanted - have:
            original = session.scalar(select(Record).where(Record.filename == filename, Record.offset == offset))
            if original is not None:
                records.append(original)
        urls = dict(session.execute(select(Target.id, Target.url).where(Target.id.in_(target_ids))).all())
        latest: dict[int, Capture] = {}
        for capture in captures:
            if capture.warc_filename is not None:
                latest[capture.target_id] = capture
        by_location: dict[tuple[str | None, int | None], Record] = {(r.filename, r.offset): r for r in records}
        pages = [Page(urls[t], _page_date(c, by_location), urls[t]) for t, c in sorted(latest.items())]
        title = documents[0].title if len(documents) == 1 and documents[0].title else "evidence"
    unique = {(r.filename, r.offset): r for r in records}
    return Selection(records=sorted(unique.values(), key=lambda r: (r.filename, r.offset)), pages=pages, title=title)


def _page_date(capture: Capture, records: dict[tuple[str | None, int | None], Record]) -> datetime:
    """When to open the page: a 304 re-check replays as the 304 it was, so the page opens
    at the capture that holds its body."""
    if capture.http_status == 304:
        original = records.get((capture.payload_filename, capture.payload_offset))
        if original is not None and original.date is not None:
            return original.date
    return capture.checked_at


def index_entries(records: list[Record], locations: dict[tuple[str, int], tuple[str, int, int]] | None = None) -> list[IndexEntry]:
    """Entries for the replayable records; ``locations`` maps old (file, offset) to new ones."""
    entries = []
    for record in records:
        if record.record_type not in ("response", "revisit") or record.date is None:
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
