"""AutoThrottle that takes a 304 for the healthy answer it is.

Scrapy's AutoThrottle lowers a host's delay only on 200 answers. A re-check sends
conditional requests, so an unchanged site answers 304 to nearly every URL and each
host stayed at ``AUTOTHROTTLE_START_DELAY`` for the whole run: re-checks ran slower
than first crawls. A 304's latency measures the server's load as well as a 200's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot
    from scrapy.http import Response


class _Ok:
    """What AutoThrottle's delay policy reads of a response: its status. Copying each 304
    into a new response with status 200 cost 1.6% of a re-check."""

    status = 200


_OK = _Ok()


class NotModifiedAwareAutoThrottle(AutoThrottle):
    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, cast("Response", _OK) if response.status == 304 else response)
