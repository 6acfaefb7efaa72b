"""Running one crawl: choose the cited URLs, run the spider in-process, sum up the news."""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys
from datetime import timezone
import socket
from pathlib import Path
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler import __version__
from crawler import settings as default_settings
from crawler.citations import Document as ParsedDocument
from crawler.acks import is_acknowledged
from crawler.documents import all_cited_urls, has_documents, import_seed, record_file
from crawler.models import Capture, Citation, Document, Record, Run, Target, WarcFile, utcnow
from crawler.reports.queries import document_label
from crawler.warc.dedup import Original
from crawler.exceptions import RunFailed
from crawler.gctuning import crawl_pace
from crawler.liveness import process_alive
from crawler.warc.recover import recover_open_files
from crawler.warc.runstore import FATAL_STAT
from crawler.spiders.citations import CitationSpider
from crawler.verdicts import news_kind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class News:
    url: str
    #: changed, moved, gone, restored or unreachable (newly: it answered last run)
    kind: str
    state: str
    reason: str
    previous_state: str | None
    #: (document, footnote) of each citation of the URL
    cited_in: tuple[tuple[str, str], ...] = ()


@dataclass
class RunSummary:
    run_id: int
    status: str
    targets: int
    captured: int
    states: Counter[str] = field(default_factory=Counter)
    news: list[News] = field(default_factory=list)
    #: news that only repeats what a person acknowledged (``evidence ack``): not reported
    acknowledged: list[News] = field(default_factory=list)
    #: why the run is incomplete beyond missing captures: a crawl process (``--processes``)
    #: that died, one line each
    problems: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.targets - self.captured

    @property
    def evidence_news(self) -> bool:
        """News that earns exit code 1: all but newly unreachable URLs (down is not gone)."""
        return any(item.kind != "unreachable" for item in self.news)


def build_settings(overrides: dict[str, Any]) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def run_crawl(
    sessions: sessionmaker[Session],
    db_url: str,
    documents: list[ParsedDocument],
    overrides: dict[str, Any],
    *,
    locked: bool = False,
) -> RunSummary:
    """Import ``documents`` (or the embedded seed into an empty database) and crawl.

    With documents, only their URLs are visited; without, every URL the database's
    documents cite; ``documents`` is emptied once they are recorded (``cited_urls``).
    One Scrapy crawl per process: the Twisted reactor cannot restart.
    ``locked`` says the caller holds the database's run lock (``crawler/runlock.py``).
    """
    urls = cited_urls(sessions, documents)
    settings = build_settings({**overrides, "EVIDENCE_DB_URL": db_url})
    _close_dead_runs(sessions, every=locked)
    _close_dead_files(sessions, Path(settings.get("EVIDENCE_ARCHIVE_DIR")))
    run_id = start_run(sessions, urls, _recorded_settings(settings))
    settings.set("EVIDENCE_RUN_ID", run_id, priority="cmdline")

    processes = max(settings.getint("EVIDENCE_PROCESSES"), 1)
    if processes > 1:
        from crawler.processes import crawl_in_processes, shard_by_host

        shards = shard_by_host(urls, processes)
        if len(shards) > 1:
            outcome = crawl_in_processes(
                {**overrides, "EVIDENCE_DB_URL": db_url, "EVIDENCE_RUN_ID": run_id}, settings, shards, sessions
            )
            if outcome.fatal:
                raise RunFailed(_fail_run(sessions, run_id, outcome.fatal))
            summary = _finish(sessions, run_id, urls, outcome.finish_reason)
            summary.problems = outcome.problems
            return summary

    finish_reason, fatal = crawl_here(sessions, settings, urls)
    if fatal:
        raise RunFailed(_fail_run(sessions, run_id, fatal))

    return _finish(sessions, run_id, urls, finish_reason)


def crawl_here(
    sessions: sessionmaker[Session],
    settings: Settings,
    urls: list[str],
    before_start: Callable[[CrawlerProcess], None] | None = None,
) -> tuple[str | None, str | None]:
    """One Scrapy crawl of ``urls`` in this process: its finish reason and fatal archive
    failure, if any. ``before_start`` is called once the reactor is installed."""
    _offline_public_suffixes()
    _fixed_mmap_threshold()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(CitationSpider)
    tune_logging_on_start(crawler)
    process.crawl(
        crawler, targets=urls, known_digests=_known_digests(sessions, urls), originals=_originals(sessions)
    )
    if before_start is not None:
        before_start(process)
    with crawl_pace():
        process.start()
    finish_reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    fatal = crawler.stats.get_value(FATAL_STAT) if crawler.stats else None
    return finish_reason, fatal


