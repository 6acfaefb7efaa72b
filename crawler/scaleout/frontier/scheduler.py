"""A scrapy-redis scheduler for workers: fresh URLs from the shared queue, follow-ups kept.

Redirect hops and retries of a URL stay in this worker, in memory: their meta carries
the exchanges already archived in this worker's WARC file and its cookie jar, which
another worker could not continue. If the worker dies they are lost with its lease,
and the lease puts the cited URL itself back on the queue.

The shared queue is never flushed when a worker closes (scrapy-redis's ``persist``):
the other workers are still taking from it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.dupefilters import BaseDupeFilter
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler

from crawler.crawl import compat as scrapycompat
from crawler.scaleout.frontier.state import RunFrontier, connect

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class FrontierScheduler(Scheduler):  # type: ignore[misc]
    def __init__(self, server: Any, run_id: int, *, prefetch: int = 0, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self.local: deque[Request] = deque()
        self.frontier = RunFrontier(server, run_id)
        self.prefetch = prefetch
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        settings = crawler.settings
        run_id = settings.getint("EVIDENCE_RUN_ID")
        frontier = RunFrontier(connect(settings.get("EVIDENCE_FRONTIER_URL")), run_id)
        scheduler = cls(
            frontier.client,
            run_id,
            persist=True,
            queue_key=frontier.queue_key,
            queue_cls="crawler.scaleout.frontier.queue.LeasedQueue",
            # The spider already takes each cited URL once; a redirect to a URL seen
            # before in the run must still be followed (see settings.DUPEFILTER_CLASS).
            dupefilter=BaseDupeFilter(),
            dupefilter_key=frontier.dupefilter_key,
            prefetch=settings.getint("EVIDENCE_FRONTIER_PREFETCH"),
        )
        scheduler.stats = crawler.stats
        scheduler.crawler = crawler
        return scheduler

    def enqueue_request(self, request: Request) -> bool:
        self.local.append(request)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/memory")
        return True

    def open(self, spider: Any) -> None:
        # scrapy-redis's open() also logs through the deprecated Spider.log(); only the
        # queue is needed here.
        self.spider = spider
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider, key=self.queue_key, serializer=self.serializer)

    def close(self, reason: str) -> None:
        """Nothing to flush: the queue is the run's, not this worker's."""

    def next_request(self) -> Request | None:
        if self.local:
            return self.local.popleft()
        if self._busy():
            return None
        request: Request | None = self.queue.pop()
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def _busy(self) -> bool:
        """Whether this worker already holds as many URLs as it may: Scrapy would take a
        whole CONCURRENT_REQUESTS of them at once and leave the other workers idle."""
        downloader = scrapycompat.engine_downloader(self.crawler) if self.crawler is not None else None
        return bool(self.prefetch) and downloader is not None \
            and len(scrapycompat.downloader_active(downloader)) >= self.prefetch

    def has_pending_requests(self) -> bool:
        # A stopped run's queue is not pending work: the worker may go idle and leave.
        return bool(self.local) or self.frontier.takeable() > 0

    def __len__(self) -> int:
        return len(self.local) + self.frontier.queued()
