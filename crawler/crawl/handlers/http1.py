"""HTTP/1.1 on one connection, as an ``asyncio.Protocol``: bytes in, a response head and
its body's bytes out.

Scrapy's httpx handler went through httpx, httpcore, h11 and anyio for each exchange,
which cost more CPU than the rest of a crawl's download path together. Here the head is
parsed with a few bytes operations and the body is framed by hand (RFC 9112 §6.3):
no body for HEAD, 1xx, 204 and 304; de-chunked for ``Transfer-Encoding: chunked``;
``Content-Length`` bytes; otherwise until the server closes. Content codings are left
alone: the body is archived as it was sent.

Errors are this module's own (``ProtocolError``, ``ReadTimeout``, ``ConnectionClosed``);
the download handler maps them to Scrapy's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

#: A head larger than this is not a response this crawler wants to believe.
MAX_HEAD_SIZE = 64 * 1024
# Past this many unread bytes the socket is not read: the reader is waiting (for a
# large-body slot, or for its consumer), and the server's send should block meanwhile.
# One read of asyncio's (256 KiB): ten datasets waiting for a large-body slot held 1 MiB
# each at 1 MiB, while pausing and resuming costs two epoll calls per read.
_PAUSE_AT = 256 * 1024
# A chunk-size line or a trailer line longer than this is garbage.
_MAX_LINE = 8 * 1024
# RFC 9112 §2.3: HTTP-version is "HTTP/" DIGIT "." DIGIT, nothing else.
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
# RFC 9112 §7.1: chunk-size is hex digits only (int(x, 16) also takes "1_0", " +1",
# "0x1"), then optional whitespace and extensions. Sixteen digits are 2**64: past that
# it is no size.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;.*)?", re.DOTALL)


class ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.x response."""


class ReadTimeout(Exception):
    """No byte arrived within the read timeout."""


class ConnectionClosed(Exception):
    """The connection ended (EOF or an error) before the message did."""

    def __init__(self, message: str, *, received: bool) -> None:
        super().__init__(message)
        #: whether any byte of this response had arrived
        self.received = received


@dataclass(slots=True)
class Head:
    """A response's status line and headers, as received."""

    version: str
    status: int
    reason: bytes
    #: raw names and values, in received order, repeated ones kept (obs-fold unfolded)
    headers: list[tuple[bytes, bytes]]
    #: the head's bytes exactly as they came, from the status line to the blank line
    raw: bytes = b""
    #: header lines that are no header (no colon, no name), skipped as browsers do
    malformed: tuple[bytes, ...] = ()

    def values(self, name: bytes) -> list[bytes]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


