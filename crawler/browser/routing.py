"""A rendered page's requests, made by the crawl's own engine.

Each goes through ``crawler.engine.download_async``: the downloader's per-host slots pace
it, the WARC recorder archives it raw, and the download handler's address guard checks
where it connects. Redirects are followed here, one request per hop (``dont_redirect``,
so each hop is archived as its own exchange, and each checked by the guard): Chromium does
not follow a 3xx handed to it by a route, so the browser is given the last answer, as
the answer to the URL it asked for.

A script must not widen what the operator allowed: with ``--allow-private`` the page's
requests may reach a private address only on the page's own origin
(``PAGE_ORIGIN_META_KEY``, checked by ``crawler/crawl/handlers/rawhttp.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import scrapy

from crawler.browser.renderer import Answer, FetchFailed, Refusal, answer_of
from crawler.crawl.downloader import URGENT_META_KEY
from crawler.crawl.failures import classify
from crawler.crawl.handlers.rawhttp import PAGE_ORIGIN_META_KEY, UNGATED_META_KEY, origin_of
from crawler.warc.recorder import HOPS_META_KEY, Hop

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

#: marks a request made for a rendered page (for the log and the stats)
RENDERED_FOR_META_KEY = "evidence_rendered_for"
#: as Scrapy's REDIRECT_MAX_TIMES
MAX_REDIRECTS = 20
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class EngineFetcher:
    """The ``Fetcher`` of one rendered page (``crawler.browser.renderer``)."""

    def __init__(self, crawler: Crawler, page_url: str) -> None:
        self.crawler = crawler
        self.page_url = page_url
        self.origin = origin_of(page_url)
        self.max_body = crawler.settings.getint("EVIDENCE_MAX_BODY_SIZE")

    async def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Answer:
        hops: list[Hop] = []
        for _ in range(MAX_REDIRECTS + 1):
            answer = await self._one(method, url, headers, body, hops)
            location = _location(answer)
            if answer.status not in _REDIRECTS or location is None:
                return Answer(answer.status, answer.headers, answer.body, hops)
            target = urljoin(url, location)
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                return Answer(answer.status, answer.headers, answer.body, hops)
            if answer.status in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, body = "GET", None
                headers = {name: value for name, value in headers.items() if name.lower() not in ("content-type", "origin")}
            if origin_of(target) != origin_of(url):
                # What the browser would not send to another origin.
                headers = {name: value for name, value in headers.items() if name.lower() not in ("cookie", "authorization")}
            url = target
        raise FetchFailed("redirect_loop", hops)

    async def _one(self, method: str, url: str, headers: dict[str, str], body: bytes | None, hops: list[Hop]) -> Answer:
        request = scrapy.Request(
            url, method=method, headers=headers, body=body, dont_filter=True,
            meta={
                "dont_redirect": True, "dont_retry": True, "handle_httpstatus_all": True,
                # The browser keeps the page's cookies and sends them in its own headers.
                "dont_merge_cookies": True,
                PAGE_ORIGIN_META_KEY: self.origin, RENDERED_FOR_META_KEY: self.page_url,
                # The page awaiting this may hold a large-body slot itself (as a probe does).
                UNGATED_META_KEY: True,
                # Before the pages queued for the same host: the render waits for it.
                URGENT_META_KEY: True,
            },
        )
        engine = self.crawler.engine
        assert engine is not None
        stats = self.crawler.stats
        try:
            response = await engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - every failure is an answer the page gets
            hops.extend(request.meta.get(HOPS_META_KEY, []))
            kind = classify(exc)
            if stats is not None:
                stats.inc_value(f"evidence/browser/{'refused' if kind == 'private_address' else 'failed'}")
            if kind in ("private_address", "scheme"):
                raise Refusal(kind, hops) from exc
            raise FetchFailed(kind, hops) from exc
        hops.extend(response.meta.get(HOPS_META_KEY, []))
        if stats is not None:
            stats.inc_value("evidence/browser/requests")
        return answer_of(response, self.max_body)


def _location(answer: Answer) -> str | None:
    for name, value in answer.headers:
        if name.lower() == "location" and value.strip():
            return value.strip()
    return None