def cited_urls(sessions: sessionmaker[Session], documents: list[ParsedDocument]) -> list[str]:
    """Import ``documents`` and return the URLs they cite; without documents, every URL the
    database's documents cite (the embedded seed imported into an empty database).

    ``documents`` is emptied once recorded, so that the caller does not hold the parsed
    citations (15 MB for 10,000 URLs) through the crawl."""
    if documents:
        imported = [record_file(sessions, document) for document in documents]
        documents.clear()
        return list(dict.fromkeys(url for item in imported for url in item.urls))
    if not has_documents(sessions):
        import_seed(sessions)
    return all_cited_urls(sessions)


def start_run(sessions: sessionmaker[Session], urls: list[str], recorded: dict[str, Any]) -> int:
    """Record a new run over ``urls`` made with the settings ``recorded``; its id."""
    with sessions() as session, session.begin():
        run = Run(
            software=f"evidence/{__version__}",
            host=socket.gethostname(),
            pid=os.getpid(),
            targets=len(urls),
            settings=recorded,
        )
        session.add(run)
        session.flush()
        return run.id


def _known_digests(sessions: sessionmaker[Session], urls: list[str]) -> dict[str, str]:
    """Payload digest of each URL's last capture judged present, to skip needless probes."""
    latest = (
        select(func.max(Capture.id))
        .where(Capture.state.in_(("ok", "changed")), Capture.payload_digest.is_not(None))
        .group_by(Capture.target_id)
    )
    with sessions() as session:
        rows = session.connection().execute(
            select(Target.url, Capture.payload_digest)
            .join(Capture, Capture.target_id == Target.id)
            .where(Capture.id.in_(latest))
        )
        known = {url: digest for url, digest in rows if digest}
    wanted = set(urls)
    return {url: digest for url, digest in known.items() if url in wanted}


def _originals(sessions: sessionmaker[Session]) -> dict[str, Original]:
    """Per URL, the last archived complete 200 response: what revisits refer to and where
    conditional requests take their validators from."""
    originals: dict[str, Original] = {}
    latest = (
        select(func.max(Record.id))
        .where(
            Record.record_type == "response", Record.http_status == 200, Record.truncated.is_(None),
            Record.payload_digest.is_not(None), Record.date.is_not(None),
        )
        .group_by(Record.target_uri)
    )
    columns = (
        Record.payload_digest, Record.record_id, Record.target_uri, Record.date, Record.filename, Record.offset,
        Record.content_type, Record.etag, Record.last_modified,
    )
    # Plain rows streamed from the cursor: ORM objects, all fetched and held in the
    # session's identity map, cost 20 MB at 10,000 URLs, and the process kept most of it.
    with sessions() as session:
        rows = session.connection().execute(select(*columns).where(Record.id.in_(latest)))
        for digest, record_id, target_uri, date, filename, offset, content_type, etag, last_modified in rows:
            if digest and date:
                originals[target_uri] = Original(
                    payload_digest=digest,
                    record_id=record_id,
                    target_uri=target_uri,
                    date=date.replace(tzinfo=timezone.utc),
                    filename=filename,
                    offset=offset,
                    content_type=content_type,
                    etag=etag,
                    last_modified=last_modified,
                )
    return originals


def tune_logging_on_start(crawler: Crawler) -> None:
    """Tune logging (below) once the engine starts: Scrapy puts the root logger back to
    NOTSET each time a crawl applies its settings, which is after the crawler is made."""
    level_name = crawler.settings.get("LOG_LEVEL")

    def tune() -> None:
        _tune_logging(level_name)

    crawler.signals.connect(tune, signals.engine_started, weak=False)


def _tune_logging(level_name: str) -> None:
    """Quiet what is not news, after Scrapy has (re)configured logging."""
    level = logging.getLevelName(level_name) if isinstance(level_name, str) else int(level_name)
    # Scrapy leaves the root logger at NOTSET, sets its own "scrapy" logger to DEBUG and
    # filters in its handler, so every debug line of every request was formatted into a
    # record and then dropped (1.4% of a crawl).
    logging.getLogger().setLevel(level)
    logging.getLogger("scrapy").setLevel(level)
    # A URL still down after its retries is a verdict (unreachable) in the summary;
    # Scrapy's ERROR line for it would make cron mail on every run.
    if level >= logging.WARNING:
        logging.getLogger("scrapy.downloadermiddlewares.retry").setLevel(logging.CRITICAL)


