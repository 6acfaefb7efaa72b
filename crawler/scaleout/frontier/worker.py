"""``evidence worker``: take a run's URLs from the shared frontier until the run is over.

The worker crawls with the run's settings (published by the coordinator), the
scrapy-redis scheduler over the run's queue (:mod:`crawler.scaleout.frontier.scheduler`), the
shared per-host delay, its own WARC files (``evidence-WORKER-...warc.gz``) and the
frontier pipeline. The ``FrontierWorker`` extension keeps its heartbeat, re-queues the
leases of dead workers, and lets the crawl close only once the run is finished (an
empty queue alone says nothing: another worker may die with URLs in hand).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import redis
from scrapy import Request, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider, NotConfigured
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twisted.internet import task

from crawler.store.db import database_url, open_database, require_server
from crawler.exceptions import FrontierError, RunFailed
from crawler.runs.gctuning import crawl_pace
from crawler.scaleout.frontier.state import RunFrontier, connect, current_run
from crawler.store.models import Meta, Run, Target
from crawler.crawl.spider import CitationSpider
from crawler.warc.runstore import FATAL_STAT

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Settings a worker never takes from the run: they describe the worker's own machine.
LOCAL_SETTINGS = ("EVIDENCE_ARCHIVE_DIR", "LOG_LEVEL", "EVIDENCE_PROGRESS_ENABLED", "EVIDENCE_DB_URL")


class FrontierSpider(CitationSpider):
    """The citation spider without start URLs: every URL comes from the frontier.

    ``targets`` still lists the URLs the run may hand out, for what reads it ahead
    (the pipeline loads their histories once), but nothing is requested from it.
    """

    name = "frontier"

    async def start(self) -> AsyncIterator[Request]:
        return
        yield


class FrontierWorker:
    def __init__(self, crawler: Crawler, frontier: RunFrontier, worker: str) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.frontier = frontier
        self.worker = worker
        self.lease_seconds = settings.getfloat("EVIDENCE_FRONTIER_LEASE")
        self.interval = settings.getfloat("EVIDENCE_FRONTIER_HEARTBEAT")
        self.state: str | None = "running"
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierWorker:
        settings = crawler.settings
        url = settings.get("EVIDENCE_FRONTIER_URL")
        if not url:
            raise NotConfigured
        frontier = RunFrontier(connect(url), settings.getint("EVIDENCE_RUN_ID"))
        extension = cls(crawler, frontier, settings.get("EVIDENCE_FRONTIER_WORKER_ID"))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.beat()
        self._loop = task.LoopingCall(self.beat)
        self._loop.start(self.interval, now=False)

    def beat(self) -> None:
        try:
            self.frontier.heartbeat(self.worker, self.lease_seconds)
            requeued = self.frontier.reap()
            self.state = self.frontier.worker_state()
        except redis.RedisError as exc:
            # Redis away for a moment: the leases outlive a few missed beats.
            logger.warning("frontier unreachable: %s", exc)
            return
        if requeued:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("evidence/frontier/requeued", requeued)
            logger.info("put %d URLs of dead workers back on the queue", requeued)

    def spider_idle(self, spider: Spider) -> None:
        if self.state != "running":
            return
        # Idle means nothing in the downloader, the scraper or the pipeline: a lease this
        # worker still holds belongs to a URL lost on the way (its recording failed).
        try:
            lost = self.frontier.release_lost(self.worker)
        except redis.RedisError as exc:
            logger.warning("frontier unreachable: %s", exc)
            lost = 0
        if lost:
            logger.warning("%d URLs leased by this worker were not recorded; back on the queue (or given up)", lost)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("evidence/frontier/lost", lost)
        raise DontCloseSpider

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        try:
            self.frontier.retire(self.worker)
        except redis.RedisError as exc:
            logger.warning("could not retire from the frontier (its leases expire by themselves): %s", exc)


@dataclass
class WorkerResult:
    run_id: int
    worker: str
    #: captures this worker recorded
    recorded: int
    #: the run's state when the worker left: finished or stopped
    run_state: str


def database_identity(sessions: sessionmaker[Session], *, create: bool) -> str | None:
    """A random id kept in the database's meta table: what tells a worker that its --db is
    the coordinator's database, whatever host name each of them reaches it by."""
    with sessions() as session, session.begin():
        row = session.get(Meta, "database_id")
        if row is None and create:
            row = Meta(key="database_id", value=uuid.uuid4().hex)
            session.add(row)
        return row.value if row is not None else None