class Connection(asyncio.Protocol):
    """One client connection. Used by one exchange at a time; the pool hands it on."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        #: set once the peer closed, the connection failed or it was closed here
        self.closed = False
        self._error: BaseException | None = None
        #: an exchange is on it (bytes arriving on an idle connection make it unusable)
        self.busy = False
        #: loop.time() when it was last handed back to its pool
        self.idle_since = 0.0
        #: the address connected to (the proxy's, behind a proxy)
        self.ip_address: IPv4Address | IPv6Address | None = None
        #: the server's certificate, DER (https only)
        self.certificate: bytes | None = None

    # --- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            # Nothing was asked: a server talking on an idle connection is not to be trusted with the next request.
            self.closed = True
            if self.transport is not None:
                self.transport.abort()
            return
        self._buffer += data
        if not self._paused and len(self._buffer) > _PAUSE_AT and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is not None:
            self._error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- used by the exchange ---------------------------------------------------

    def close(self) -> None:
        """Drop the connection now (mid-message, nothing more to say to the server)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def send(self, data: bytes) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionClosed("the connection closed before the request was sent", received=False)
        self.transport.write(data)

    async def _more(self, timeout: float | None) -> None:
        """Wait for more bytes (or the end); ``ConnectionClosed`` if none can come."""
        if self.closed:
            raise self._closed_error()
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter) if timeout else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _closed_error(self, message: str = "the server closed the connection") -> ConnectionClosed:
        error = ConnectionClosed(f"{message}: {self._error}" if self._error else message, received=False)
        error.__cause__ = self._error
        return error

    async def read_head(self, timeout: float | None) -> Head:
        """The next final response head (1xx ones are skipped)."""
        received = False
        scanned = 0
        while True:
            buffer = self._buffer
            if not scanned and buffer and buffer[0] in b"\r\n":
                # Empty lines before the status line are not part of the message
                # (RFC 9112 §2.2): dropped, so that the head begins with its status line.
                blank = len(buffer) - len(buffer.lstrip(b"\r\n"))
                received = True
                del buffer[:blank]
            end, size = _head_end(buffer, scanned)
            if end < 0:
                if len(buffer) > MAX_HEAD_SIZE:
                    raise ProtocolError(f"response head larger than {MAX_HEAD_SIZE} bytes")
                scanned = max(len(buffer) - 3, 0)
                received = received or bool(buffer)
                try:
                    await self._more(timeout)
                except ConnectionClosed as exc:
                    exc.received = received
                    raise
                continue
            if end > MAX_HEAD_SIZE:
                raise ProtocolError(f"response head larger than {MAX_HEAD_SIZE} bytes")
            raw = bytes(buffer[: end + size])
            del buffer[: end + size]
            scanned = 0
            received = True
            head = parse_head(raw)
            if 100 <= head.status < 200 and head.status != 101:
                continue
            return head

    async def read_body(self, framing: Framing, timeout: float | None) -> AsyncIterator[bytes]:
        """The body's bytes (de-chunked, not decoded), as they arrive."""
        if framing.length is not None:
            remaining = framing.length
            while remaining:
                buffer = self._buffer
                if not buffer:
                    try:
                        await self._more(timeout)
                    except ConnectionClosed as exc:
                        raise ConnectionClosed(
                            f"{exc} with {remaining} of {framing.length} body bytes missing", received=True
                        ) from exc.__cause__
                    continue
                if len(buffer) <= remaining:
                    chunk = bytes(buffer)
                    buffer.clear()
                else:
                    chunk = bytes(buffer[:remaining])
                    del buffer[:remaining]
                remaining -= len(chunk)
                yield chunk
        elif framing.chunked:
            decoder = _Dechunker()
            while True:
                chunk = decoder.feed(self._buffer)
                if chunk:
                    yield chunk
                if decoder.done:
                    return
                try:
                    await self._more(timeout)
                except ConnectionClosed as exc:
                    raise ConnectionClosed(f"{exc} before the last chunk", received=True) from exc.__cause__
        else:
            while True:
                if self._buffer:
                    chunk = bytes(self._buffer)
                    self._buffer.clear()
                    yield chunk
                if self.closed:
                    if self._error is not None:
                        raise ConnectionClosed(f"the connection failed: {self._error}", received=True) from self._error
                    return
                await self._more(timeout)

    @property
    def leftover(self) -> bool:
        """Bytes past the message: the server sent something not asked for."""
        return bool(self._buffer)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(ReadTimeout())


def _head_end(buffer: bytearray, start: int) -> tuple[int, int]:
    """Where the head ends (the last line's line feed) and the length of the blank line
    after it (its LF included); -1 if not yet.

    A blank line is CRLF or a bare LF, whichever the line before it ended with: "\n\r\n"
    ends a head as "\r\n\r\n" does (which it is part of), and so do "\n\n" and "\r\n\n".
    """
    cr = buffer.find(b"\n\r\n", start)
    # Only before the other: past it is the body, maybe megabytes of it.
    lf = buffer.find(b"\n\n", start, len(buffer) if cr < 0 else cr + 1)
    if lf >= 0:
        return lf, 2
    return cr, 3


