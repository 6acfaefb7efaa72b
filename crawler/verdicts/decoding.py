"""Undoing content codings (gzip, deflate, br, zstd) with a bound on the output.

Every place that inflates an archived body goes through here, so a decompression bomb
(a few kilobytes that inflate to gigabytes) is stopped at ``limit`` bytes instead of
exhausting memory, and a compressed stream that stops short is noticed instead of being
read as half a page.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

_STEP = 1 << 20


@dataclass(frozen=True)
class Inflated:
    data: bytes
    #: True: every coding's stream ended properly; False: one stops short (the body was cut)
    complete: bool
    #: True: the output passed ``limit`` and inflating stopped there (``data`` is then empty:
    #: nobody should read half a bomb, and keeping it would double the memory spent)
    over_limit: bool
    #: codings this cannot undo (left applied)
    unknown: tuple[str, ...] = ()


def inflate(body: bytes, content_encoding: str | None, limit: int) -> Inflated:
    """Undo the codings named in ``Content-Encoding``, last applied first."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data, complete, unknown = body, True, []
    for coding in reversed(codings):
        undo = _DECODERS.get(coding)
        if coding == "identity":
            continue
        if undo is None:
            unknown.append(coding)
            break
        data, ended, over = undo(data, limit)
        if over:
            return Inflated(data, False, True, tuple(unknown))
        complete = complete and ended
    return Inflated(data, complete, False, tuple(unknown))


def _zlib(data: bytes, limit: int, wbits: int) -> tuple[bytes, bool, bool]:
    inflater = zlib.decompressobj(wbits)
    out: list[bytes] = []
    produced = 0
    pending = data
    while pending and not inflater.eof:
        chunk = inflater.decompress(pending, _STEP)
        produced += len(chunk)
        out.append(chunk)
        if produced > limit:
            return b"", False, True
        pending = inflater.unconsumed_tail
    return b"".join(out), inflater.eof, False


def _gzip(data: bytes, limit: int) -> tuple[bytes, bool, bool]:
    try:
        return _zlib(data, limit, zlib.MAX_WBITS + 32)
    except zlib.error:
        return data, False, False


def _deflate(data: bytes, limit: int) -> tuple[bytes, bool, bool]:
    # Servers send both the zlib-wrapped stream the standard names and raw deflate.
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        try:
            return _zlib(data, limit, wbits)
        except zlib.error:
            continue
    return data, False, False


def _brotli(data: bytes, limit: int) -> tuple[bytes, bool, bool]:
    import brotli

    decompressor = brotli.Decompressor()
    out: list[bytes] = []
    produced = 0
    try:
        chunk = decompressor.process(data, output_buffer_limit=_STEP)
        while True:
            out.append(chunk)
            produced += len(chunk)
            if produced > limit:
                return b"", False, True
            if decompressor.is_finished() or decompressor.can_accept_more_data():
                break
            chunk = decompressor.process(b"", output_buffer_limit=_STEP)
    except brotli.error:
        return data, False, False
    return b"".join(out), decompressor.is_finished(), False


def _zstd(data: bytes, limit: int) -> tuple[bytes, bool, bool]:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python < 3.14: the backport Scrapy already depends on
        from backports import zstd  # type: ignore[no-redef,unused-ignore]

    out: list[bytes] = []
    produced = 0
    pending = data
    try:
        while True:
            decompressor = zstd.ZstdDecompressor()
            chunk = decompressor.decompress(pending, max_length=_STEP)
            while True:
                out.append(chunk)
                produced += len(chunk)
                if produced > limit:
                    return b"", False, True
                if decompressor.eof or decompressor.needs_input:
                    break
                chunk = decompressor.decompress(b"", max_length=_STEP)
            if not decompressor.eof:
                return b"".join(out), False, False
            pending = decompressor.unused_data  # a body may hold several frames
            if not pending:
                return b"".join(out), True, False
    except zstd.ZstdError:
        return data, False, False


_DECODERS: dict[str, Callable[[bytes, int], tuple[bytes, bool, bool]]] = {
    "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd,
}
