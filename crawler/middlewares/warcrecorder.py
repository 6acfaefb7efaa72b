"""Downloader middleware that writes every HTTP exchange to WARC as it was received.

It sits at order 950 (see ``crawler/settings.py``), between the download handler and
every built-in middleware, so its ``process_response`` runs first: each redirect hop
and each retried attempt passes through it before Redirect (600) or Retry (550) act,
and the body is still content-encoded because HttpCompression is switched off.

What it writes for one exchange: a ``response`` record, then a ``request`` record
pointing at it with ``WARC-Concurrent-To``. The locations go into
``request.meta[HOPS_META_KEY]`` so the spider can hand them to the database pipeline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload

from crawler.handlers.wirehttp import WIRE_META_KEY, Wire
from crawler.warc.records import WarcRecord
from crawler.warc.writer import RecordLocation, WarcStore

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

HOPS_META_KEY = "evidence_hops"
#: When the first attempt for a cited URL left for the network.
CHECKED_AT_META_KEY = "evidence_checked_at"
_STARTED_KEY = "_evidence_started"
_RECEIVED_KEY = "_evidence_received"
_CAPPED_KEY = "_evidence_capped"


@dataclass(frozen=True)
class Hop:
    """One archived exchange of a capture (a redirect hop, a retried attempt or the last)."""

    url: str
    status: int
    started: datetime
    response: RecordLocation
    request: RecordLocation
    payload_digest: str | None
    content_type: str | None
    body_length: int
    truncated: str | None
    location: str | None


class WarcRecorderMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("EVIDENCE_WARC_ENABLED"):
            raise NotConfigured("EVIDENCE_WARC_ENABLED is off")
        self.stats = crawler.stats
        self.max_body = settings.getint("EVIDENCE_MAX_BODY_SIZE")
        self.store = WarcStore(
            settings.get("EVIDENCE_ARCHIVE_DIR"),
            prefix=settings.get("EVIDENCE_WARC_PREFIX"),
            max_size=settings.getint("EVIDENCE_WARC_MAX_SIZE"),
            warcinfo=[
                ("operator", settings.get("EVIDENCE_OPERATOR") or "not given"),
                ("http-header-user-agent", settings.get("USER_AGENT")),
                ("robots", "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore"),
                (
                    "description",
                    "HTTP heads are re-assembled from the client's parsed status line and "
                    "header list (received order and case); bodies are stored as received "
                    "with transfer coding removed and content coding kept.",
                ),
            ],
        )
        self.run_id = settings.get("EVIDENCE_RUN_ID")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcRecorderMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        # Each attempt (first try, retry, redirect hop) passes here, so per-attempt
        # state is reset for it.
        meta = request.meta
        meta.setdefault(CHECKED_AT_META_KEY, datetime.now(timezone.utc))
        meta.pop(WIRE_META_KEY, None)
        meta[_STARTED_KEY] = time.time()
        meta[_RECEIVED_KEY] = 0
        meta[_CAPPED_KEY] = False

    def bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        received = request.meta.get(_RECEIVED_KEY, 0) + len(data)
        request.meta[_RECEIVED_KEY] = received
        if self.max_body and received > self.max_body:
            request.meta[_CAPPED_KEY] = True
            # fail=False hands the partial response on instead of dropping it, so
            # the first EVIDENCE_MAX_BODY_SIZE bytes are still archived.
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        started = datetime.fromtimestamp(request.meta.get(_STARTED_KEY, time.time()), timezone.utc)
        wire: Wire | None = request.meta.get(WIRE_META_KEY)
        body = response.body
        truncated = None
        if request.meta.get(_CAPPED_KEY):
            truncated = "length"
            body = body[: self.max_body]
        elif "dataloss" in response.flags:
            truncated = "disconnect"

        response_head, request_head, reconstructed = _heads(request, response, wire)
        response_record = WarcRecord(
            record_type="response",
            target_uri=response.url,
            date=started,
            content_type="application/http;msgtype=response",
            block=response_head + body,
            payload_offset=len(response_head),
        )
        if response.ip_address is not None:
            response_record.extra_headers.append(("WARC-IP-Address", str(response.ip_address)))
        if truncated:
            response_record.extra_headers.append(("WARC-Truncated", truncated))
        request_record = WarcRecord(
            record_type="request",
            target_uri=response.url,
            date=started,
            content_type="application/http;msgtype=request",
            block=request_head + (request.body or b""),
            payload_offset=len(request_head),
            extra_headers=[("WARC-Concurrent-To", response_record.record_id)],
        )
        if reconstructed:
            note = [("WARC-Evidence-Reconstructed", "http-head")]
            response_record.extra_headers.extend(note)
            request_record.extra_headers.extend(note)

        response_at, request_at = self.store.write([response_record, request_record])
        # Durable before anything downstream can commit a row pointing at it.
        self.store.sync()
        self.stats.inc_value("evidence/warc/records", 2)
        self.stats.inc_value("evidence/warc/bytes", response_at.length + request_at.length)
        if truncated:
            self.stats.inc_value(f"evidence/truncated/{truncated}")

        location = response.headers.get(b"Location")
        hop = Hop(
            url=response.url,
            status=response.status,
            started=started,
            response=response_at,
            request=request_at,
            payload_digest=response_record.payload_digest,
            content_type=_header_str(response.headers.get(b"Content-Type")),
            body_length=len(body),
            truncated=truncated,
            location=_header_str(location),
        )
        request.meta[HOPS_META_KEY] = [*request.meta.get(HOPS_META_KEY, []), hop]
        logger.debug("archived %s %s at %s:%d", response.status, response.url, response_at.filename, response_at.offset)
        return response

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.store.close()


def _header_str(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _heads(request: Request, response: Response, wire: Wire | None) -> tuple[bytes, bytes, bool]:
    """HTTP heads of both sides, ending with the blank line; True if reconstructed."""
    if wire is not None:
        response_lines = [f"{wire.http_version} {response.status} ".encode("ascii") + wire.reason]
        response_lines += [name + b": " + value for name, value in wire.response_headers]
        request_lines = [f"{wire.method} ".encode("ascii") + wire.target + f" {wire.http_version}".encode("ascii")]
        request_lines += [name + b": " + value for name, value in wire.request_headers]
        return _join(response_lines), _join(request_lines), False

    # Another download handler is configured: rebuild from what Scrapy kept, and say so.
    protocol = response.protocol or "HTTP/1.1"
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    response_lines = [f"{protocol} {response.status} {phrase}".rstrip().encode("ascii")]
    for name, values in response.headers.items():
        response_lines += [name + b": " + value for value in values]
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_lines = [f"{request.method} {target} {protocol}".encode("ascii"), b"Host: " + parts.netloc.encode("idna")]
    for name, values in request.headers.items():
        request_lines += [name + b": " + value for value in values]
    return _join(response_lines), _join(request_lines), True


def _join(lines: list[bytes]) -> bytes:
    return b"\r\n".join(lines) + b"\r\n\r\n"

