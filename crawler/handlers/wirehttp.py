"""An HTTP(S) download handler that keeps what Scrapy's ``Response`` drops.

Scrapy's ``Response`` has no reason phrase, folds header-name case and loses the
order of different header names, and does not say which headers were actually sent.
The httpx-based handler sees all of that; this subclass copies it into
``request.meta[WIRE_META_KEY]`` for the WARC recorder. It relies on a private Scrapy
hook (``_build_base_response_args``), so the Scrapy version is pinned and
``tests/test_warc_recording.py`` fails if the hook stops being called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncio

from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler
from scrapy.exceptions import DownloadTimeoutError

from crawler.handlers.addressguard import GuardedBackend

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

WIRE_META_KEY = "evidence_wire"


@dataclass(frozen=True)
class Wire:
    """One exchange as the HTTP client saw it."""

    http_version: str
    reason: bytes
    response_headers: list[tuple[bytes, bytes]]
    method: str
    target: bytes
    request_headers: list[tuple[bytes, bytes]]


class WireHttpDownloadHandler(HttpxDownloadHandler):
    # The httpx handler marks itself experimental and warns on every start; the
    # subset used here is covered by this project's tests instead.
    experimental = False

    def __init__(self, crawler: Crawler) -> None:
        self._allow_private = crawler.settings.getbool("EVIDENCE_ALLOW_PRIVATE")
        self._deadline = crawler.settings.getfloat("EVIDENCE_DOWNLOAD_DEADLINE")
        self._keepalive = crawler.settings.getint("EVIDENCE_KEEPALIVE_CONNECTIONS")
        super().__init__(crawler)

    async def download_request(self, request: Request) -> Response:
        # DOWNLOAD_TIMEOUT bounds each read; a server sending its head one byte at a
        # time never trips it. The recorder cuts slow bodies at the deadline (keeping
        # what came); this bounds the whole exchange, a little later.
        if not self._deadline:
            return await super().download_request(request)
        try:
            async with asyncio.timeout(self._deadline + 5):
                return await super().download_request(request)
        except TimeoutError as exc:
            raise DownloadTimeoutError(
                f"{request.url} took longer than EVIDENCE_DOWNLOAD_DEADLINE ({self._deadline:g} s)"
            ) from exc

    def _make_client(self, proxy_url: str | None = None) -> Any:
        import httpx2

        # Scrapy lets the pool keep CONCURRENT_REQUESTS connections in all, idle ones
        # included: a crawl across more hosts than that evicted every idle connection
        # before its host came round again and paid a new TCP (and TLS) set-up per URL.
        # The engine already bounds requests in flight; idle connections are bounded here.
        self._limits = httpx2.Limits(max_connections=None, max_keepalive_connections=self._keepalive)
        client = super()._make_client(proxy_url)
        # Behind a proxy the proxy resolves names: the operator chose it, and only it
        # is connected to. Otherwise every connection goes through the address guard.
        if not self._allow_private and proxy_url is None:
            pool = client._transport._pool  # type: ignore[attr-defined]  # private: pinned and tested
            pool._network_backend = GuardedBackend(pool._network_backend)
        return client

    @staticmethod
    def _is_dataloss_exception(exc: Exception) -> bool:
        # Scrapy counts only a clean early close as data loss; a reset or a read error in
        # the middle of the body loses data just the same, and the bytes that did arrive
        # are evidence too (archived, marked WARC-Truncated: disconnect).
        if HttpxDownloadHandler._is_dataloss_exception(exc):
            return True
        import httpx2

        return isinstance(exc, httpx2.ReadError | httpx2.RemoteProtocolError)

    @staticmethod
    def _build_base_response_args(response: Any, request: Request, headers: Headers) -> Any:
        args = HttpxDownloadHandler._build_base_response_args(response, request, headers)
        sent = response.request
        request.meta[WIRE_META_KEY] = Wire(
            http_version=response.http_version,
            reason=response.extensions.get("reason_phrase", b""),
            response_headers=list(response.headers.raw),
            method=sent.method,
            target=sent.url.raw_path,
            request_headers=list(sent.headers.raw),
        )
        return args
