"""AutoThrottle that takes a 304 for the healthy answer it is.

Scrapy's AutoThrottle lowers a host's delay only on 200 answers. A re-check sends
conditional requests, so an unchanged site answers 304 to nearly every URL and each
host stayed at ``AUTOTHROTTLE_START_DELAY`` for the whole run: re-checks ran slower
than first crawls. A 304's latency measures the server's load as well as a 200's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot
    from scrapy.http import Response


class NotModifiedAwareAutoThrottle(AutoThrottle):
    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
