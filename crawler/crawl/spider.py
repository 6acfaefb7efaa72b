"""The spider: one request per distinct cited URL, every outcome turned into an item.

Cited URLs with a cited date are also looked up in web archives, after them and below
them in priority (``crawler/crawl/lookups.py``).

A page that answers 2xx is also probed (see ``crawler/verdicts/soft404.py``): a random
sibling URL is fetched once per URL shape and run, so the pipeline can tell a real page
from a "not found" page served with 200. Pages byte-identical to their last good
capture are not probed again.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from urllib.parse import urlsplit
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.browser.detect import looks_script_built
from crawler.browser.model import Rendered
from crawler.browser.renderer import Answer, BrowserRenderer, answer_of, decoded_answer, renderer_from_settings
from crawler.browser.routing import EngineFetcher
from crawler.crawl.throttle import EXPECTED_STATUSES_META_KEY
from crawler.crawl.handlers.rawhttp import UNGATED_META_KEY
from crawler.crawl.failures import classify
from crawler.warc.recorder import (
    CHECKED_AT_META_KEY,
    CONDITIONAL_META_KEY,
    HOPS_META_KEY,
    MAX_BODY_META_KEY,
    Hop,
)
from crawler.exceptions import ArchiveError
from crawler.warc.dedup import Original
from crawler.warc.reader import read_record
from crawler.store.mementos import LookupTask, archives_from
from crawler.crawl.lookups import Lookups, MementoItem
from crawler.verdicts.soft404 import is_root, probe_key, probe_url

TARGET_META_KEY = "evidence_target"
# Set on a request from start() until it reaches the downloader (see start()).
_WAITING_META_KEY = "evidence_waiting"
PROBE_MAX_BODY = 1 << 20
# What a server answers, when well, for a page it does not have: a probe's healthy answers.
PROBE_EXPECTED_STATUSES = frozenset({400, 403, 404, 410})


@dataclass
class Fetched:
    """What one fetch (cited URL or probe) produced, archived hops included."""

    url: str
    checked_at: datetime
    hops: list[Hop] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    #: final body as received (content coding kept), for the verdict
    body: bytes = b""
    content_encoding: str | None = None
    #: the page rendered in the browser (crawler/browser/), if it was
    rendered: Rendered | None = None


@dataclass
class CaptureItem(Fetched):
    probe: Fetched | None = None


class CitationSpider(scrapy.Spider):
    name = "citations"

    def __init__(
        self,
        targets: Iterable[str] = (),
        known_digests: dict[str, str] | None = None,
        originals: dict[str, Original] | None = None,
        lookups: Iterable[LookupTask] = (),
        rendered: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        #: URLs whose last capture was rendered in the browser (``crawler.runs.lifecycle.rendered_before``)
        self.rendered_before = frozenset(rendered)
        #: web archive lookups owed (``crawler.store.mementos.due_lookups``); none in frontier workers
        self.lookup_tasks = list(lookups)
        self.targets = by_host_in_turn(dict.fromkeys(targets))
        self.known_digests = known_digests or {}
        #: per URL, its last archived full response (read by the WARC recorder too)
        self.originals = originals or {}
        self._probes: dict[str, asyncio.Future[Fetched]] = {}
        # Requests handed to the scheduler and not yet to the downloader.
        self._waiting = 0
        self._moved = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> CitationSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._reached_downloader, signals.request_reached_downloader)
        crawler.signals.connect(spider._reached_downloader, signals.request_dropped)
        spider.browser_mode, spider.renderer = renderer_from_settings(crawler.settings)
        if spider.renderer is not None:
            crawler.signals.connect(spider._close_browser, signals.spider_closed)
        return spider

    browser_mode = "never"
    #: renders pages in headless Chromium (crawler/browser/); None: nothing is rendered
    renderer: BrowserRenderer | None = None

    async def _close_browser(self, spider: scrapy.Spider, reason: str) -> None:
        assert self.renderer is not None
        await self.renderer.close()

    async def start(self) -> AsyncIterator[scrapy.Request | MementoItem]:
        # Scrapy takes every start request at once: 10,000 URLs were 10,000 requests, with
        # their headers and meta, held in the scheduler from the first second (14 MB on a
        # re-check). A few per download slot keep the downloader as busy.
        backlog = 2 * max(self.settings.getint("CONCURRENT_REQUESTS"), 1)
        for url in self.targets:
            while self._waiting >= backlog:
                self._moved.clear()
                await self._moved.wait()
            request = self.request_for(url)
            request.meta[_WAITING_META_KEY] = True
            self._waiting += 1
            yield request
        # After every cited URL: lookups only take the slots the captures leave free.
        lookups = Lookups(self.lookup_tasks, archives_from(self.settings.get("EVIDENCE_ARCHIVES")))
        for job in lookups.first_requests():
            while self._waiting >= backlog:
                self._moved.clear()
                await self._moved.wait()
            first = lookups.next(job)
            if isinstance(first, scrapy.Request):
                # Let go of by _reached_downloader, as a cited URL's request is.
                first.meta[_WAITING_META_KEY] = True
                self._waiting += 1
            yield first

    def _reached_downloader(self, request: scrapy.Request) -> None:
        self._release(request.meta)

    def _release(self, meta: dict[str, Any]) -> None:
        # Also called with a request's outcome: one stopped by a downloader middleware
        # (robots.txt) never reaches the downloader.
        if meta.pop(_WAITING_META_KEY, False):
            self._waiting -= 1
            self._moved.set()

    def request_for(self, url: str) -> scrapy.Request:
        """The request that checks one cited URL (also built by frontier workers)."""
        # Each cited URL is fetched as a fresh visitor: a cookie jar of its own, kept
        # through its redirects and retries, so no capture depends on which page of
        # the same site happened to be fetched before it.
        meta: dict[str, Any] = {TARGET_META_KEY: url, "cookiejar": url}
        conditional = self.settings.getbool("EVIDENCE_CONDITIONAL_REQUESTS") and not self._renders_again(url)
        headers = self._validators(url) if conditional else {}
        if headers:
            meta[CONDITIONAL_META_KEY] = True
        return scrapy.Request(
            url,
            callback=self.parse,
            errback=self.failed,
            headers=headers,
            # Re-checks must fetch every time; the spider already de-duplicates.
            dont_filter=True,
            meta=meta,
        )

    def _renders_again(self, url: str) -> bool:
        """Whether the page will be rendered whatever its HTML: then it is fetched whole. An
        application's shell answers 304 night after night while the page it builds changes,
        and a 304 has no document to render."""
        return self.renderer is not None and (self.browser_mode == "always" or url in self.rendered_before)

    def _validators(self, url: str) -> dict[str, str]:
        """Conditional-request headers from the URL's last archived response, if it had any."""
        original = self.originals.get(url)
        if original is None:
            return {}
        headers = {}
        if original.etag:
            headers["If-None-Match"] = original.etag
        if original.last_modified:
            headers["If-Modified-Since"] = original.last_modified
        return headers

    def _forget_cookies(self, meta: dict[str, Any]) -> None:
        """Let go of the cookie jar of a URL that is done (redirects and retries included).

        Scrapy's cookie middleware keeps every jar it was asked for until the crawl ends,
        and each cited URL has its own (``request_for``): 0.6 KB each, 6 MB per 10,000
        URLs, for cookies no later request will send.
        """
        if self._cookies is not None:
            self._cookies.jars.pop(meta.get("cookiejar"), None)

    @functools.cached_property
    def _cookies(self) -> CookiesMiddleware | None:
        # Looked up on first use: the middlewares are built after the spider.
        return self.crawler.get_downloader_middleware(CookiesMiddleware)

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[CaptureItem]:
        meta = response.meta
        self._release(meta)
        self._forget_cookies(meta)
        item = CaptureItem(
            url=meta[TARGET_META_KEY],
            checked_at=_checked_at(meta),
            hops=meta.get(HOPS_META_KEY, []),
            body=response.body,
            content_encoding=_header(response, b"Content-Encoding"),
        )
        document = self._document_of(item, response)
        if document is not None and self._wants_render(document):
            item.rendered = await self._render(response.url, document)
        if self.settings.getbool("EVIDENCE_PROBE_ENABLED") and self._wants_probe(item, response):
            item.probe = await self._probe(response.url, rendered=item.rendered is not None)
        yield item

    def _document_of(self, item: Fetched, response: Response) -> Answer | None:
        """The page as the browser would be handed it, if it may be rendered: an HTML 2xx
        answer, or a 304 to our conditional request, which says the page is the archived
        original (read back from the archive: an application's shell that answers 304 every
        night still builds a page that may have changed)."""
        if self.renderer is None or not item.hops or item.hops[-1].truncated:
            return None
        last = item.hops[-1]
        limit = self.settings.getint("EVIDENCE_MAX_BODY_SIZE")
        if 200 <= response.status < 300:
            content_type = last.content_type
            document = answer_of(response, limit)
        elif response.status == 304 and last.record_type == "revisit" and last.payload_at is not None:
            try:
                original = read_record(self.archive_dir, *last.payload_at)
            except ArchiveError as exc:
                self.logger.warning("%s: cannot read back the original its 304 vouches for, not rendered: %s", item.url, exc)
                return None
            content_type = original.http_header("Content-Type")
            document = decoded_answer(200, original.http_headers(), original.http_body, original.http_header("Content-Encoding"), limit)
        else:
            return None
        if (content_type or "").split(";")[0].strip().lower() not in ("text/html", "application/xhtml+xml"):
            return None
        return document

    def _wants_render(self, document: Answer) -> bool:
        """Whether the page is rendered in the browser: under ``always``, or under ``auto``
        when its HTML looks built by script (crawler/browser/detect.py)."""
        return self.browser_mode == "always" or looks_script_built(document.body)

    @functools.cached_property
    def archive_dir(self) -> Path:
        return Path(self.settings.get("EVIDENCE_ARCHIVE_DIR"))

    async def _render(self, url: str, document: Answer) -> Rendered:
        """The page in the browser, its main document being ``document`` (fetched already)."""
        assert self.renderer is not None
        rendered = await self.renderer.render(url, document, EngineFetcher(self.crawler, url))
        self.crawler.stats.inc_value(f"evidence/browser/{rendered.outcome}")
        if rendered.error_kind:
            self.logger.warning("render of %s failed (%s): %s", url, rendered.error_kind, rendered.error)
        return rendered

    def failed(self, failure: Failure) -> Iterable[CaptureItem]:
        request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        self._release(meta)
        self._forget_cookies(meta)
        exc = failure.value
        assert exc is not None  # an errback's failure always carries its exception
        yield CaptureItem(
            url=meta[TARGET_META_KEY],
            checked_at=_checked_at(meta),
            hops=meta.get(HOPS_META_KEY, []),
            error_kind=classify(exc),
            error=f"{type(exc).__name__}: {exc}"[:500],
        )

    def _wants_probe(self, item: CaptureItem, response: Response) -> bool:
        if not item.hops or item.hops[-1].truncated:
            return False
        if item.rendered is not None and response.status in (200, 304):
            # A rendered page is judged on what its script built, which a shell byte-identical
            # to last time does not vouch for: its probe is made (and rendered) every run.
            return True
        if response.status != 200:
            return False
        # Byte-identical to a capture already judged present: the probe would say what it said then.
        return self.known_digests.get(item.url) != item.hops[-1].payload_digest

    async def _probe(self, url: str, *, rendered: bool = False) -> Fetched | None:
        if is_root(url):
            return None
        # The probe of a rendered page is rendered too, and is not the answer for an
        # unrendered page of the same shape (nor the other way round).
        key = probe_key(url) + (" rendered" if rendered else "")
        if key not in self._probes:
            # Drawn only for a new shape: 25 letters from the system's random source
            # cost more than the rest of this method.
            target = probe_url(url)
            if target is None:
                return None
            future: asyncio.Future[Fetched] = asyncio.get_running_loop().create_future()
            self._probes[key] = future
            future.set_result(await self._fetch_probe(target, rendered=rendered))
        return await self._probes[key]

    async def _fetch_probe(self, url: str, *, rendered: bool = False) -> Fetched:
        # A random value can ask a server for anything (a huge page, a long report): a
        # probe only needs the beginning of the answer.
        # A download slot of its own, and no large-body slot to wait for: the page awaiting
        # this probe holds one of its host's download slots and perhaps a large-body slot
        # (crawler/crawl/handlers/rawhttp.py), and the host's other downloads may be waiting
        # for that page to be let go. It is one request per URL shape and run.
        host = urlsplit(url).hostname or ""
        meta = {
            "dont_retry": True, "cookiejar": url, MAX_BODY_META_KEY: PROBE_MAX_BODY, "download_slot": f"{host} (probes)",
            UNGATED_META_KEY: True,
            # Its slot's pace is measured on them as on a page's 200: answers taken for
            # errors would hold it at AUTOTHROTTLE_START_DELAY, and the pages awaiting it.
            EXPECTED_STATUSES_META_KEY: PROBE_EXPECTED_STATUSES,
        }
        return await self._download(url, meta, render=rendered)

    async def _download(self, url: str, meta: dict[str, Any], *, render: bool = False) -> Fetched:
        """One request outside the crawl's queue (a probe, a second fetch), archived by the
        recorder like every other; a failure is an answer too, kept as its error kind."""
        request = scrapy.Request(url, dont_filter=True, meta=meta)
        assert self.crawler.engine is not None
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # noqa: BLE001 - every failure is an answer about the site
            hops = request.meta.get(HOPS_META_KEY, [])
            return Fetched(url=url, checked_at=_checked_at(request.meta), hops=hops, error_kind=classify(exc))
        finally:
            self._forget_cookies(meta)
        fetched = Fetched(
            url=url,
            checked_at=_checked_at(response.meta),
            hops=response.meta.get(HOPS_META_KEY, []),
            body=response.body,
            content_encoding=_header(response, b"Content-Encoding"),
        )
        if render and 200 <= response.status < 300:
            # A probe answers 2xx or not, with no conditional request: its own answer or nothing.
            document = self._document_of(fetched, response)
            if document is not None:
                fetched.rendered = await self._render(response.url, document)
        return fetched

    async def fetch_again(self, url: str, *, render: bool = False) -> Fetched:
        """The cited URL once more, seconds after its capture: what differs between the
        two answers is per-request noise (crawler/verdicts/fingerprint.py, ``Noise``).

        Through the host's own download slot, so it waits out the host's delay like any
        request; a cookie jar of its own and no validators, as a fresh visitor. The
        exchange is archived by the recorder like every other. With ``render``, the page is
        rendered again too (its script may fetch what differs).
        """
        return await self._download(url, {"dont_retry": True, "cookiejar": f"again {url}"}, render=render)


def by_host_in_turn(urls: Iterable[str]) -> list[str]:
    """``urls`` with their hosts taking turns: the first URL of each host (in order of first
    appearance), then the second of each, and so on.

    The spider hands the scheduler a few requests at a time (``start``), so the order is
    what spreads the downloads over hosts: a report citing 500 pages of one site before
    any other would otherwise keep every slot waiting on that site's two connections.
    """
    queues: dict[str, list[str]] = {}
    for url in urls:
        queues.setdefault((urlsplit(url).hostname or "").lower(), []).append(url)
    turns: list[list[str]] = []
    for queue in queues.values():
        for turn, url in enumerate(queue):
            if turn == len(turns):
                turns.append([])
            turns[turn].append(url)
    return [url for urls_of_turn in turns for url in urls_of_turn]


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value is not None else None


def _checked_at(meta: dict[str, Any]) -> datetime:
    # Set by the recorder when the first attempt left; a request that never reached
    # the downloader (refused by robots.txt, say) is checked now.
    value: datetime | None = meta.get(CHECKED_AT_META_KEY)
    return value or datetime.now(timezone.utc)
