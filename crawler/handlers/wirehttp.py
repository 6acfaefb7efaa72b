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

from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Headers

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
