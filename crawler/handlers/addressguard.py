"""Refusing private, loopback, link-local and other non-public addresses, checked on the
address actually connected to.

A cited URL, or any redirect hop, may name a host that resolves inside the operator's
network (``169.254.169.254``, ``localhost``, ``10.x``), directly or by DNS rebinding. The
check cannot happen before the request (the HTTP client resolves the name again later),
so it sits in the HTTP client's network backend: the name is resolved once, every address
is checked, and the connection goes to a checked address only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore2


class BlockedAddressError(httpcore2.ConnectError):
    """The host resolves only to addresses that are not public."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or not ip.is_global
    )


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Wraps the client's backend; resolves, checks and connects to a checked address."""

    def __init__(self, inner: httpcore2.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host} took longer than {timeout} s") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        public = [address for address in addresses if is_public(address)]
        if not public:
            raise BlockedAddressError(
                f"{host} resolves to {', '.join(addresses)}, not a public address; "
                "use --allow-private (EVIDENCE_ALLOW_PRIVATE=1) to fetch it"
            )
        return await self.inner.connect_tcp(
            public[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise BlockedAddressError(f"refusing unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
