"""Item pipeline that judges each capture and records it in the evidence database.

Captures are committed in batches (``EVIDENCE_DB_BATCH_SIZE`` captures or
``EVIDENCE_DB_BATCH_SECONDS``, whichever comes first), each batch after one fsync of the
WARC file that holds its records: a committed row never points at bytes that are not
on disk, and a killed crawl loses at most one batch of rows, whose URLs the next run
fetches again.
"""

from __future__ import annotations

import dataclasses
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
from crawler.spiders.citations import CaptureItem, CitationSpider, Fetched
from crawler.verdicts import Facts, History, judge
from crawler.verdicts.fingerprint import (
    Meaning,
    Noise,
    as_bytes,
    basis_of,
    bytes_fingerprint,
    is_current,
    is_deferred,
    meaning,
    text_fingerprint,
)
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
        # (target id, fingerprint, basis, noise size) of an earlier capture -> its
        # fingerprints under the rules in force, None if its payload is unreadable
        self._rebased: dict[tuple[int, str, str | None, int], Earlier | None] = {}
        # Rows already rewritten to a rebased result in this crawl (same keys).
        self._rewritten: set[tuple[int, str, str | None, int]] = set()
        self.refetch = settings.getbool("EVIDENCE_NOISE_REFETCH")
        # Per target: the noise in force, and the targets whose noise grew this crawl.
        self._noise: dict[int, Noise] = {}
        self._noise_grew: set[int] = set()
        # Per URL: its page as judged before the second fetch (not extracted twice).
        self._prepared: dict[str, Meaning] = {}
        # URLs whose second fetch taught something this crawl (signal ``noise_learned``).
        self._learned: set[str] = set()
        # Per URL: the archived hops of its second fetch, recorded with its capture.
        self._second: dict[str, list[Hop]] = {}
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

    async def process_item(self, item: CaptureItem, spider: Spider | None = None) -> CaptureItem:
        if self.stats.get_value(FATAL_STAT):
            # The archive failed: a capture recorded now could not point at its bytes.
            raise DropItem(f"not recorded, the archive failed: {item.url}")
        if self.refetch:
            await self._learn_noise(item)
        return self._record(item)

    def _record(self, item: CaptureItem) -> CaptureItem:
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
        noise = self._noise_of(history)
        page = None
        # What the verdict compares: fingerprints under the rules in force only, never a
        # deferred one or one made by another extractor or with other noise (below).
        judged = None
        last_good = previous.fingerprint if previous else None
        last_boilerplate = previous.boilerplate if previous else None
        # A 304 to our conditional request says the page is the archived original.
        present = last is not None and (200 <= last.status < 300 or last.record_type == "revisit" and last.status == 304)
        if last is not None and present:
            # Bytes identical to the last good capture mean the same text: no need to
            # extract it again, and no content signal can fire that did not fire then.
            same_bytes = previous is not None and previous.payload_digest == last.payload_digest
            probe = self._probe_answer(session, item.probe)
            if item.probe is not None:
                self._probe_links.append((capture, self._probes[item.probe.url][0]))
            if same_bytes and previous is not None:
                capture.fingerprint, capture.basis, capture.boilerplate = previous.fingerprint, previous.basis, previous.boilerplate
            else:
                page = self._prepared.pop(item.url, None)
                if page is None:
                    # Text only tells something once there are other bytes to compare it
                    # with: with no earlier good capture, it is extracted later, if ever
                    # (crawler/verdicts/fingerprint.py). Unless a probe answered with a page
                    # of the same kind, whose text the soft-404 signals compare with this one's.
                    defer = _deferrable(probe) if previous is None else frozenset()
                    page = meaning(item.body, last.content_type, item.content_encoding, item.checked_at, defer=defer, noise=noise)
                if is_deferred(page.fingerprint):
                    self.stats.inc_value(f"evidence/text/deferred/{page.kind}")
                capture.fingerprint, capture.boilerplate = page.fingerprint, page.boilerplate_fingerprint
                capture.basis = None if is_deferred(page.fingerprint) else page.basis
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
            if previous is not None and not same_bytes and not is_current(previous.fingerprint, previous.basis, noise):
                earlier = self._rebase(session, item.url, target_id, previous, noise)
                if earlier is not None:
                    last_good, last_boilerplate = earlier.fingerprint, earlier.boilerplate
                else:
                    # The earlier text is out of reach: compare the bytes rather than
                    # calling the capture unchanged (or changed) on no evidence.
                    last_good, last_boilerplate = as_bytes(previous.fingerprint or ""), None
                    if not last_good.startswith("bytes:"):
                        last_good = "bytes:sha256:unreadable"
                    judged = bytes_fingerprint(item.body, item.content_encoding)
                    capture.signals = [*capture.signals, "previous_unreadable"]
            if item.url in self._learned:
                capture.signals = [*capture.signals, "noise_learned"]
        if target_id in self._noise_grew:
            self._noise_grew.discard(target_id)
            session.execute(update(Target).where(Target.id == target_id).values(noise=sorted(noise.templates)))

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
            boilerplate=capture.boilerplate,
        )
        past = History(
            last_good_fingerprint=last_good,
            last_good_payload_digest=previous.payload_digest if previous else None,
            recent=list(history.recent),
            last_good_boilerplate=last_boilerplate,
        )
        verdict = judge(facts, past, gone_after=self.gone_after)
        capture.state, capture.reason, capture.change = verdict.state, verdict.reason, verdict.change
        if capture.state in ("ok", "changed"):
            capture.differs_from_first = self._differs_from_first(session, item, history, capture, noise)
        records.append(self._write_metadata(item, capture, history, position=len(records)))
        # The second fetch of a noise check belongs to this capture: archived, it is part
        # of what the verdict rests on.
        records.extend(record_rows(self._second.pop(item.url, []), start=len(records)))
        return capture, records

    def _differs_from_first(
        self, session: Session, item: CaptureItem, history: TargetHistory, capture: Capture, noise: Noise
    ) -> bool:
        """Whether this capture's meaning differs from that of the first good capture (what was cited)."""
        first, mine = history.first, capture.fingerprint
        if first is None or (first.fingerprint == mine and first.basis == capture.basis):
            return False
        theirs: str | None = first.fingerprint
        if not is_current(first.fingerprint, first.basis, noise):
            rebased = self._rebase(session, item.url, history.target_id, first, noise)
            theirs = rebased.fingerprint if rebased else None
        ours: str | None = mine
        if not is_current(mine, capture.basis, noise):
            previous = history.previous
            # Same bytes as the previous capture, made under other rules (or never extracted).
            rebased = self._rebase(session, item.url, history.target_id, previous, noise) if previous is not None \
                and previous.fingerprint == mine else None
            ours = rebased.fingerprint if rebased else None
        if theirs is None or ours is None:
            # Some text is out of reach: compare the bytes.
            mine_bytes = as_bytes(mine) if is_deferred(mine) else bytes_fingerprint(item.body, item.content_encoding)
            return as_bytes(first.fingerprint or "") != mine_bytes
        return theirs != ours

    def _noise_of(self, history: TargetHistory) -> Noise:
        noise = self._noise.get(history.target_id)
        if noise is None:
            noise = self._noise[history.target_id] = Noise(history.noise or ())
        return noise

    async def _learn_noise(self, item: CaptureItem) -> None:
        """Before a page is called ``changed``, fetch it once more: text that differs
        between two answers seconds apart is per-request noise, left out of this URL's
        fingerprints from now on (kept in ``targets.noise`` for later runs).

        Only for an HTML page whose bytes and evidence text differ from its last good
        capture's: an unchanged page costs no second request. What was learned applies to
        the earlier capture too (re-extracted from its WARC record under the new noise),
        so the verdict compares like with like.
        """
        history = self._histories.get(item.url)
        last = item.hops[-1] if item.hops else None
        if history is None or history.previous is None or item.error_kind is not None or last is None:
            return
        previous = history.previous
        if not 200 <= last.status < 300 or last.truncated or last.payload_digest == previous.payload_digest:
            return
        noise = self._noise_of(history)
        page = meaning(item.body, last.content_type, item.content_encoding, item.checked_at, noise=noise)
        if page.kind != "html" or page.coding not in ("none", "complete"):
            return
        self._prepared[item.url] = page
        earlier = self._earlier(item.url, history.target_id, previous, noise)
        if earlier is None or earlier.fingerprint == page.fingerprint:
            return
        spider = self.crawler.spider
        if not isinstance(spider, CitationSpider):
            return
        again = await spider.fetch_again(item.url)
        self._second[item.url] = again.hops
        self.stats.inc_value("evidence/noise/refetched")
        other = again.hops[-1] if again.hops else None
        if again.error_kind is not None or other is None or other.status != last.status or other.truncated:
            return
        second = meaning(again.body, other.content_type, again.content_encoding, again.checked_at, noise=noise)
        if second.kind != "html":
            return
        learned = noise.learn(page.text, second.text).learn(page.boilerplate, second.boilerplate)
        if learned is noise:
            return
        self.stats.inc_value("evidence/noise/learned")
        self._noise[history.target_id] = learned
        self._noise_grew.add(history.target_id)
        self._learned.add(item.url)
        when = item.checked_at
        self._prepared[item.url] = dataclasses.replace(
            page,
            fingerprint=text_fingerprint(page.text, when, learned),
            boilerplate_fingerprint=text_fingerprint(page.boilerplate, when, learned) if page.boilerplate else None,
            basis=basis_of("html", learned),
        )

    def _earlier(self, url: str, target_id: int, good: Good, noise: Noise) -> Earlier | None:
        """An earlier good capture's fingerprints under the rules in force with ``noise``:
        as stored where they were made under them, else re-extracted from its WARC record
        (once per crawl); None (and a warning) if its payload cannot be read back."""
        if is_current(good.fingerprint, good.basis, noise):
            return Earlier(good.fingerprint or "", good.boilerplate, good.basis)
        key = (target_id, good.fingerprint or "", good.basis, len(noise))
        if key in self._rebased:
            return self._rebased[key]
        earlier: Earlier | None = None
        stored = good.fingerprint or ""
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
            if is_deferred(stored) and bytes_fingerprint(snapshot.body, snapshot.content_encoding) != as_bytes(stored):
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
            page = meaning(snapshot.body, snapshot.content_type, snapshot.content_encoding, when, noise=noise)
            earlier = Earlier(page.fingerprint, page.boilerplate_fingerprint, page.basis)
            self.stats.inc_value("evidence/text/resolved" if is_deferred(stored) else "evidence/text/rebased")
        self._rebased[key] = earlier
        return earlier

    def _rebase(self, session: Session, url: str, target_id: int, good: Good, noise: Noise) -> Earlier | None:
        """``_earlier``, with every earlier capture of the target that holds the same
        fingerprint under the same rules rewritten to the result.

        Those captures hold the same text (or, deferred, the same bytes). Rewriting the
        rows, rather than leaving them under the old rules, keeps what they mean equal to
        what a fingerprint means now: ``crawler.acks`` compares ``("present",
        fingerprint)`` of an acknowledged capture with later ones, and a later capture
        with the same text holds the fingerprint under the rules in force, so an
        acknowledgement of a capture left under old rules would end on an unchanged page
        (and reports would show it again). A stored fingerprint is never a judgement of
        its own: verdicts were recorded with their state and change, and the WARC's
        metadata records hold no fingerprints. A failed batch rolls the update back with
        the rest, leaving the rows as they were, which stays consistent.
        """
        earlier = self._earlier(url, target_id, good, noise)
        key = (target_id, good.fingerprint or "", good.basis, len(noise))
        if earlier is None or key in self._rewritten or is_current(good.fingerprint, good.basis, noise):
            return earlier
        self._rewritten.add(key)
        same_rules = Capture.basis.is_(None) if good.basis is None else Capture.basis == good.basis
        session.execute(
            update(Capture)
            .where(Capture.target_id == target_id, Capture.fingerprint == good.fingerprint, same_rules)
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

@dataclasses.dataclass(frozen=True, slots=True)
class Earlier:
    """An earlier capture's fingerprints under the rules in force."""

    fingerprint: str
    boilerplate: str | None
    basis: str | None


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
