"""The normalized form of a cited URL: how two spellings of one address are found to be one.

Only changes that cannot alter what a server answers are made: the scheme and host are
case-insensitive, an IDN host has one ASCII form, a default port is no port, the fragment
never reaches the server, an empty path is "/" and percent escapes name the same byte in
either case. Everything else in the path and query is kept byte for byte: decoding "%2F" or
re-encoding "é" can change which resource a server returns.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def normalize_url(url: str) -> str:
    """The normalized form of ``url``; a URL that cannot be parsed is returned unchanged."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if not parts.netloc:
        return url
    host = _ascii_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    path = _upper_escapes(parts.path) or "/"
    query = "?" + _upper_escapes(parts.query) if parts.query or url.split("#", 1)[0].endswith("?") else ""
    return f"{scheme}://{userinfo}{at}{host}{path}{query}"


def _ascii_host(host: str) -> str:
    """Lower case, and the ASCII (punycode) form of an internationalized name."""
    host = host.lower()
    if host.isascii():
        return host
    try:
        # UTS #46 mapping, as browsers apply it: "Bücher.example" -> "xn--bcher-kva.example".
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return host


def _upper_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda match: match.group().upper(), text)
