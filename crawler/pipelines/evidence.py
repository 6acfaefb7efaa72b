"""Item pipeline that judges each capture and records it in the evidence database.

Captures are committed in batches (``EVIDENCE_DB_BATCH_SIZE`` captures or
``EVIDENCE_DB_BATCH_SECONDS``, whichever comes first), each batch after one fsync of the
WARC file that holds its records: a committed row never points at bytes that are not
on disk, and a killed crawl loses at most one batch of rows, whose URLs the next run
fetches again.
"""

from __future__ import annotations

import logging
import time
from datetime import timezone
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy import insert, update
from twisted.internet import task

from crawler.db import open_database
from crawler.middlewares.warcrecorder import Hop
from crawler.models import Capture, Probe, Record, Target
from crawler.pipelines.history import Good, TargetHistory, load_histories
from crawler.snapshots import load_snapshot
from crawler.warc.metadata import metadata_record
from crawler.exceptions import ArchiveError
from crawler.warc.runstore import FATAL_STAT, record_closed, stop_for_archive_failure, store_for
from crawler.spiders.citations import CaptureItem, Fetched
from crawler.verdicts import Facts, History, judge
from crawler.verdicts.fingerprint import as_bytes, bytes_fingerprint, is_deferred, meaning
from crawler.verdicts.soft404 import ProbeAnswer, signals

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


class EvidencePipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.run_id = settings.getint("EVIDENCE_RUN_ID")
        if not self.run_id:
            raise NotConfigured("EVIDENCE_RUN_ID is not set: captures have no run to belong to")
        self.gone_after = settings.getint("EVIDENCE_GONE_AFTER")
        self.batch_size = max(settings.getint("EVIDENCE_DB_BATCH_SIZE"), 1)
        self.batch_seconds = settings.getfloat("EVIDENCE_DB_BATCH_SECONDS")
        self.sessions = open_database(settings.get("EVIDENCE_DB_URL"), create=False)
        self.stats = crawler.stats
        self.store = store_for(crawler)
        self.crawler = crawler
        # One row and one extracted text per probe URL, shared by the captures that used it.
        self._probes: dict[str, tuple[Probe, ProbeAnswer]] = {}
        # Probe rows are inserted when their batch commits, not when first seen: an early
        # INSERT would hold SQLite's write lock for the whole batch, and another crawl
        # process (``--processes``) writing the same file would wait that long each time.
        self._new_probes: list[Probe] = []
        self._probe_links: list[tuple[Capture, Probe]] = []
        self._histories: dict[str, TargetHistory] = {}
        # (target id, deferred fingerprint) -> its resolution, None if unreadable
        self._resolutions: dict[tuple[int, str], str | None] = {}
        self._batch: Session | None = None
        self._batch_items = 0
        # Captures of the open batch, each with its records as INSERT rows (insert_captures).
        self._pending: list[tuple[Capture, list[RecordRow]]] = []
        self._batch_started = 0.0
        self._timer: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidencePipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        urls = set(getattr(spider or self.crawler.spider, "targets", None) or [])
        with self.sessions() as session:
            self._histories = load_histories(session, urls, self.run_id, max(self.gone_after, 1))
        # A batch also ends by age when captures stop arriving (a slow last host).
        self._timer = task.LoopingCall(self._commit_if_due)
        self._timer.start(max(self.batch_seconds, 0.1), now=False)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self._commit()

    def _commit_if_due(self) -> None:
        if self._batch is not None and time.monotonic() - self._batch_started >= self.batch_seconds:
            self._commit()

    def process_item(self, item: CaptureItem, spider: Spider | None = None) -> CaptureItem:
        if self.stats.get_value(FATAL_STAT):
            # The archive failed: a capture recorded now could not point at its bytes.
            raise DropItem(f"not recorded, the archive failed: {item.url}")
        if self._batch is None:
            self._batch = self.sessions()
            self._batch.begin()
            self._batch_started = time.monotonic()
        capture, records = self._capture(self._batch, item)
        self._pending.append((capture, records))
        self._batch_items += 1
        if self._batch_items >= self.batch_size or time.monotonic() - self._batch_started >= self.batch_seconds:
            self._commit()
        self.stats.inc_value(f"evidence/state/{capture.state}")
        for name in capture.signals:
            self.stats.inc_value(f"evidence/signal/{name}")
        logger.info("%s %s (%s)", capture.state, item.url, capture.reason)
        # The body was needed for the verdict only; the WARC holds it.
        item.body = b""
        return item

    def _commit(self) -> None:
        """Make the batch's WARC records durable, then commit its rows."""
        session, pending, captures = self._batch, self._batch_items, self._pending
        probes, links = self._new_probes, self._probe_links
        self._batch, self._batch_items, self._pending = None, 0, []
        self._new_probes, self._probe_links = [], []
        if session is None:
            return
        with session:
            try:
                self.store.sync()
            except ArchiveError as exc:
                # Rows must not point at bytes that may not be on disk: the batch is
                # dropped and its URLs are fetched again by the next run.
                session.rollback()
                logger.error("%d captures not recorded: %s", pending, exc)
                stop_for_archive_failure(self.crawler, exc)
                return
            record_closed(self.crawler, session)
            if probes:
                session.add_all(probes)
                session.flush()
            for capture, probe in links:
                capture.probe_id = probe.id
            insert_captures(session, captures)
            session.commit()
        self.stats.inc_value("evidence/db/commits")

    def _capture(self, session: Session, item: CaptureItem) -> tuple[Capture, list[RecordRow]]:
        # A URL is captured once per run: its history is let go as it is used (a URL
        # that comes round again is read back from the database).
        history = self._histories.pop(item.url, None)
        if history is None:
            history = self._history(session, item.url)
        target_id = history.target_id
        last = item.hops[-1] if item.hops else None
        capture = Capture(
            run_id=self.run_id,
            target_id=target_id,
            checked_at=item.checked_at.astimezone(timezone.utc).replace(tzinfo=None),
            http_status=last.status if last else None,
            final_url=last.url if last else None,
            redirect_chain=[{"url": hop.url, "status": hop.status} for hop in item.hops],
            content_type=last.content_type if last else None,
            content_length=last.body_length if last else None,
            payload_digest=last.payload_digest if last else None,
            truncated=last.truncated if last else None,
            error_kind=item.error_kind,
            error=item.error,
            warc_filename=last.response.filename if last else None,
            warc_offset=last.response.offset if last else None,
            warc_length=last.response.length if last else None,
            payload_filename=last.payload_at[0] if last and last.payload_at else None,
            payload_offset=last.payload_at[1] if last and last.payload_at else None,
            signals=[],
        )
        records = record_rows(item.hops)

        previous = history.previous
        page = None
        # What the verdict compares: resolved fingerprints only, never a deferred one (below).
        judged, last_good = None, previous.fingerprint if previous else None
        # A 304 to our conditional request says the page is the archived original.
        present = last is not None and (200 <= last.status < 300 or last.record_type == "revisit" and last.status == 304)
        if last is not None and present:
            # Bytes identical to the last good capture mean the same text: no need to
            # extract it again, and no content signal can fire that did not fire then.
            same_bytes = previous is not None and previous.payload_digest == last.payload_digest
            probe = self._probe_answer(session, item.probe)
            if item.probe is not None:
                self._probe_links.append((capture, self._probes[item.probe.url][0]))
            if not same_bytes:
                # Text only tells something once there are other bytes to compare it
                # with: with no earlier good capture, it is extracted later, if ever
                # (crawler/verdicts/fingerprint.py). Unless a probe answered with a page
                # of the same kind, whose text the soft-404 signals compare with this one's.
                defer = _deferrable(probe) if previous is None else frozenset()
                page = meaning(item.body, last.content_type, item.content_encoding, item.checked_at, defer=defer)
                if is_deferred(page.fingerprint):
                    self.stats.inc_value(f"evidence/text/deferred/{page.kind}")
            capture.fingerprint = previous.fingerprint if same_bytes and previous else page.fingerprint if page else None
            capture.signals = signals(
                item.url,
                [(hop.url, hop.status) for hop in item.hops if not _retried(hop, item.hops)],
                last.content_type,
                previous.content_type if previous else None,
                page,
                probe,
                item.checked_at,
            )
            judged = capture.fingerprint
            if previous is not None and not same_bytes and is_deferred(previous.fingerprint):
                resolved = self._resolve(session, item.url, history.target_id, previous)
                if resolved is not None:
                    last_good = resolved
                else:
                    # The earlier text is out of reach: compare the bytes rather than
                    # calling the capture unchanged (or changed) on no evidence.
                    last_good = as_bytes(previous.fingerprint or "")
                    judged = bytes_fingerprint(item.body, item.content_encoding)
                    capture.signals = [*capture.signals, "previous_unreadable"]

        if last is not None and last.certificate is not None:
            capture.signals = [*capture.signals, *(f"tls_{p}" for p in last.certificate.problems)]
        capture.signals = [*capture.signals, *sorted({signal for hop in item.hops for signal in hop.signals})]
        if page is not None and not capture.truncated and page.coding == "cut":
            capture.truncated = "encoding"
            capture.signals = [*capture.signals, "content_coding_cut"]
        elif page is not None and page.coding == "bomb":
            capture.signals = [*capture.signals, "decompression_bomb"]

        facts = Facts(
            cited_url=item.url,
            http_status=200 if present else capture.http_status,
            final_url=capture.final_url,
            truncated=capture.truncated,
            error_kind=item.error_kind,
            redirected=any(300 <= hop.status < 400 for hop in item.hops[:-1]),
            payload_digest=capture.payload_digest,
            fingerprint=judged,
            signals=tuple(capture.signals),
        )
        past = History(
            last_good_fingerprint=last_good,
            last_good_payload_digest=previous.payload_digest if previous else None,
            recent=list(history.recent),
        )
        verdict = judge(facts, past, gone_after=self.gone_after)
        capture.state, capture.reason, capture.change = verdict.state, verdict.reason, verdict.change
        if capture.state in ("ok", "changed"):
            capture.differs_from_first = self._differs_from_first(session, item, history, capture.fingerprint)
        records.append(self._write_metadata(item, capture, history, position=len(records)))
        return capture, records

    def _differs_from_first(self, session: Session, item: CaptureItem, history: TargetHistory, mine: str | None) -> bool:
        """Whether this capture's meaning differs from that of the first good capture (what was cited)."""
        first = history.first
        if first is None or first.fingerprint == mine:
            return False
        ours, theirs = mine, first.fingerprint
        if is_deferred(theirs):
            theirs = self._resolve(session, item.url, history.target_id, first)
        if is_deferred(ours) and history.previous is not None and history.previous.fingerprint == ours:
            # Same bytes as the previous capture, whose text was never extracted.
            ours = self._resolve(session, item.url, history.target_id, history.previous)
        if theirs is None or ours is None or is_deferred(ours):
            # Some text is out of reach: compare the bytes.
            mine_bytes = as_bytes(mine) if is_deferred(mine) else bytes_fingerprint(item.body, item.content_encoding)
            return as_bytes(first.fingerprint or "") != mine_bytes
        return theirs != ours

    def _resolve(self, session: Session, url: str, target_id: int, good: Good) -> str | None:
        """The real fingerprint of an earlier capture whose text was deferred, read back
        from the WARC; None (and a warning) if its payload cannot be read back.

        Once per crawl and target: the result is cached, and written to every earlier
        capture of the target holding the deferred fingerprint (all of them hold the same
        bytes). Rewriting those rows, rather than leaving them deferred, keeps what the
        rows mean equal to what they meant before extraction was deferred:
        ``crawler.acks`` compares ``("present", fingerprint)`` of an acknowledged capture
        with later ones, and a later capture with the same text but other bytes holds the
        real text fingerprint, so an acknowledgement of a still-deferred capture would end
        on new per-request noise in a page or a re-generated PDF (and reports would stop
        showing it). The deferred form is a placeholder, not a judgement: no verdict ever
        compared it, and the WARC's metadata records do not hold fingerprints. A failed
        batch rolls the update back with the rest, leaving the rows deferred, which stays
        consistent.
        """
        deferred = good.fingerprint or ""
        key = (target_id, deferred)
        if key in self._resolutions:
            return self._resolutions[key]
        resolved: str | None = None
        try:
            if good.warc_filename is None or good.warc_offset is None:
                raise ArchiveError(f"capture {good.capture_id} has no WARC record in the database")
            archived = Capture(
                warc_filename=good.warc_filename,
                warc_offset=good.warc_offset,
                payload_filename=good.payload_filename,
                payload_offset=good.payload_offset,
            )
            snapshot = load_snapshot(self.store.directory, archived, decode=False)
            # The payload read back must be the one the deferred fingerprint names.
            if bytes_fingerprint(snapshot.body, snapshot.content_encoding) != as_bytes(deferred):
                raise ArchiveError(f"the payload archived in {good.warc_filename} is not the one capture {good.capture_id} recorded")
        except ArchiveError as exc:
            logger.warning(
                "%s: cannot read back the earlier capture %s from %s to compare its text; comparing bytes instead "
                "(signal previous_unreadable): %s",
                url, good.capture_id, good.warc_filename, exc,
            )
            self.stats.inc_value("evidence/text/unreadable")
        else:
            when = good.checked_at.replace(tzinfo=timezone.utc) if good.checked_at else None
            resolved = meaning(snapshot.body, snapshot.content_type, snapshot.content_encoding, when).fingerprint
            session.execute(
                update(Capture)
                .where(Capture.target_id == target_id, Capture.fingerprint == deferred)
                .values(fingerprint=resolved)
                .execution_options(synchronize_session=False)
            )
            self.stats.inc_value("evidence/text/resolved")
        self._resolutions[key] = resolved
        return resolved

    def _history(self, session: Session, url: str) -> TargetHistory:
        """A URL the crawl was not started with (not expected): read its history now."""
        histories = load_histories(session, {url}, self.run_id, max(self.gone_after, 1))
        if url not in histories:
            target = Target(url=url)
            session.add(target)
            session.flush()
            histories[url] = TargetHistory(target.id)
        return histories[url]

    def _write_metadata(self, item: CaptureItem, capture: Capture, history: TargetHistory, position: int) -> RecordRow:
        """A WARC ``metadata`` record saying why this capture exists and what it showed,
        so the WARC alone tells the story; durable before the row that points at it.
        Returns the record's row."""
        cited_by = history.cited_by
        last = item.hops[-1] if item.hops else None
        record = metadata_record(
            cited_url=item.url,
            date=item.checked_at,
            run_id=self.run_id,
            cited_by=cited_by,
            verdict=(capture.state, capture.reason, capture.change, list(capture.signals)),
            http_status=capture.http_status,
            final_url=capture.final_url,
            error=capture.error,
            concurrent_to=last.response.record_id if last else None,
            certificate=last.certificate if last else None,
        )
        try:
            (where,) = self.store.write([record])
        except ArchiveError as exc:
            stop_for_archive_failure(self.crawler, exc)
            raise DropItem(str(exc)) from exc
        return _row(
            position=position,
            record_type="metadata",
            record_id=where.record_id,
            target_uri=record.target_uri or "",
            date=item.checked_at.astimezone(timezone.utc).replace(tzinfo=None),
            filename=where.filename,
            offset=where.offset,
            length=where.length,
        )

    def _probe_answer(self, session: Session, fetched: Fetched | None) -> ProbeAnswer | None:
        if fetched is None:
            return None
        if fetched.url not in self._probes:
            last = fetched.hops[-1] if fetched.hops else None
            page = meaning(fetched.body, last.content_type, fetched.content_encoding, fetched.checked_at) if last else None
            row = Probe(
                run_id=self.run_id,
                url=fetched.url,
                http_status=last.status if last else None,
                final_url=last.url if last else None,
                fingerprint=page.fingerprint if page else None,
                error_kind=fetched.error_kind,
            )
            row.records = [Record(**record) for record in record_rows(fetched.hops)]
            self._new_probes.append(row)
            answer = ProbeAnswer(fetched.url, row.http_status, row.final_url, page)
            self._probes[fetched.url] = (row, answer)
            fetched.body = b""
        return self._probes[fetched.url][1]