def wait_for_run(client: redis.Redis, run_id: int | None, wait: float | None) -> RunFrontier:
    """The run to work on: ``run_id``, or the frontier's current run once it is running."""
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        chosen = run_id if run_id is not None else current_run(client)
        if chosen is not None:
            frontier = RunFrontier(client, chosen)
            state = frontier.state()
            if state == "running":
                return frontier
            if run_id is not None and state is not None:
                raise FrontierError(f"run {run_id} is {state} on the frontier: there is nothing left to take")
        if deadline is not None and time.monotonic() >= deadline:
            raise FrontierError(
                f"no running run on the frontier after {wait:g} s; start one with `evidence crawl --frontier URL`"
            )
        time.sleep(0.2)


def run_worker(
    db: str,
    frontier_url: str,
    worker: str,
    overrides: dict[str, Any],
    *,
    run_id: int | None = None,
    wait: float | None = None,
) -> WorkerResult:
    # What a worker starts with is what a local crawl starts with.
    from crawler.runs.inprocess import tune_logging_on_start
    from crawler.crawl.compat import offline_public_suffixes
    from crawler.runs.lifecycle import build_settings, close_dead_files, known_digests, originals, rendered_before

    require_server(db)
    client = connect(frontier_url)
    frontier = wait_for_run(client, run_id, wait)
    # Opened once the run exists: the coordinator may still have been creating the schema.
    sessions = open_database(db, create=False)
    db_url = database_url(db)
    if frontier.database() != database_identity(sessions, create=False):
        raise FrontierError(
            f"the database {db} is not the one run {frontier.run_id} was created in; "
            "give the worker the coordinator's --db (the same server and database name)"
        )
    with sessions() as session:
        run = session.get(Run, frontier.run_id)
        if run is None:
            raise FrontierError(
                f"run {frontier.run_id} of the frontier {frontier_url} is not in the database {db}; "
                "give the worker the coordinator's --db"
            )
        urls = list(session.scalars(select(Target.url)))
    run_settings = {name: value for name, value in frontier.settings().items() if name not in LOCAL_SETTINGS}
    settings = build_settings(
        {
            **run_settings,
            **overrides,
            "EVIDENCE_DB_URL": db_url,
            "EVIDENCE_RUN_ID": frontier.run_id,
            "EVIDENCE_FRONTIER_URL": frontier_url,
            "EVIDENCE_FRONTIER_WORKER_ID": worker,
            "EVIDENCE_WARC_PREFIX": f"evidence-{worker}",
            "EVIDENCE_PROGRESS_ENABLED": False,
        }
    )
    settings.set("SCHEDULER", "crawler.scaleout.frontier.scheduler.FrontierScheduler", priority="cmdline")
    # Each capture committed on its own: a URL is marked done only once its row is in the
    # database, and an idle worker holds no uncommitted capture (its leases are then lost
    # ones, see FrontierWorker.spider_idle).
    settings.set("EVIDENCE_DB_BATCH_SIZE", 1, priority="cmdline")
    settings.set("ITEM_PIPELINES", {"crawler.scaleout.frontier.pipeline.FrontierPipeline": 300}, priority="cmdline")
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    # First of all: a request waits for its host's slot before anything is stamped or archived.
    middlewares["crawler.scaleout.frontier.politeness.SharedHostDelay"] = 50
    settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="cmdline")
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions["crawler.scaleout.frontier.worker.FrontierWorker"] = 400
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    close_dead_files(sessions, Path(settings.get("EVIDENCE_ARCHIVE_DIR")))

    # Scrapy looks for new work every 5 s when its scheduler returns none; a worker
    # whose queue is empty for a moment (leases being re-queued, the run about to end)
    # should look every heartbeat instead. One crawl per process: the class is ours.
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = settings.getfloat("EVIDENCE_FRONTIER_HEARTBEAT")
    offline_public_suffixes()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FrontierSpider)
    tune_logging_on_start(crawler)
    process.crawl(crawler, targets=urls, known_digests=known_digests(sessions, urls), originals=originals(sessions),
                  rendered=rendered_before(sessions, urls))
    with crawl_pace():
        process.start()
    stats = crawler.stats
    fatal = stats.get_value(FATAL_STAT) if stats else None
    if fatal:
        raise RunFailed(f"worker {worker} stopped: {fatal}; its URLs go to the other workers")
    recorded = int(stats.get_value("evidence/frontier/completed", 0)) if stats else 0
    return WorkerResult(frontier.run_id, worker, recorded, frontier.worker_state() or "gone")
