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
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import asyncio
import contextvars
import weakref
from collections import OrderedDict
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler
from scrapy.exceptions import DownloadTimeoutError

from crawler.handlers.addressguard import GuardedBackend

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

WIRE_META_KEY = "evidence_wire"
#: A download that never waits for a large-body slot (see ``_gated_chunks``).
UNGATED_META_KEY = "evidence_ungated"

# The origin of the request being sent, for choosing its connection pool: Scrapy's
# handler asks for a client without saying which request it is for.
_ORIGIN: contextvars.ContextVar[tuple[str, str, int | None] | None] = contextvars.ContextVar("evidence_origin", default=None)
# The large-body slot the request being read holds, if any (see _gated_chunks).
_SLOT: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar("evidence_large_slot", default=None)


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
        self._per_host = max(crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), 1)
        self._max_pools = max(crawler.settings.getint("EVIDENCE_CONNECTION_POOLS"), 1)
        # One small pool per origin: httpcore's pool checks every connection it holds
        # (a poll and a getpeername each) for every request it sends, so one shared pool
        # with idle connections to a hundred hosts spent more CPU than the download.
        self._pools: OrderedDict[tuple[str, str, int | None], Any] = OrderedDict()
        self._in_flight: dict[tuple[str, str, int | None], int] = {}
        # Each body is held whole until it is archived and judged: large ones are read a
        # few at a time, so that a report citing ten datasets does not hold ten at once.
        slots = crawler.settings.getint("EVIDENCE_LARGE_BODY_SLOTS")
        self._large_size = crawler.settings.getint("EVIDENCE_LARGE_BODY_SIZE")
        self._large_wait = crawler.settings.getfloat("EVIDENCE_LARGE_BODY_WAIT")
        self._large_slots = asyncio.Semaphore(slots) if slots > 0 and self._large_size > 0 else None
        self._stats = crawler.stats
        self._max_body = crawler.settings.getint("EVIDENCE_MAX_BODY_SIZE")
        super().__init__(crawler)

    async def download_request(self, request: Request) -> Response:
        # DOWNLOAD_TIMEOUT bounds each read; a server sending its head one byte at a
        # time never trips it. The recorder cuts slow bodies at the deadline (keeping
        # what came); this bounds the whole exchange, a little later.
        parts = urlsplit(request.url)
        origin = (parts.scheme, parts.hostname or "", parts.port)
        token = _ORIGIN.set(origin)
        # A body the recorder cuts below the large size is never large; a soft-404 probe
        # (cut at 1 MiB) must not wait for a slot that the page awaiting it may hold.
        cap = request.meta.get("evidence_max_body", self._max_body)
        gated = not request.meta.get(UNGATED_META_KEY) and (not cap or cap > self._large_size)
        held = [False]
        slot_token = _SLOT.set(held if gated else None)
        self._in_flight[origin] = self._in_flight.get(origin, 0) + 1
        try:
            if not self._deadline:
                response = await super().download_request(request)
            else:
                async with asyncio.timeout(self._deadline + 5):
                    response = await super().download_request(request)
            if held[0] and self._large_slots is not None:
                # The body lives as long as its response: Scrapy keeps the response until
                # the items made from it are through the pipeline, which is when the
                # body is let go. The slot is handed over to it.
                weakref.finalize(response, self._large_slots.release)
                held[0] = False
            return response
        except TimeoutError as exc:
            raise DownloadTimeoutError(
                f"{request.url} took longer than EVIDENCE_DOWNLOAD_DEADLINE ({self._deadline:g} s)"
            ) from exc
        finally:
            if held[0] and self._large_slots is not None:
                self._large_slots.release()
            _SLOT.reset(slot_token)
            _ORIGIN.reset(token)
            self._in_flight[origin] -= 1
            if not self._in_flight[origin]:
                del self._in_flight[origin]

    def _get_client(self, proxy_url: str | None) -> Any:
        origin = _ORIGIN.get()
        if proxy_url is not None or origin is None:
            return super()._get_client(proxy_url)
        client = self._pools.get(origin)
        if client is not None:
            self._pools.move_to_end(origin)
            return client
        client = self._pools[origin] = self._make_client()
        if len(self._pools) > self._max_pools:
            # Close the least recently used pool with nothing in flight.
            for old in self._pools:
                if old not in self._in_flight:
                    asyncio.ensure_future(self._pools.pop(old).aclose())
                    break
        return client

    async def close(self) -> None:
        for client in self._pools.values():
            await client.aclose()
        self._pools.clear()
        await super().close()

    def _make_client(self, proxy_url: str | None = None) -> Any:
        import httpx2

        # Scrapy's single pool kept CONCURRENT_REQUESTS connections in all, idle ones
        # included: a crawl across more hosts than that evicted every idle connection
        # before its host came round again, and paid a new TCP (and TLS) set-up per URL.
        # Each origin's pool keeps as many as the host may have requests in flight.
        self._limits = httpx2.Limits(max_connections=None, max_keepalive_connections=self._per_host)
        client = super()._make_client(proxy_url)
        # Behind a proxy the proxy resolves names: the operator chose it, and only it
        # is connected to. Otherwise every connection goes through the address guard.
        if not self._allow_private and proxy_url is None:
            pool = client._transport._pool  # type: ignore[attr-defined]  # private: pinned and tested
            pool._network_backend = GuardedBackend(pool._network_backend)
        return client

    def _iter_body_chunks(self, response: Any) -> AsyncIterator[bytes]:  # type: ignore[override]
        held = _SLOT.get()
        if self._large_slots is None or held is None:  # no slots, or a small capped body
            return cast("AsyncIterator[bytes]", response.aiter_raw())
        return self._gated_chunks(response, self._large_slots, held)

    async def _gated_chunks(self, response: Any, slots: asyncio.Semaphore, held: list[bool]) -> AsyncIterator[bytes]:
        """The body's chunks; past EVIDENCE_LARGE_BODY_SIZE (announced, or received when
        no length was announced) only once a large-body slot is free. While it waits,
        nothing is read and the server's send blocks; no read timeout runs. The slot is
        released by ``download_request`` (with the response, or on failure)."""
        announced = _content_length(response)
        if announced is not None and announced > self._large_size:
            held[0] = await self._take(slots)
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if not held[0] and announced is None and received > self._large_size:
                held[0] = await self._take(slots)
            yield chunk

    async def _take(self, slots: asyncio.Semaphore) -> bool:
        if slots.locked() and self._stats is not None:
            self._stats.inc_value("evidence/large_body/waited")
        try:
            # Bounded: a server whose send blocks too long may give up on us, which would
            # cut a body that was fine. Past the wait it is read anyway, memory or not.
            async with asyncio.timeout(self._large_wait or None):
                await slots.acquire()
        except TimeoutError:
            if self._stats is not None:
                self._stats.inc_value("evidence/large_body/not_waited")
            return False
        return True

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


def _content_length(response: Any) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