_CAPTURE_COLUMNS = [column.key for column in Capture.__table__.columns if column.key != "id"]
_RECORD_COLUMNS = [column.key for column in Record.__table__.columns if column.key != "id"]
_CAPTURES = Capture.metadata.tables[Capture.__tablename__]
_INSERT_CAPTURES = insert(_CAPTURES).returning(_CAPTURES.c.id, sort_by_parameter_order=True)
_INSERT_RECORDS = insert(Record.metadata.tables[Record.__tablename__])

#: A ``records`` row to be inserted: every column but ``id``, keyed by name.
RecordRow = dict[str, Any]


def insert_captures(session: Session, captures: list[tuple[Capture, list[RecordRow]]]) -> None:
    """Insert a batch of captures and their records as two multi-row INSERTs.

    The captures are built as ORM objects but never added to the session: its unit of
    work cost twice as much per capture as these statements (0.49 against 0.28 ms). The
    statements are Core ones on the session's connection: the ORM's bulk INSERT path
    costs another 0.04 ms per capture, for nothing used here. Values are read from the
    objects' ``__dict__``, where an attribute never set reads as None, as ``getattr``
    would (without its instrumentation). Records are plain rows from the start: as ORM
    objects on ``capture.records`` each cost an instrumented construction and two
    relationship events (5% of a crawl).
    """
    if not captures:
        return
    connection = session.connection()
    ids = connection.execute(
        _INSERT_CAPTURES, [{key: capture.__dict__.get(key) for key in _CAPTURE_COLUMNS} for capture, _ in captures]
    ).scalars().all()
    rows = []
    for (capture, records), capture_id in zip(captures, ids, strict=True):
        capture.id = capture_id
        for record in records:
            record["capture_id"] = capture_id
            rows.append(record)
    if rows:
        connection.execute(_INSERT_RECORDS, rows)


