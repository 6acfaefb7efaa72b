"""Item pipeline that records each capture in the evidence database, judged by
``crawler.verdicts.capture``.

Captures are committed in batches (``EVIDENCE_DB_BATCH_SIZE`` captures or
``EVIDENCE_DB_BATCH_SECONDS``, whichever comes first), each batch after one fsync of the
WARC file that holds its records: a committed row never points at bytes that are not
on disk, and a killed crawl loses at most one batch of rows, whose URLs the next run
fetches again.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy import insert, update
from twisted.internet import task

from crawler.claims.check import PinChecker, Result, check_text, text_of
from crawler.claims.store import active_pins, last_checked, record_memento_results, record_results
from crawler.store.db import open_database
from crawler.warc.recorder import Hop
from crawler.memento import Archive, Found, Unreachable, format_timestamp
from crawler.store.models import Capture, MementoLookup, Probe, Record, Target
from crawler.crawl.history import Good, TargetHistory, load_histories
from crawler.warc.metadata import memento_record, metadata_record
from crawler.warc.rendered import DOM_PREFIX, rendered_records
from crawler.exceptions import ArchiveError
from crawler.warc.runstore import FATAL_STAT, record_closed, stop_for_archive_failure, store_for
from crawler.crawl.spider import CaptureItem, CitationSpider, Fetched
from crawler.crawl.lookups import MementoItem
from crawler.verdicts.capture import DOM_TYPE, CaptureJudge, Earlier, dom_meaning, is_present, rendered_of
from crawler.verdicts.fingerprint import Meaning, Noise, is_current, is_deferred, meaning
from crawler.verdicts.soft404 import ProbeAnswer

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
        # Lookups of the open batch (crawler/crawl/lookups.py), added when it commits.
        self._mementos: list[MementoLookup] = []
        self._histories: dict[str, TargetHistory] = {}
        self.judge = CaptureJudge(self.store.directory, gone_after=self.gone_after, count=self.stats.inc_value)
        # Earlier rows already rewritten to a rebased result in this crawl
        # (``CaptureJudge.rebased_key``).
        self._rewritten: set[tuple[int, str, str | None, int]] = set()
        self.refetch = settings.getbool("EVIDENCE_NOISE_REFETCH")
        # Per URL: the archived hops of its second fetch, recorded with its capture.
        self._second: dict[str, Fetched] = {}
        self._batch: Session | None = None
        self._batch_items = 0
        # Captures of the open batch, each with its records as INSERT rows (insert_captures).
        self._pending: list[tuple[Capture, list[RecordRow]]] = []
        self._batch_started = 0.0
        self._timer: task.LoopingCall | None = None
        # Pinned passages, checked on every capture of their URL; the open batch's results.
        self.pins = PinChecker({}, {})
        self._pin_results: list[tuple[Capture, list[tuple[int, Result]]]] = []
        # The open batch's mementos found, with their pins' results (whether the passage was
        # on the page when it was cited).
        self._memento_pins: list[tuple[MementoLookup, list[tuple[int, Result]]]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidencePipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        urls = set(getattr(spider or self.crawler.spider, "targets", None) or [])
        with self.sessions() as session:
            self._histories = load_histories(session, urls, self.run_id, max(self.gone_after, 1))
            self.pins = PinChecker(active_pins(session), last_checked(session))
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

    async def process_item(self, item: CaptureItem | MementoItem, spider: Spider | None = None) -> CaptureItem | MementoItem:
        if self.stats.get_value(FATAL_STAT):
            # The archive failed: a capture recorded now could not point at its bytes.
            url = item.task.url if isinstance(item, MementoItem) else item.url
            raise DropItem(f"not recorded, the archive failed: {url}")
        if isinstance(item, MementoItem):
            return self._record_memento(item)
        if self.refetch:
            await self._learn_noise(item)
        return self._record(item)

    def _open_batch(self) -> Session:
        if self._batch is None:
            self._batch = self.sessions()
            self._batch.begin()
            self._batch_started = time.monotonic()
        return self._batch

    def _counted(self) -> None:
        self._batch_items += 1
        if self._batch_items >= self.batch_size or time.monotonic() - self._batch_started >= self.batch_seconds:
            self._commit()

    def _record_memento(self, item: MementoItem) -> MementoItem:
        """A lookup's row, its exchanges' records and, for a memento found, the metadata
        record naming it; committed with the batch, after the WARC fsync, as captures are."""
        self._open_batch()
        row = self._memento(item)
        self._mementos.append(row)
        pins = self.pins.pins.get(item.task.target_id)
        if pins and row.outcome == "found":
            # The text the lookup extracted from the memento, as a capture's is.
            text = text_of(item.page) if item.page is not None else None
            self._memento_pins.append((row, list(check_text(pins, text).items())))
        self._counted()
        self.stats.inc_value(f"evidence/memento/{row.outcome}")
        logger.info("memento %s %s (cited %s)", row.outcome, item.task.url, item.task.cited_at)
        item.body = b""
        return item

    def _memento(self, item: MementoItem) -> MementoLookup:
        outcome, task = item.outcome, item.task
        row = MementoLookup(
            run_id=self.run_id, target_id=task.target_id, cited_at=task.cited_at, looked_up_at=_naive(item.started),
            outcome=outcome.kind, signals=item.signals,
            skipped=[
                {"archive": s.archive, "url": s.url, "datetime": format_timestamp(s.datetime) if s.datetime else None,
                 "status": s.status, "reason": s.reason}
                for s in outcome.skipped
            ],
        )
        rows = record_rows(item.hops)
        if isinstance(outcome, Found) and item.memento is not None:
            hop, page = item.memento, item.page
            stamp = format_timestamp(outcome.memento_datetime)
            row.archive, row.raw_url = outcome.archive, outcome.memento_url
            # The archive's own replay page, for a person: the same memento without id_.
            row.memento_url = Archive(outcome.archive).memento(stamp, outcome.original_url, modifier="")
            row.memento_datetime = _naive(outcome.memento_datetime)
            row.original_url, row.http_status = outcome.original_url, outcome.status
            row.content_type, row.payload_digest = hop.content_type, hop.payload_digest
            if page is not None:
                row.fingerprint = page.fingerprint
                row.basis = None if is_deferred(page.fingerprint) else page.basis
            row.warc_filename, row.warc_offset, row.warc_length = hop.response.filename, hop.response.offset, hop.response.length
            if hop.payload_at is not None:
                row.payload_filename, row.payload_offset = hop.payload_at
            record = memento_record(
                cited_url=task.url, cited_at=task.cited_at.isoformat(), date=item.started, run_id=self.run_id,
                archive=outcome.archive, memento_url=row.memento_url, raw_url=outcome.memento_url,
                memento_datetime=outcome.memento_datetime, original_url=outcome.original_url, signals=item.signals,
                skipped=len(outcome.skipped), concurrent_to=hop.response.record_id,
            )
            try:
                (where,) = self.store.write([record])
            except ArchiveError as exc:
                stop_for_archive_failure(self.crawler, exc)
                raise DropItem(str(exc)) from exc
            rows.append(_row(
                position=len(rows), record_type="metadata", record_id=where.record_id, target_uri=record.target_uri or "",
                date=_naive(item.started), filename=where.filename, offset=where.offset, length=where.length,
            ))
        elif isinstance(outcome, Unreachable):
            row.archive, row.error = "\n".join(outcome.archives), "; ".join(outcome.reasons)
        elif not isinstance(outcome, Found):
            row.archive = "\n".join(outcome.archives)
        row.records = [Record(**{**values, "capture_id": None}) for values in rows]
        return row

    def _record(self, item: CaptureItem) -> CaptureItem:
        self._open_batch()
        assert self._batch is not None
        capture, records = self._capture(self._batch, item)
        self._pending.append((capture, records))
        self._counted()
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
        probes, links, mementos = self._new_probes, self._probe_links, self._mementos
        pinned, self._pin_results = self._pin_results, []
        memento_pins, self._memento_pins = self._memento_pins, []
        self._batch, self._batch_items, self._pending = None, 0, []
        self._new_probes, self._probe_links, self._mementos = [], [], []
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
            session.add_all(mementos)
            if memento_pins:
                session.flush()
            for memento, memento_results in memento_pins:
                record_memento_results(session, memento.id, memento_results, memento.looked_up_at)
            for capture, results in pinned:
                record_results(session, [(pin_id, capture.id, result) for pin_id, result in results], capture.checked_at)
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
            error_kind=item.error_kind,
            error=item.error,
            warc_filename=last.response.filename if last else None,
            warc_offset=last.response.offset if last else None,
            warc_length=last.response.length if last else None,
            payload_filename=last.payload_at[0] if last and last.payload_at else None,
            payload_offset=last.payload_at[1] if last and last.payload_at else None,
        )
        records = record_rows(item.hops)
        if item.rendered is not None:
            records.extend(self._write_rendered(item, capture, position=len(records)))
        probe = None
        # The probe is recorded with the captures that used it: those judged present.
        if is_present(last):
            probe = self._probe_answer(session, item.probe)
            if item.probe is not None:
                self._probe_links.append((capture, self._probes[item.probe.url][0]))

        def rebase(good: Good, noise: Noise) -> Earlier | None:
            return self._rebase(session, item.url, target_id, good, noise)

        judged = self.judge.judge(item, history, probe, rebase, keep_text=self.pins.wants_text(target_id))
        capture.fingerprint, capture.basis, capture.boilerplate = judged.fingerprint, judged.basis, judged.boilerplate
        capture.signals, capture.truncated = judged.signals, judged.truncated
        capture.state, capture.reason, capture.change = judged.state, judged.reason, judged.change
        capture.differs_from_first = judged.differs_from_first
        if self.pins.wants_text(target_id):
            # A rendered page's passages are looked for in its rendered DOM, and its shell's
            # digest says nothing of them: no "already checked on these bytes" shortcut.
            dom = rendered_of(item)
            results = self.pins.check(
                target_id, state=judged.state, truncated=judged.truncated,
                payload_digest=capture.payload_digest if dom is None else None,
                page=judged.page, body=item.body if dom is None else dom.dom,
                content_type=capture.content_type if dom is None else DOM_TYPE,
                content_encoding=item.content_encoding if dom is None else None, when=item.checked_at,
            )
            if results:
                self._pin_results.append((capture, results))
        noise = self.judge.grown_noise(target_id)
        if noise is not None:
            session.execute(update(Target).where(Target.id == target_id).values(noise=sorted(noise.templates)))
        records.append(self._write_metadata(item, capture, history, position=len(records)))
        # The second fetch of a noise check belongs to this capture: archived, it is part
        # of what the verdict rests on.
        again = self._second.pop(item.url, None)
        if again is not None:
            records.extend(record_rows(again.hops, start=len(records)))
            if again.rendered is not None:
                # And what the second render showed, archived as the first render's is.
                records.extend(self._rendered_rows(again, len(records))[0])
        return capture, records

    async def _learn_noise(self, item: CaptureItem) -> None:
        """Fetch a page that looks changed once more, for the judge to learn its noise
        from (``CaptureJudge.worth_a_second_fetch``)."""
        history = self._histories.get(item.url)
        if history is None:
            return
        page = self.judge.worth_a_second_fetch(item, history)
        if page is None:
            return
        spider = self.crawler.spider
        if not isinstance(spider, CitationSpider):
            return
        again = await spider.fetch_again(item.url, render=rendered_of(item) is not None)
        self._second[item.url] = again
        self.stats.inc_value("evidence/noise/refetched")
        self.judge.learn_noise(item, history, page, again)

    def _rebase(self, session: Session, url: str, target_id: int, good: Good, noise: Noise) -> Earlier | None:
        """``CaptureJudge.earlier``, with every earlier capture of the target that holds the same
        fingerprint under the same rules rewritten to the result.

        Those captures hold the same text (or, deferred, the same bytes). Rewriting the
        rows, rather than leaving them under the old rules, keeps what they mean equal to
        what a fingerprint means now: ``crawler.store.acks`` compares ``("present",
        fingerprint)`` of an acknowledged capture with later ones, and a later capture
        with the same text holds the fingerprint under the rules in force, so an
        acknowledgement of a capture left under old rules would end on an unchanged page
        (and reports would show it again). A stored fingerprint is never a judgement of
        its own: verdicts were recorded with their state and change, and the WARC's
        metadata records hold no fingerprints. A failed batch rolls the update back with
        the rest, leaving the rows as they were, which stays consistent.
        """
        earlier = self.judge.earlier(url, target_id, good, noise)
        key = self.judge.rebased_key(target_id, good, noise)
        if earlier is None or key in self._rewritten or is_current(good.fingerprint, good.basis, noise):
            return earlier
        self._rewritten.add(key)
        same_rules = Capture.basis.is_(None) if good.basis is None else Capture.basis == good.basis
        # Only captures judged as it was: a rendered one's fingerprint is its DOM's, an unrendered one's its HTML's.
        same_source = Capture.dom_filename.is_not(None) if good.rendered else Capture.dom_filename.is_(None)
        session.execute(
            update(Capture)
            .where(Capture.target_id == target_id, Capture.fingerprint == good.fingerprint, same_rules, same_source)
            .values(fingerprint=earlier.fingerprint, boilerplate=earlier.boilerplate,
                    basis=None if is_deferred(earlier.fingerprint) else earlier.basis)
            .execution_options(synchronize_session=False)
        )
        return earlier

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
            render=(item.rendered.outcome, item.rendered.error_kind) if item.rendered is not None else None,
            refused=[(refused.url, refused.reason) for refused in item.rendered.refused] if item.rendered is not None else (),
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

    def _write_rendered(self, item: CaptureItem, capture: Capture, position: int) -> list[RecordRow]:
        """The rendered page's records (``_rendered_rows``) and the capture's ``render`` columns."""
        rendered = item.rendered
        assert rendered is not None
        capture.render = rendered.outcome
        capture.render_error = rendered.error_kind
        rows, dom = self._rendered_rows(item, position)
        if dom is not None:
            capture.dom_filename, capture.dom_offset = dom
        return rows

    def _rendered_rows(self, fetched: Fetched, position: int) -> tuple[list[RecordRow], tuple[str, int] | None]:
        """A rendered page's records: its ``resource`` records (screenshot, DOM, text; see
        crawler/warc/rendered.py), written now, and its requests' exchanges, archived by the
        recorder as they were made. Returns their rows and where the DOM record is."""
        rendered = fetched.rendered
        assert rendered is not None
        last = fetched.hops[-1] if fetched.hops else None
        records = rendered_records(fetched.url if last is None else last.url, rendered, rendered.started,
                                   last.response.record_id if last else None)
        try:
            written = self.store.write(records) if records else []
        except ArchiveError as exc:
            stop_for_archive_failure(self.crawler, exc)
            raise DropItem(str(exc)) from exc
        rows: list[RecordRow] = []
        dom: tuple[str, int] | None = None
        date = _naive(rendered.started)
        for record, where in zip(records, written, strict=True):
            if record.target_uri and record.target_uri.startswith(DOM_PREFIX):
                dom = (where.filename, where.offset)
            rows.append(_row(
                position=position + len(rows), record_type="resource", record_id=where.record_id,
                target_uri=record.target_uri or "", date=date, content_type=record.content_type,
                payload_digest=record.payload_digest, filename=where.filename, offset=where.offset, length=where.length,
            ))
        rows.extend(record_rows(rendered.resources, start=position + len(rows)))
        return rows, dom

    def _probe_answer(self, session: Session, fetched: Fetched | None) -> ProbeAnswer | None:
        if fetched is None:
            return None
        if fetched.url not in self._probes:
            last = fetched.hops[-1] if fetched.hops else None
            # A rendered probe is judged, as its page is, on what its script built.
            dom = rendered_of(fetched)
            page: Meaning | None
            if dom is not None:
                page = dom_meaning(dom, fetched.checked_at)
            else:
                page = meaning(fetched.body, last.content_type, fetched.content_encoding, fetched.checked_at) if last else None
            row = Probe(
                run_id=self.run_id,
                url=fetched.url,
                http_status=last.status if last else None,
                final_url=last.url if last else None,
                fingerprint=page.fingerprint if page else None,
                error_kind=fetched.error_kind,
                render=fetched.rendered.outcome if fetched.rendered is not None else None,
            )
            rows = record_rows(fetched.hops)
            if fetched.rendered is not None:
                # What the browser showed of the probe is archived as a page's is: the soft-404
                # signals compare the page with it, and the WARC alone should tell why.
                rows += self._rendered_rows(fetched, len(rows))[0]
            row.records = [Record(**record) for record in rows]
            self._new_probes.append(row)
            answer = ProbeAnswer(fetched.url, row.http_status, row.final_url, page, rendered=dom is not None)
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


def _naive(when: datetime) -> datetime:
    """A time as the database holds it: UTC, without a zone."""
    return when.astimezone(timezone.utc).replace(tzinfo=None)


def _row(**values: Any) -> RecordRow:
    row: RecordRow = dict.fromkeys(_RECORD_COLUMNS)
    row.update(values)
    return row


def record_rows(hops: list[Hop], start: int = 0) -> list[RecordRow]:
    """The rows of a fetch's archived records: per hop its response (or revisit) and its
    request, numbered from ``start``."""
    rows = []
    for index, hop in enumerate(hops):
        date = hop.started.astimezone(timezone.utc).replace(tzinfo=None)
        rows.append(
            _row(
                position=start + 2 * index,
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
                position=start + 2 * index + 1,
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
