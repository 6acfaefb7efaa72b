"""Scrapy's downloader, with ``CONCURRENT_REQUESTS`` counting transfers, not waits.

Scrapy counts a request against ``CONCURRENT_REQUESTS`` from the moment it reaches the
downloader, including the time it sits in its host's queue waiting out the host's
delay (``DOWNLOAD_DELAY``, AutoThrottle). With citations spread over many hosts, a
few of the 64 places were always held by requests doing nothing but wait for their
host's turn, while other hosts were ready: at 100 ms answers about 7 of 64 (a tenth of
the run's throughput).

Here a request waiting for its host is not in flight. Politeness per host is unchanged
(the same delay, the same ``CONCURRENT_REQUESTS_PER_DOMAIN``); at most
``CONCURRENT_REQUESTS`` requests are being downloaded or handled by the downloader
middlewares at any time, and at most as many again wait for their host.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader
from scrapy.utils.defer import deferred_from_coro

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from scrapy import Request, Spider
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler


class _Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class _CountedQueue(deque[Any]):
    """A host's queue that keeps the downloader's count of waiting requests: Scrapy only
    appends to a slot's queue and pops from its left."""

    def __init__(self, count: _Count) -> None:
        super().__init__()
        self._count = count

    def append(self, item: Any) -> None:
        super().append(item)
        self._count.n += 1

    def popleft(self) -> Any:
        item = super().popleft()
        self._count.n -= 1
        return item


class TransferBoundDownloader(Downloader):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._waiting = _Count()
        # Requests parked behind their host's delay still hold memory; the engine stops
        # handing out more once this many are in the downloader at all.
        self._most_active = 2 * self.total_concurrency

    def fetch(self, request: Request, spider: Spider | None = None) -> Deferred[Any]:
        # Scrapy's fetch is a Twisted inlineCallbacks generator around this coroutine,
        # behind a wrapper that checks for a deprecated argument on every call.
        # Counted now, not when the coroutine first runs: the engine asks needs_backout()
        # again before that, and would hand out requests past CONCURRENT_REQUESTS.
        self.active.add(request)
        return deferred_from_coro(self._fetch(request))

    async def _fetch(self, request: Request) -> Any:
        try:
            return await self.middleware.download_async(self._enqueue_request, request)
        finally:
            self.active.remove(request)

    def needs_backout(self) -> bool:
        if not self.total_concurrency:
            return False
        active = len(self.active)
        return active - self._waiting.n >= self.total_concurrency or active >= self._most_active

    def _get_slot(self, request: Request, spider: Spider | None = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        # Scrapy creates a slot, with an empty queue, only here.
        if type(slot.queue) is not _CountedQueue:
            slot.queue = _CountedQueue(self._waiting)
        return key, slot

    def hurry(self, slot: Slot) -> None:
        """Re-plan a host's next request after its delay was shortened: the timer set
        under the longer delay would otherwise hold the queue until it fired."""
        if slot.latercall is not None:
            slot.latercall.cancel()
            slot.latercall = None
            self._process_queue(slot)