_TEXT_KINDS = frozenset({"html", "pdf"})


def _deferrable(probe: ProbeAnswer | None) -> frozenset[str]:
    """The kinds of page whose text need not be extracted now: all but the kind a probe
    answered 2xx with, whose text the soft-404 signals compare with the page's."""
    if probe is None or probe.status is None or not 200 <= probe.status < 300 or probe.meaning is None:
        return _TEXT_KINDS
    return _TEXT_KINDS - {probe.meaning.kind}


def _retried(hop: Hop, hops: list[Hop]) -> bool:
    """A failed attempt that was retried is not a step of the redirect chain."""
    return hop is not hops[-1] and not 300 <= hop.status < 400


def _row(**values: Any) -> RecordRow:
    row: RecordRow = dict.fromkeys(_RECORD_COLUMNS)
    row.update(values)
    return row


def record_rows(hops: list[Hop]) -> list[RecordRow]:
    """The rows of a fetch's archived records: per hop its response (or revisit) and its request."""
    rows = []
    for position, hop in enumerate(hops):
        date = hop.started.astimezone(timezone.utc).replace(tzinfo=None)
        rows.append(
            _row(
                position=2 * position,
                record_type=hop.record_type,
                record_id=hop.response.record_id,
                target_uri=hop.url,
                date=date,
                content_type=hop.content_type,
                etag=hop.etag,
                last_modified=hop.last_modified,
                http_status=hop.status,
                payload_digest=hop.payload_digest,
                truncated=hop.truncated,
                filename=hop.response.filename,
                offset=hop.response.offset,
                length=hop.response.length,
            )
        )
        rows.append(
            _row(
                position=2 * position + 1,
                record_type="request",
                record_id=hop.request.record_id,
                target_uri=hop.url,
                date=date,
                filename=hop.request.filename,
                offset=hop.request.offset,
                length=hop.request.length,
            )
        )
    return rows
