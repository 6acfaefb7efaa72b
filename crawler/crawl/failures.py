"""Naming why a fetch failed before any usable answer, from the exception's cause chain.

The same failure surfaces as different exception classes depending on the download
handler and the layer that noticed it, so the whole chain of causes is searched.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotSupported,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from twisted.internet import error as twisted_error

from crawler.crawl.handlers.addressguard import BlockedAddressError

# Most specific first: a TLS failure is also a connection failure.
_KINDS: list[tuple[str, tuple[type[BaseException], ...]]] = [
    ("private_address", (BlockedAddressError,)),
    ("dns", (CannotResolveHostError, twisted_error.DNSLookupError, socket.gaierror)),
    ("tls", (ssl.SSLError,)),
    ("timeout", (DownloadTimeoutError, TimeoutError, twisted_error.TimeoutError)),
    ("refused", (DownloadConnectionRefusedError, ConnectionRefusedError, twisted_error.ConnectionRefusedError)),
    ("reset", (ConnectionResetError, twisted_error.ConnectionLost)),
    ("truncated_disconnect", (ResponseDataLossError,)),
    ("scheme", (UnsupportedURLSchemeError, NotSupported)),
]


# The resolver's own answer tells a name that does not exist from a resolver that failed.
_NXDOMAIN = {getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, name)}


def _dns_kind(chain: list[BaseException]) -> str:
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return "dns_nxdomain" if cause.errno in _NXDOMAIN else "dns_error"
    return "dns_error"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException) -> str:
    """A short error kind: ``dns_nxdomain``, ``dns_error``, ``tls``, ``timeout``, ``refused``, ..."""
    chain = list(_causes(exc))
    for kind, types in _KINDS:
        if any(isinstance(cause, types) for cause in chain):
            return _dns_kind(chain) if kind == "dns" else kind
    if isinstance(exc, IgnoreRequest):
        text = str(exc).lower()
        if "redirect" in text:
            return "redirect_loop"
        if "robots" in text or "forbidden by robots" in text:
            return "robots"
        return "ignored"
    text = " ".join(str(cause) for cause in chain).lower()
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "tls"
    return "connection"
