"""Scrapy's redirect middleware, for a crawl that never sends a Referer.

A cited URL is fetched as a person following a citation would: typed in, no Referer.
A browser following a redirect keeps the first request's Referer, so a redirected hop
has none either. Scrapy's middleware asks Scrapy's Referer spider middleware what to
send on each hop, and warns when that middleware is off; the spider middleware in turn
wraps every callback's output and looks at every scheduled request (4% of a crawl's
CPU). With this one in its place the Referer middleware is switched off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware as ScrapyRedirectMiddleware

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response


class RedirectMiddleware(ScrapyRedirectMiddleware):
    def handle_referer(self, request: Request, response: Response) -> None:
        request.headers.pop("Referer", None)

    def _engine_started(self) -> None:
        # Scrapy looks up its Referer middleware here, and warns that it is missing.
        pass
