"""Scrapy's redirect middleware, for a crawl that never sends a Referer.

A cited URL is fetched as a person following a citation would: typed in, no Referer.
A browser following a redirect keeps the first request's Referer, so a redirected hop
has none either. Scrapy's middleware asks Scrapy's Referer spider middleware what to
send on each hop, and warns when that middleware is off; the spider middleware in turn
wraps every callback's output and looks at every scheduled request (4% of a crawl's
CPU). With this one in its place the Referer middleware is switched off.

Kept for that 4%: Scrapy's ``_engine_started`` is private, so the no-op is installed by
crawler/crawl/compat.py, which checks the name still exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware as ScrapyRedirectMiddleware

from crawler.crawl import compat as scrapycompat

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response


class RedirectMiddleware(ScrapyRedirectMiddleware):
    def handle_referer(self, request: Request, response: Response) -> None:
        request.headers.pop("Referer", None)

    def skip_referer_lookup(self) -> None:
        """Scrapy's ``_engine_started``, installed in its place below: Scrapy looks up its
        Referer middleware there, and warns that it is missing."""


scrapycompat.REDIRECT_ENGINE_STARTED.override(RedirectMiddleware, RedirectMiddleware.skip_referer_lookup)
