"""Scrapy's download handler for http and https, on this project's own HTTP/1.1 client
(``crawler/crawl/handlers/http1.py``), keeping what Scrapy's ``Response`` drops.

Scrapy's ``Response`` has no reason phrase, folds header-name case and loses the order of
different header names, and does not say which headers were actually sent. The handler
puts all of that into ``request.meta[WIRE_META_KEY]`` for the WARC recorder, with both
heads' bytes as they went over the wire.

What it does besides the exchange itself:

- connections are kept per origin and local address (up to CONCURRENT_REQUESTS_PER_DOMAIN
  idle ones each, EVIDENCE_CONNECTION_POOLS origins, the least recently used dropped first);
- without a proxy, every connection goes to an address checked by the address guard;
  a rendered page's request (``PAGE_ORIGIN_META_KEY``) to another origin than the page's
  is checked even with EVIDENCE_ALLOW_PRIVATE: a script must not widen what the operator allowed;
- a connection leaves from DOWNLOAD_BIND_ADDRESS, or the request's ``bindaddress`` meta
  (the address only: a fixed local port would allow one connection at a time);
- EVIDENCE_DOWNLOAD_DEADLINE bounds the whole exchange, DOWNLOAD_TIMEOUT each wait;
- large bodies are read a few at a time (EVIDENCE_LARGE_BODY_*);
- a body cut short by the server (early close, reset, broken framing) is handed on with
  the bytes received and the ``dataloss`` flag, as DOWNLOAD_FAIL_ON_DATALOSS=False asks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import SplitResult, urlsplit

from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    NotSupported,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.http import Headers
from scrapy.utils.url import add_http_if_no_scheme

from crawler.crawl.compat import (
    check_stop_download,
    get_dataloss_msg,
    get_maxsize_msg,
    get_warnsize_msg,
    log_sslobj_debug_info,
    make_insecure_ssl_context,
    make_response,
    make_ssl_context,
    normalize_bind_address,
)
from crawler.crawl.handlers.addressguard import BlockedAddressError, public_address
from crawler.crawl.handlers.http1 import Connection, ConnectionClosed, Framing, Head, ProtocolError, ReadTimeout, framing

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

WIRE_META_KEY = "evidence_wire"
#: A download that never waits for a large-body slot (see ``_read_response``).
UNGATED_META_KEY = "evidence_ungated"
#: On a rendered page's requests: the page's origin (``origin_of``). Private addresses are
#: reached only on it, whatever EVIDENCE_ALLOW_PRIVATE says for other requests.
PAGE_ORIGIN_META_KEY = "evidence_page_origin"


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port always written."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = 0
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class Wire:
    """One exchange as the HTTP client saw it."""

    http_version: str
    reason: bytes
    response_headers: list[tuple[bytes, bytes]]
    method: str
    target: bytes
    request_headers: list[tuple[bytes, bytes]]
    #: the response's head as received, status line to blank line (interim 1xx ones left out)
    response_head: bytes
    #: the request's head as sent, less a Proxy-Authorization line (credentials are not archived)
    request_head: bytes
    #: response header lines that were skipped as no header (see ``http1.parse_head``)
    malformed_headers: tuple[bytes, ...] = ()


_DEFAULT_PORTS = {"http": 80, "https": 443}
# A request that may be sent again when a kept-alive connection turns out closed.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Servers close idle connections after a few seconds (nginx: 75, Apache: 5); one kept
# longer than this is more likely closed than useful.
_IDLE_EXPIRY = 5.0
# How often the deadline watchdog looks: a deadline is met to within this many seconds.
_WATCHDOG_EVERY = 1.0
# Scrapy's own default when a request carries no download_timeout.
_DEFAULT_TIMEOUT = 10.0

#: scheme, host, port, proxy URL and local address of a connection pool
Origin = tuple[str, str, int, str | None, str | None]


class RawHttpDownloadHandler(BaseDownloadHandler):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self._allow_private = settings.getbool("EVIDENCE_ALLOW_PRIVATE")
        self._deadline = settings.getfloat("EVIDENCE_DOWNLOAD_DEADLINE")
        self._per_host = max(settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), 1)
        self._max_pools = max(settings.getint("EVIDENCE_CONNECTION_POOLS"), 1)
        # Idle connections per origin, least recently used origin first. A connection in
        # use is in no pool; there is no limit on those (the downloader bounds them).
        self._idle: OrderedDict[Origin, list[Connection]] = OrderedDict()
        self._sweeper: asyncio.TimerHandle | None = None
        # Downloads under EVIDENCE_DOWNLOAD_DEADLINE: their task, and when it passes.
        self._watched: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.TimerHandle | None = None
        self._closing = False
        # Each body is held whole until it is archived and judged: large ones are read a
        # few at a time, so that a report citing ten datasets does not hold ten at once.
        slots = settings.getint("EVIDENCE_LARGE_BODY_SLOTS")
        self._large_size = settings.getint("EVIDENCE_LARGE_BODY_SIZE")
        self._large_wait = settings.getfloat("EVIDENCE_LARGE_BODY_WAIT")
        self._large_slots = asyncio.Semaphore(slots) if slots > 0 and self._large_size > 0 else None
        self._max_body = settings.getint("EVIDENCE_MAX_BODY_SIZE")
        self._stats = crawler.stats
        self._default_maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self._default_warnsize = settings.getint("DOWNLOAD_WARNSIZE")
        self._fail_on_dataloss = settings.getbool("DOWNLOAD_FAIL_ON_DATALOSS")
        self._fail_on_dataloss_warned = False
        self._tls_verbose_logging = settings.getbool("DOWNLOADER_CLIENT_TLS_VERBOSE_LOGGING")
        # Scrapy's context: DOWNLOAD_VERIFY_CERTIFICATES, DOWNLOADER_CLIENT_TLS_METHOD and
        # _CIPHERS apply as they did with the httpx handler. Only HTTP/1.1 is spoken.
        self._ssl_context = make_ssl_context(settings)
        self._ssl_context.set_alpn_protocols(["http/1.1"])
        self._proxy_ssl_context: ssl.SSLContext | None = None
        self._bind_host = self._bind_host_of(settings.get("DOWNLOAD_BIND_ADDRESS"), "DOWNLOAD_BIND_ADDRESS")

    def _bind_host_of(self, value: str | tuple[str, int] | None, source: str) -> str | None:
        bind = normalize_bind_address(value)
        if bind is None:
            return None
        host, port = bind
        if port:
            logger.warning(
                "%s specifies a port (%s), but %s binds only to an address (a fixed local port allows one "
                "connection at a time). Ignoring the port and binding only to %r.",
                source, port, type(self).__name__, host,
            )
        return host

    async def download_request(self, request: Request) -> Response:
        # A body the recorder cuts below the large size is never large; a soft-404 probe
        # (cut at 1 MiB) must not wait for a slot that the page awaiting it may hold.
        cap = request.meta.get("evidence_max_body", self._max_body)
        gated = self._large_slots is not None and not request.meta.get(UNGATED_META_KEY) and (
            not cap or cap > self._large_size
        )
        held = [False]
        task = asyncio.current_task() if self._deadline else None
        if task is not None:
            # DOWNLOAD_TIMEOUT bounds each read; a server sending its head one byte at a
            # time never trips it. The recorder cuts slow bodies at the deadline (keeping
            # what came); this bounds the whole exchange, a little later. One watchdog
            # for all downloads: a timer per download cost more than its exchange's parsing.
            loop = asyncio.get_running_loop()
            self._watched[task] = loop.time() + self._deadline + 5
            if self._watchdog is None:
                self._watchdog = loop.call_later(_WATCHDOG_EVERY, self._expire_overdue)
        try:
            response = await self._download(request, held if gated else None)
            if held[0] and self._large_slots is not None:
                # The body lives as long as its response: Scrapy keeps the response until
                # the items made from it are through the pipeline, which is when the
                # body is let go. The slot is handed over to it.
                weakref.finalize(response, self._large_slots.release)
                held[0] = False
            return response
        except asyncio.CancelledError as exc:
            if task is None or task not in self._expired:
                raise
            self._expired.discard(task)
            task.uncancel()
            raise DownloadTimeoutError(
                f"{request.url} took longer than EVIDENCE_DOWNLOAD_DEADLINE ({self._deadline:g} s)"
            ) from exc
        finally:
            if task is not None:
                self._watched.pop(task, None)
                self._expired.discard(task)
            if held[0] and self._large_slots is not None:
                self._large_slots.release()

    def _expire_overdue(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        overdue = [task for task, deadline in self._watched.items() if deadline <= now]
        for task in overdue:
            del self._watched[task]
            self._expired.add(task)
            task.cancel()
        self._watchdog = loop.call_later(_WATCHDOG_EVERY, self._expire_overdue) if self._watched else None

    async def _download(self, request: Request, held: list[bool] | None) -> Response:
        timeout = float(request.meta.get("download_timeout", _DEFAULT_TIMEOUT))
        parts = urlsplit(request.url)
        scheme = parts.scheme
        if scheme not in _DEFAULT_PORTS:
            raise UnsupportedURLSchemeError(f"{type(self).__name__} fetches http and https only, not {request.url}")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise DownloadFailedError(f"cannot fetch {request.url}: {exc}") from exc
        proxy = request.meta.get("proxy")
        bind = request.meta.get("bindaddress")
        origin: Origin = (
            scheme, parts.hostname or "", port, add_http_if_no_scheme(proxy) if proxy else None,
            self._bind_host if bind is None else self._bind_host_of(bind, "The 'bindaddress' request meta key"),
        )
        data, wire_headers, target, sent_head = _request_bytes(request, parts, origin)
        page_origin = request.meta.get(PAGE_ORIGIN_META_KEY)
        # A pooled connection may have been made to a private address the operator allowed
        # for a cited URL: a guarded request gets a connection of its own, checked.
        guarded = not self._allow_private or (page_origin is not None and origin_of(request.url) != page_origin)
        start = time.monotonic()
        while True:
            connection = self._take(origin) if not (guarded and self._allow_private) else None
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin, request, timeout, guarded=guarded)
            connection.busy = True
            try:
                connection.send(data)
                head = await connection.read_head(timeout)
            except ConnectionClosed as exc:
                connection.close()
                # The server closed a kept-alive connection as it was being reused: that
                # says nothing about the request, which may go again on a new one.
                if reused and not exc.received and request.method in _IDEMPOTENT:
                    continue
                raise DownloadFailedError(f"{request.url}: {exc} without sending a response") from exc
            except ReadTimeout as exc:
                connection.close()
                raise _timeout(request, timeout) from exc
            except ProtocolError as exc:
                connection.close()
                raise DownloadFailedError(f"{request.url}: {exc}") from exc
            except BaseException:
                connection.close()
                raise
            break
        request.meta["download_latency"] = time.monotonic() - start
        request.meta[WIRE_META_KEY] = Wire(
            http_version=head.version,
            reason=head.reason,
            response_headers=head.headers,
            method=request.method,
            target=target,
            request_headers=wire_headers,
            response_head=head.raw,
            request_head=sent_head,
            malformed_headers=head.malformed,
        )
        try:
            return await self._read_response(request, origin, connection, head, timeout, held)
        except BaseException:
            connection.close()
            raise

    async def _read_response(
        self, request: Request, origin: Origin, connection: Connection, head: Head, timeout: float, held: list[bool] | None
    ) -> Response:
        # What Headers(head.headers) makes (title-cased names, each with its list of
        # values), without its per-value type checks.
        grouped: dict[bytes, list[bytes]] = {}
        for name, value in head.headers:
            grouped.setdefault(name.title(), []).append(value)
        headers = Headers()
        dict.update(headers, grouped)
        try:
            frame = framing(head, request.method)
        except ProtocolError as exc:
            raise DownloadFailedError(f"{request.url}: {exc}") from exc
        maxsize: int = request.meta.get("download_maxsize", self._default_maxsize)
        warnsize: int = request.meta.get("download_warnsize", self._default_warnsize)
        expected = frame.length
        if maxsize and expected and expected > maxsize:
            _cancel_maxsize(expected, maxsize, request, expected=True)
        warned = False
        if warnsize and expected and expected > warnsize:
            warned = True
            logger.warning(get_warnsize_msg(expected, warnsize, request, expected=True))
        args: dict[str, Any] = {
            "url": request.url,
            "status": head.status,
            "headers": headers,
            "certificate": connection.certificate,
            "ip_address": connection.ip_address,
            "protocol": head.version,
        }
        if self._tls_verbose_logging and connection.transport is not None:
            ssl_object = connection.transport.get_extra_info("ssl_object")
            if isinstance(ssl_object, ssl.SSLObject):
                log_sslobj_debug_info(ssl_object)
        crawler = self.crawler
        if stop := check_stop_download(
            signals.headers_received, crawler, request, headers=headers, body_length=expected
        ):
            connection.close()
            return make_response(**args, stop_download=stop)

        if held is not None and expected is not None and expected > self._large_size:
            held[0] = await self._take_slot()
        body = _Body()
        received = 0
        try:
            async for chunk in connection.read_body(frame, timeout):
                body.write(chunk)
                received += len(chunk)
                if held is not None and not held[0] and expected is None and received > self._large_size:
                    held[0] = await self._take_slot()
                if stop := check_stop_download(signals.bytes_received, crawler, request, data=chunk):
                    connection.close()
                    return make_response(**args, body=body.value(), stop_download=stop)
                if maxsize and received > maxsize:
                    body = _Body()
                    _cancel_maxsize(received, maxsize, request, expected=False)
                if warnsize and received > warnsize and not warned:
                    warned = True
                    logger.warning(get_warnsize_msg(received, warnsize, request, expected=False))
        except ReadTimeout as exc:
            raise _timeout(request, timeout) from exc
        except (ConnectionClosed, ProtocolError) as exc:
            # Scrapy's handlers count only a clean early close as data loss; a reset or
            # broken framing in the middle of the body loses data just the same, and the
            # bytes that did arrive are evidence too (archived as WARC-Truncated: disconnect).
            connection.close()
            if not request.meta.get("download_fail_on_dataloss", self._fail_on_dataloss):
                return make_response(**args, body=body.value(), flags=["dataloss"])
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise ResponseDataLossError(str(exc)) from exc
        self._release(origin, connection, frame)
        return make_response(**args, body=body.value())

    async def _take_slot(self) -> bool:
        """Wait for a large-body slot; False if none came within EVIDENCE_LARGE_BODY_WAIT.
        While it waits the connection is not read, so the server's send blocks."""
        slots = self._large_slots
        assert slots is not None
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

    # --- connections ------------------------------------------------------------

    def _take(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        self._idle.move_to_end(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            # The most recently used one is the least likely to have been closed.
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < _IDLE_EXPIRY:
                return connection
            connection.close()
        return None

    def _release(self, origin: Origin, connection: Connection, frame: Framing) -> None:
        connection.busy = False
        if not frame.reusable or connection.closed or connection.leftover or self._closing:
            connection.close()
            return
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle[origin] = []
            if len(self._idle) > self._max_pools:
                for connection_ in self._idle.popitem(last=False)[1]:
                    connection_.close()
        else:
            self._idle.move_to_end(origin)
        if len(idle) >= self._per_host:
            connection.close()
            return
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        idle.append(connection)
        if self._sweeper is None:
            self._sweeper = loop.call_later(_IDLE_EXPIRY, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle for longer than _IDLE_EXPIRY: each holds a socket here
        and a slot on its server."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for origin in list(self._idle):
            idle = self._idle[origin]
            fresh = [c for c in idle if not c.closed and now - c.idle_since < _IDLE_EXPIRY]
            for connection in idle:
                if connection not in fresh:
                    connection.close()
            if fresh:
                self._idle[origin] = fresh
            else:
                del self._idle[origin]
        if self._idle:
            self._sweeper = loop.call_later(_IDLE_EXPIRY, self._sweep)

    async def _connect(self, origin: Origin, request: Request, timeout: float, *, guarded: bool = True) -> Connection:
        scheme, host, port, proxy, bind_host = origin
        local_addr = (bind_host, 0) if bind_host is not None else None
        loop = asyncio.get_running_loop()
        connection = Connection()
        tls = self._ssl_context if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout or None):
                if proxy is None:
                    # Behind a proxy the proxy resolves names: the operator chose it, and
                    # only it is connected to. Otherwise every connection goes through the
                    # address guard.
                    address = await public_address(host, port) if guarded else host
                    await loop.create_connection(
                        lambda: connection, address, port, ssl=tls,
                        server_hostname=host if tls is not None else None, local_addr=local_addr,
                    )
                else:
                    await self._connect_proxy(connection, proxy, origin, request, timeout, local_addr)
        except TimeoutError as exc:
            connection.close()
            raise _timeout(request, timeout) from exc
        except socket.gaierror as exc:
            raise CannotResolveHostError(f"cannot resolve {host}: {exc}") from exc
        except BlockedAddressError as exc:
            raise DownloadConnectionRefusedError(str(exc)) from exc
        except OSError as exc:  # refused, unreachable, TLS handshake failed...
            connection.close()
            raise DownloadConnectionRefusedError(f"cannot connect to {host}:{port}: {exc}") from exc
        except BaseException:
            connection.close()
            raise
        transport = connection.transport
        assert transport is not None
        peer = transport.get_extra_info("peername")
        if peer:
            connection.ip_address = ipaddress.ip_address(peer[0])
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            connection.certificate = ssl_object.getpeercert(binary_form=True)
        return connection

    async def _connect_proxy(
        self, connection: Connection, proxy: str, origin: Origin, request: Request, timeout: float,
        local_addr: tuple[str, int] | None,
    ) -> None:
        scheme, host, port, _, _ = origin
        loop = asyncio.get_running_loop()
        parts = urlsplit(proxy)
        if parts.scheme not in _DEFAULT_PORTS:
            raise NotSupported(f"{parts.scheme} proxies are not supported ({proxy})")
        proxy_tls = None
        if parts.scheme == "https":
            if self._proxy_ssl_context is None:
                self._proxy_ssl_context = make_insecure_ssl_context()
            proxy_tls = self._proxy_ssl_context
        await loop.create_connection(
            lambda: connection, parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme],
            ssl=proxy_tls, local_addr=local_addr,
        )
        if scheme != "https":
            return
        # https goes through a tunnel, so that the proxy sees neither the request nor the answer.
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")]
        auth = request.headers.get(b"Proxy-Authorization")
        if auth:
            lines.append(b"Proxy-Authorization: " + auth + b"\r\n")
        connection.busy = True
        try:
            connection.send(b"".join(lines) + b"\r\n")
            head = await connection.read_head(timeout)
        except (ConnectionClosed, ProtocolError) as exc:
            connection.close()
            raise DownloadConnectionRefusedError(f"proxy {parts.hostname}: no tunnel to {authority}: {exc}") from exc
        except ReadTimeout as exc:
            connection.close()
            raise _timeout(request, timeout) from exc
        if not 200 <= head.status < 300:
            connection.close()
            raise DownloadConnectionRefusedError(
                f"proxy {parts.hostname} refused a tunnel to {authority}: "
                f"{head.status} {head.reason.decode('latin-1')}".rstrip()
            )
        connection.busy = False
        transport = connection.transport
        assert transport is not None
        upgraded = await loop.start_tls(transport, connection, self._ssl_context, server_hostname=host)
        assert upgraded is not None
        connection.transport = upgraded

    async def close(self) -> None:
        self._closing = True
        for timer in (self._sweeper, self._watchdog):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._watchdog = None
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _request_bytes(
    request: Request, parts: SplitResult, origin: Origin
) -> tuple[bytes, list[tuple[bytes, bytes]], bytes, bytes]:
    """The request's bytes, its headers as recorded, its target (path and query) and its
    head as recorded (as sent, less Proxy-Authorization).

    Scrapy's request headers go as they are (the default-headers, user-agent and
    conditional-request middlewares set them), after Host. Proxy-Authorization is for
    the proxy only: sent to it with a plain http request, never recorded.
    """
    scheme, _, port, proxy, _ = origin
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target_bytes = target.encode("utf-8")
    line_target = target_bytes
    if proxy is not None and scheme == "http":
        line_target = request.url.partition("#")[0].encode("utf-8")
    recorded: list[tuple[bytes, bytes]] = []
    source = request.headers
    if b"Host" not in source:
        netloc = parts.netloc.rpartition("@")[2]
        if parts.port is not None and parts.port == _DEFAULT_PORTS.get(scheme):
            netloc = netloc.rpartition(":")[0]
        recorded.append((b"Host", netloc.encode("ascii")))
    proxy_auth: bytes | None = None
    # Headers keeps each name's values as a list already: no copies through its items().
    for name, values in dict.items(source):
        if name.lower() == b"proxy-authorization":
            proxy_auth = values[-1] if values else None
            continue
        for value in values:
            recorded.append((name, value))
    body = request.body
    if (body or request.method in _BODY_METHODS) and b"Content-Length" not in source:
        recorded.append((b"Content-Length", str(len(body)).encode("ascii")))
    out = [f"{request.method} ".encode("ascii"), line_target, b" HTTP/1.1\r\n"]
    for name, value in recorded:
        if b"\n" in value or b"\r" in value or b"\n" in name or b"\r" in name:
            raise DownloadFailedError(f"{request.url}: a line break in header {name!r} would split the request")
        out += (name, b": ", value, b"\r\n")
    out.append(b"\r\n")
    recorded_head = b"".join(out)
    if proxy_auth is not None and proxy is not None and scheme == "http":
        # Last, so that the recorded head is the sent one with this line left out.
        sent = [recorded_head[:-2], b"Proxy-Authorization: ", proxy_auth, b"\r\n\r\n", body]
        return b"".join(sent), recorded, target_bytes, recorded_head
    return recorded_head + body if body else recorded_head, recorded, target_bytes, recorded_head


class _Body:
    """A body as it arrives: most come in one piece, kept as it is; a longer one goes into
    a BytesIO, whose value is not copied again at the end (a 200 MB body is held once)."""

    __slots__ = ("_first", "_sink")

    def __init__(self) -> None:
        self._first = b""
        self._sink: BytesIO | None = None

    def write(self, chunk: bytes) -> None:
        if self._sink is not None:
            self._sink.write(chunk)
        elif not self._first:
            self._first = chunk
        else:
            self._sink = BytesIO()
            self._sink.write(self._first)
            self._sink.write(chunk)
            self._first = b""

    def value(self) -> bytes:
        return self._sink.getvalue() if self._sink is not None else self._first


def _timeout(request: Request, timeout: float) -> DownloadTimeoutError:
    return DownloadTimeoutError(f"Getting {request.url} took longer than {timeout:g} seconds.")


def _cancel_maxsize(size: int, limit: int, request: Request, *, expected: bool) -> NoReturn:
    message = get_maxsize_msg(size, limit, request, expected=expected)
    logger.warning(message)
    raise DownloadCancelledError(message)
