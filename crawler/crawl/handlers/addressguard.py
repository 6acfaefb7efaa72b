"""Refusing private, loopback, link-local and other non-public addresses, checked on the
address actually connected to.

A cited URL, or any redirect hop, may name a host that resolves inside the operator's
network (``169.254.169.254``, ``localhost``, ``10.x``), directly or by DNS rebinding. The
check cannot happen on the URL alone (the name could resolve differently later), so the
download handler resolves the name once here, every address is checked, and the
connection goes to a checked address only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket


class BlockedAddressError(Exception):
    """The host resolves only to addresses that are not public."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or not ip.is_global
    )


async def public_address(host: str, port: int) -> str:
    """An address of ``host`` that is public, to connect to instead of the name.

    ``socket.gaierror`` if the name does not resolve; ``BlockedAddressError`` if none of
    its addresses is public.
    """
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    public = [address for address in addresses if is_public(address)]
    if not public:
        raise BlockedAddressError(
            f"{host} resolves to {', '.join(addresses)}, not a public address; "
            "use --allow-private (EVIDENCE_ALLOW_PRIVATE=1) to fetch it"
        )
    return public[0]