def parse_head(raw: bytes) -> Head:
    """A status line and header lines (CRLF or bare LF line ends; obs-fold unfolded), as
    received with or without the blank line that ends them. A line that is no header
    (no colon, or nothing before it) is skipped with its continuation lines, as browsers
    and Scrapy's HTTP/1.1 handler do, and kept in ``malformed``."""
    lines = raw.split(b"\n")
    # Servers may send blank lines before the status line (RFC 9112 §2.2 allows skipping them).
    while lines and not lines[0].strip():
        del lines[0]
    if not lines:
        raise ProtocolError("empty response head")
    status_line = lines[0].rstrip(b"\r")
    parts = status_line.split(b" ", 2)
    version = parts[0]
    if _VERSION.fullmatch(version) is None or len(parts) < 2 or len(parts[1]) != 3 or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:100]!r}")
    headers: list[tuple[bytes, bytes]] = []
    malformed: list[bytes] = []
    # The header line the next continuation line belongs to: a good one (True), or a
    # skipped one (False), or none yet (None).
    last: bool | None = None
    for line in lines[1:]:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        if line[0] in b" \t":
            if last:
                name, value = headers[-1]
                headers[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" "))
            else:
                malformed.append(line)
            continue
        name, colon, value = line.partition(b":")
        name = name.rstrip(b" \t")
        if not colon or not name:
            malformed.append(line)
            last = False
            continue
        headers.append((name, value.strip(b" \t")))
        last = True
    return Head(
        version.decode("ascii"), int(parts[1]), parts[2] if len(parts) > 2 else b"", headers, raw, tuple(malformed)
    )


@dataclass(slots=True)
class Framing:
    """How the body is delimited, and whether the connection can carry another exchange."""

    length: int | None
    chunked: bool
    reusable: bool

    @property
    def until_close(self) -> bool:
        return self.length is None and not self.chunked


def framing(head: Head, method: str) -> Framing:
    """RFC 9112 §6.3, for a response to ``method``."""
    connection = b",".join(head.values(b"connection")).lower()
    tokens = {token.strip() for token in connection.split(b",")}
    if head.version == "HTTP/1.1":
        keep = b"close" not in tokens
    else:
        keep = b"keep-alive" in tokens and b"close" not in tokens
    if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
        return Framing(0, False, keep and head.status != 101)
    codings = head.values(b"transfer-encoding")
    if codings:
        last = codings[-1].split(b",")[-1].strip().lower()
        # A length next to a transfer coding may be a smuggling attempt: never reuse then.
        keep = keep and not head.values(b"content-length")
        if last == b"chunked":
            return Framing(None, True, keep)
        return Framing(None, False, False)
    lengths = head.values(b"content-length")
    if lengths:
        found = {value.strip() for joined in lengths for value in joined.split(b",")}
        if len(found) != 1:
            raise ProtocolError(f"conflicting Content-Length values: {b', '.join(sorted(found))!r}")
        (value,) = found
        if not value.isdigit():
            raise ProtocolError(f"invalid Content-Length: {value[:40]!r}")
        return Framing(int(value), False, keep)
    return Framing(None, False, False)


class _Dechunker:
    """Chunked transfer coding, consumed from a buffer as bytes arrive."""

    __slots__ = ("done", "_remaining", "_state")

    def __init__(self) -> None:
        self.done = False
        self._remaining = 0
        # size: a chunk-size line is next; data: chunk bytes; end: the CRLF after them;
        # trailer: trailer lines up to the blank one
        self._state = "size"

    def feed(self, buffer: bytearray) -> bytes:
        """Consume what can be from ``buffer``; the data bytes found."""
        out: list[bytes] = []
        while not self.done:
            if self._state == "data":
                if not buffer:
                    break
                take = min(self._remaining, len(buffer))
                out.append(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if not self._remaining:
                    self._state = "end"
                continue
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) > _MAX_LINE:
                    raise ProtocolError("chunk-size or trailer line too long")
                break
            line = bytes(buffer[:newline]).rstrip(b"\r")
            del buffer[: newline + 1]
            if self._state == "size":
                size = _CHUNK_SIZE.fullmatch(line)
                if size is None:
                    raise ProtocolError(f"invalid chunk size line: {line[:40]!r}")
                self._remaining = int(size[1], 16)
                self._state = "data" if self._remaining else "trailer"
            elif self._state == "end":
                if line:
                    raise ProtocolError("chunk data longer than its size")
                self._state = "size"
            elif not line:  # trailer section ends
                self.done = True
        return b"".join(out)
