"""AutoThrottle that takes a 304 for the healthy answer it is, and a host's first answer
for a measurement that replaces the start delay.

Scrapy's AutoThrottle lowers a host's delay only on 200 answers. A re-check sends
conditional requests, so an unchanged site answers 304 to nearly every URL and each
host stayed at ``AUTOTHROTTLE_START_DELAY`` for the whole run: re-checks ran slower
than first crawls. A 304's latency measures the server's load as well as a 200's.

``AUTOTHROTTLE_START_DELAY`` is a guess made before a host has answered. Scrapy averages
each new measurement with the delay before it, so the guess weighed on a host's next
four or five requests: with the 1 s start delay and 100 ms answers a host took 2.4 s
for its first six requests instead of 0.6 s, a second and a half of every crawl spent
at a fraction of its pace. Here a host's first healthy answer (200 or 304) sets its
delay from the measured latency; later answers are averaged as in Scrapy, and a delay
that grows still grows at once.

A request may name other statuses it expects (``EXPECTED_STATUSES_META_KEY``): the soft-404
probe asks for a page that does not exist, so its 404 is the server's healthy answer. Taken
as an error, it never lowered the probes' slot from the start delay: with 100 ms answers
a host's probes went one a second, and the pages waiting for them with them.

Kept: AutoThrottle's ``_response_downloaded`` and ``_adjust_delay`` are private, so the
methods below are installed in their place by crawler/crawl/compat.py, which checks that
Scrapy still has them. The upstream proposal (docs/upstream.md) would make both public
settings instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from scrapy.extensions.throttle import AutoThrottle

from crawler.crawl import compat as scrapycompat
from crawler.crawl.downloader import TransferBoundDownloader

if TYPE_CHECKING:
    from collections.abc import Collection

    from scrapy import Request, Spider
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class _Ok:
    """What AutoThrottle's delay policy reads of a response: its status. Copying each 304
    into a new response with status 200 cost 1.6% of a re-check."""

    status = 200


_OK = _Ok()

#: Statuses besides 200 and 304 that the request's sender expects of a healthy server.
EXPECTED_STATUSES_META_KEY = "evidence_expected_statuses"


class NotModifiedAwareAutoThrottle(AutoThrottle):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        # Hosts (download slots) whose latency has been measured on a healthy answer.
        self._measured: set[str] = set()
        # The measured request's expected statuses, for _adjust_delay, which Scrapy
        # calls from _response_downloaded without the request.
        self._expected: Collection[int] = ()

    def measure_first_answer(self, response: Response, request: Request, spider: Spider) -> None:
        """AutoThrottle's ``_response_downloaded``, installed in its place below."""
        key, slot = scrapycompat.throttle_slot(self, request, spider)
        if slot is None or key is None:
            return
        before = scrapycompat.slot_delay(slot)
        self._expected = request.meta.get(EXPECTED_STATUSES_META_KEY, ())
        if key not in self._measured and (response.status in (200, 304) or response.status in self._expected) \
                and request.meta.get("download_latency") is not None \
                and not request.meta.get("autothrottle_dont_adjust_delay", False):
            self._measured.add(key)
            # Forget the guess: averaging from the minimum lands on the measured pace.
            scrapycompat.set_slot_delay(slot, scrapycompat.throttle_min_delay(self))
        try:
            scrapycompat.THROTTLE_RESPONSE_DOWNLOADED.call_super(NotModifiedAwareAutoThrottle, self, response, request, spider)
        finally:
            self._expected = ()
        downloader = scrapycompat.engine_downloader(self.crawler)
        if scrapycompat.slot_delay(slot) < before and isinstance(downloader, TransferBoundDownloader):
            downloader.hurry(slot)

    def healthy_as_200(self, slot: Slot, latency: float, response: Response) -> None:
        """AutoThrottle's ``_adjust_delay`` (its delay policy), installed in its place below."""
        healthy = response.status == 304 or response.status in self._expected
        scrapycompat.THROTTLE_ADJUST_DELAY.call_super(
            NotModifiedAwareAutoThrottle, self, slot, latency, cast("Response", _OK) if healthy else response
        )


scrapycompat.THROTTLE_RESPONSE_DOWNLOADED.override(NotModifiedAwareAutoThrottle, NotModifiedAwareAutoThrottle.measure_first_answer)
scrapycompat.THROTTLE_ADJUST_DELAY.override(NotModifiedAwareAutoThrottle, NotModifiedAwareAutoThrottle.healthy_as_200)
