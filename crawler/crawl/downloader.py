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

Kept: with the throttle's first-answer delay and the scheduler it took the 100 ms first
crawl of bench/perf.py (10,000 URLs, 100 hosts) from 418 to 451 URLs/s (c2404ad,
bench/README.md). Scrapy's internals it relies on (``_get_slot``, ``_enqueue_request``,
``_process_queue``, a slot's queue and timer) are reached through crawler/crawl/compat.py;
the change proposed upstream is in docs/upstream.md.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader
from scrapy.utils.defer import deferred_from_coro

from crawler.crawl import compat as scrapycompat

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from scrapy import Request, Spider
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler


class _Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


#: A request that goes before the other requests waiting for its host (still after its
#: host's delay and within its concurrency): the resources of a page being rendered, which
#: holds its render slot until they come, would otherwise wait behind every page fetched
#: ahead of it for the same host (crawler/browser/routing.py).
URGENT_META_KEY = "evidence_urgent"


class _CountedQueue(deque[Any]):
    """A host's queue that keeps the downloader's count of waiting requests: Scrapy only
    appends to a slot's queue (``(request, deferred)``) and pops from its left. Urgent
    requests (``URGENT_META_KEY``) queue ahead of the others, in their own order."""

    def __init__(self, count: _Count) -> None:
        super().__init__()
        self._count = count
        self._urgent = 0

    def append(self, item: Any) -> None:
        if item[0].meta.get(URGENT_META_KEY):
            self.insert(self._urgent, item)
            self._urgent += 1
        else:
            super().append(item)
        self._count.n += 1

    def popleft(self) -> Any:
        item = super().popleft()
        self._count.n -= 1
        if self._urgent:
            self._urgent -= 1
        return item


class TransferBoundDownloader(Downloader):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._waiting = _Count()
        # Requests parked behind their host's delay still hold memory; the engine stops
        # handing out more once this many are in the downloader at all.
        self._most_active = 2 * scrapycompat.downloader_concurrency(self)

    def fetch(self, request: Request, spider: Spider | None = None) -> Deferred[Any]:
        # Scrapy's fetch is a Twisted inlineCallbacks generator around this coroutine,
        # behind a wrapper that checks for a deprecated argument on every call.
        # Counted now, not when the coroutine first runs: the engine asks needs_backout()
        # again before that, and would hand out requests past CONCURRENT_REQUESTS.
        scrapycompat.downloader_active(self).add(request)
        return deferred_from_coro(self._fetch(request))

    async def _fetch(self, request: Request) -> Any:
        try:
            return await scrapycompat.download_through_middlewares(self, request)
        finally:
            scrapycompat.downloader_active(self).remove(request)

    def needs_backout(self) -> bool:
        limit = scrapycompat.downloader_concurrency(self)
        if not limit:
            return False
        active = len(scrapycompat.downloader_active(self))
        return active - self._waiting.n >= limit or active >= self._most_active

    def counted_slot(self, request: Request, spider: Spider | None = None) -> tuple[str, Slot]:
        """Scrapy's ``_get_slot``, installed in its place below."""
        key, slot = scrapycompat.DOWNLOADER_GET_SLOT.call_super(TransferBoundDownloader, self, request)
        # Scrapy creates a slot, with an empty queue, only here.
        if type(scrapycompat.slot_queue(slot)) is not _CountedQueue:
            scrapycompat.set_slot_queue(slot, _CountedQueue(self._waiting))
        return key, slot

    def hurry(self, slot: Slot) -> None:
        """Re-plan a host's next request after its delay was shortened: the timer set
        under the longer delay would otherwise hold the queue until it fired."""
        if scrapycompat.cancel_slot_timer(slot):
            scrapycompat.process_queue(self, slot)


scrapycompat.DOWNLOADER_GET_SLOT.override(TransferBoundDownloader, TransferBoundDownloader.counted_slot)
