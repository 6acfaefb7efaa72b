"""Per-host politeness across workers: one request to a host per delay, whoever sends it.

Scrapy's delay and per-domain concurrency are per process; with N workers a host would
see N times the load. Before each request (every retry, redirect hop and probe too) the
worker takes the host's slot in Redis, ``SET evidence:host:HOST WORKER NX PX delay``:
whoever sets it may send now, the others wait and try again. The slot expires by
itself, so a worker killed while holding it blocks nobody for longer than the delay.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import redis
from scrapy.exceptions import NotConfigured

from crawler.scaleout.frontier.state import PREFIX, connect

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

# How long a waiting request sleeps before it asks again, at most.
POLL_SECONDS = 0.05


class SharedHostDelay:
    def __init__(self, client: redis.Redis, worker: str, delay: float, stats: StatsCollector) -> None:
        self.client = client
        self.worker = worker
        self.delay_ms = int(delay * 1000)
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedHostDelay:
        settings = crawler.settings
        url = settings.get("EVIDENCE_FRONTIER_URL")
        delay = settings.getfloat("EVIDENCE_FRONTIER_HOST_DELAY")
        if not url or delay <= 0:
            raise NotConfigured
        assert crawler.stats is not None
        return cls(connect(url), settings.get("EVIDENCE_FRONTIER_WORKER_ID"), delay, crawler.stats)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = (urlsplit(request.url).hostname or "").lower()
        key = f"{PREFIX}host:{host}"
        started = time.monotonic()
        while not self.client.set(key, self.worker, nx=True, px=self.delay_ms):
            left = self.client.pttl(key)
            await asyncio.sleep(min(max(left, 1) / 1000, POLL_SECONDS))
        waited = time.monotonic() - started
        if waited > 0.001:
            self.stats.inc_value("evidence/frontier/host_wait_ms", int(waited * 1000))