def _fail_run(sessions: sessionmaker[Session], run_id: int, reason: str) -> str:
    with sessions() as session, session.begin():
        run = session.get_one(Run, run_id)
        run.status = "failed"
        run.finished_at = utcnow()
    return f"run {run_id} stopped: {reason}"


def _close_dead_files(sessions: sessionmaker[Session], archive_dir: Path) -> None:
    """WARC files a killed run left open: cut after their last whole record and close them."""
    closed = recover_open_files(archive_dir)
    if closed:
        with sessions() as session, session.begin():
            for item in closed:
                session.merge(WarcFile(name=item.name, sha256=item.sha256, size=item.size))


def _close_dead_runs(sessions: sessionmaker[Session], *, every: bool = False) -> None:
    """Mark runs whose process died (kill -9, power loss) as interrupted.

    With ``every`` (this process holds the run lock) no other run can be alive, whatever
    its pid says: after a reboot a dead run's pid may belong to another program.
    """
    host = socket.gethostname()
    with sessions() as session, session.begin():
        for run in session.scalars(select(Run).where(Run.status == "running")):
            if every or (run.host == host and not process_alive(run.pid)):
                run.status = "interrupted"


def _fixed_mmap_threshold() -> None:
    """Keep glibc handing bodies of 1 MiB and more back to the system when freed.

    glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB),
    so after the first dataset the next ones were carved from the heap, whose freed space
    stayed in the process: a 10,000-URL crawl citing ten 8 MB files peaked 11 MB higher.
    A fixed threshold costs an mmap and a munmap per large body.
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
    except (OSError, AttributeError):
        pass


_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def _offline_public_suffixes() -> None:
    """Keep Scrapy's cookie middleware from downloading the Public Suffix List.

    Its module-level ``TLDExtract()`` fetches the list from the Internet on first use:
    a request to a third party that no cited page asked for. tldextract's bundled
    snapshot is used instead.
    """
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


def _recorded_settings(settings: Settings) -> dict[str, Any]:
    """The settings that shape what a run sees, kept with the run for later readers."""
    names = [
        "USER_AGENT", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "ROBOTSTXT_OBEY", "EVIDENCE_MAX_BODY_SIZE",
        "EVIDENCE_ARCHIVE_DIR", "CONCURRENT_REQUESTS_PER_DOMAIN", "AUTOTHROTTLE_ENABLED",
    ]
    return {name: settings.get(name) for name in names}


def _finish(
    sessions: sessionmaker[Session],
    run_id: int,
    urls: list[str],
    finish_reason: str | None,
) -> RunSummary:
    with sessions() as session, session.begin():
        run = session.get_one(Run, run_id)
        # Columns, not objects, and the previous states in one query: a 10,000-URL run
        # loaded every capture with its JSON columns and asked once per URL (80 MB, 5 s).
        captures = session.execute(
            select(Capture.id, Capture.target_id, Capture.state, Capture.reason, Target.url)
            .join(Target)
            .where(Capture.run_id == run_id)
            .order_by(Capture.target_id)
        ).all()
        newest = func.row_number().over(partition_by=Capture.target_id, order_by=Capture.run_id.desc()).label("n")
        earlier = select(Capture.target_id, Capture.state, newest).where(Capture.run_id < run_id).subquery()
        previous_states: dict[int, str] = {
            target_id: state
            for target_id, state in session.execute(select(earlier.c.target_id, earlier.c.state).where(earlier.c.n == 1))
        }
        summary = RunSummary(run_id=run_id, status="", targets=len(urls), captured=len(captures))
        for capture_id, target_id, state, reason, url in captures:
            summary.states[state] += 1
            previous_state = previous_states.get(target_id)
            kind = news_kind(state, reason, previous_state)
            if kind is None:
                continue
            item = News(url, kind, state, reason, previous_state, _cited_in(session, target_id))
            capture = session.get_one(Capture, capture_id)
            (summary.acknowledged if is_acknowledged(session, capture) else summary.news).append(item)
        complete = finish_reason == "finished" and summary.missing == 0
        run.status = summary.status = "finished" if complete else "interrupted"
        run.finished_at = utcnow()
    return summary


def _cited_in(session: Session, target_id: int) -> tuple[tuple[str, str], ...]:
    rows = session.execute(
        select(Document.name, Citation.footnote)
        .join(Citation, Citation.document_id == Document.id)
        .where(Citation.target_id == target_id)
        .order_by(Document.id, Citation.position)
    )
    return tuple(dict.fromkeys((document_label(name), footnote) for name, footnote in rows))
