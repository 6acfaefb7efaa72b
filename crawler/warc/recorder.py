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
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload

from crawler.crawl.handlers.rawhttp import WIRE_META_KEY, Wire
from crawler.crawl.tlsinfo import Certificate, inspect_certificate
from crawler.warc.dedup import PROFILE_IDENTICAL, PROFILE_NOT_MODIFIED, Original, revisit
from crawler.warc.records import WarcRecord
from crawler.store.db import open_database
from crawler.exceptions import ArchiveError
from crawler.warc.runstore import FATAL_STAT, record_closed, stop_for_archive_failure, store_for
from crawler.warc.writer import RecordLocation

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

HOPS_META_KEY = "evidence_hops"
#: A request's own body cap, below EVIDENCE_MAX_BODY_SIZE (the spider's probes use it).
MAX_BODY_META_KEY = "evidence_max_body"
#: Set by the spider on a request that carries If-None-Match / If-Modified-Since.
CONDITIONAL_META_KEY = "evidence_conditional"
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
    #: ``response``, or ``revisit`` when the payload was already archived
    record_type: str = "response"
    #: file and offset of the record holding the payload bytes (this one or the original)
    payload_at: tuple[str, int] | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: the TLS certificate the server presented (https only)
    certificate: Certificate | None = None
    #: what the exchange itself showed (``malformed_header``: a header line that is no
    #: header was skipped; it is in the archived head as received)
    signals: tuple[str, ...] = ()


class WarcRecorderMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("EVIDENCE_WARC_ENABLED"):
            raise NotConfigured("EVIDENCE_WARC_ENABLED is off")
        self.stats = crawler.stats
        self.max_body = settings.getint("EVIDENCE_MAX_BODY_SIZE")
        self.deadline = settings.getfloat("EVIDENCE_DOWNLOAD_DEADLINE")
        self.store = store_for(crawler)
        self.deduplicate = settings.getbool("EVIDENCE_DEDUPLICATE")
        self.crawler = crawler
        self._originals: dict[str, Original] | None = None

    @property
    def originals(self) -> dict[str, Original]:
        """Per URL, the last archived full 200 response: what the spider was given from
        the database (``CitationSpider.originals``), kept current during the run."""
        if self._originals is None:
            self._originals = dict(getattr(self.crawler.spider, "originals", {}))
        return self._originals

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
        meta[_CAPPED_KEY] = None

    def bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        received = request.meta.get(_RECEIVED_KEY, 0) + len(data)
        request.meta[_RECEIVED_KEY] = received
        # fail=False hands the partial response on instead of dropping it, so what
        # arrived before the cap or the deadline is still archived, marked as cut.
        cap = request.meta.get(MAX_BODY_META_KEY, self.max_body)
        if cap and received > cap:
            request.meta[_CAPPED_KEY] = "length"
            raise StopDownload(fail=False)
        if self.deadline and time.time() - request.meta.get(_STARTED_KEY, time.time()) > self.deadline:
            request.meta[_CAPPED_KEY] = "time"
            raise StopDownload(fail=False)

    async def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        started = datetime.fromtimestamp(request.meta.get(_STARTED_KEY, time.time()), timezone.utc)
        wire: Wire | None = request.meta.get(WIRE_META_KEY)
        body: bytes | memoryview = response.body
        truncated = None
        if request.meta.get(_CAPPED_KEY):
            truncated = request.meta[_CAPPED_KEY]
            if truncated == "length":
                body = memoryview(response.body)[: request.meta.get(MAX_BODY_META_KEY, self.max_body)]
        elif "dataloss" in response.flags:
            truncated = "disconnect"

        response_head, request_head, reconstructed = _heads(request, response, wire)
        response_record = WarcRecord(
            record_type="response",
            target_uri=response.url,
            date=started,
            content_type="application/http;msgtype=response",
            block=response_head,
            tail=body,
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

        payload_record, original = self._deduplicate(request, response, response_record, truncated)
        try:
            # Made durable by the pipeline, once per batch, before it commits rows that
            # point at these records (an fsync per exchange cost more than the rest).
            response_at, request_at = await self.store.write_async([payload_record, request_record])
        except ArchiveError as exc:
            stop_for_archive_failure(self.crawler, exc)
            raise IgnoreRequest(str(exc)) from exc
        self.stats.inc_value("evidence/warc/records", 2)
        self.stats.inc_value("evidence/warc/bytes", response_at.length + request_at.length)
        if truncated:
            self.stats.inc_value(f"evidence/truncated/{truncated}")

        headers = response.headers
        if original is None:
            original = Original(
                payload_digest=response_record.payload_digest or "",
                record_id=response_record.record_id,
                target_uri=response.url,
                date=started,
                filename=response_at.filename,
                offset=response_at.offset,
                content_type=_header_str(headers.get(b"Content-Type")),
                etag=_header_str(headers.get(b"ETag")),
                last_modified=_header_str(headers.get(b"Last-Modified")),
            )
            if response.status == 200 and not truncated:
                self.originals[response.url] = original
        hop = Hop(
            url=response.url,
            status=response.status,
            started=started,
            response=response_at,
            request=request_at,
            payload_digest=original.payload_digest if payload_record.record_type == "revisit" else response_record.payload_digest,
            content_type=_header_str(headers.get(b"Content-Type")) or original.content_type,
            body_length=len(body),
            truncated=truncated,
            location=_header_str(headers.get(b"Location")),
            record_type=payload_record.record_type,
            payload_at=(original.filename, original.offset),
            certificate=_certificate(response),
            etag=_header_str(headers.get(b"ETag")) or original.etag,
            last_modified=_header_str(headers.get(b"Last-Modified")) or original.last_modified,
            signals=("malformed_header",) if wire is not None and wire.malformed_headers else (),
        )
        request.meta[HOPS_META_KEY] = [*request.meta.get(HOPS_META_KEY, []), hop]
        logger.debug("archived %s %s at %s:%d", response.status, response.url, response_at.filename, response_at.offset)
        return response

    def _deduplicate(
        self, request: Request, response: Response, record: WarcRecord, truncated: str | None
    ) -> tuple[WarcRecord, Original | None]:
        """The record to write for this response: itself, or a revisit of an archived original."""
        original = self.originals.get(response.url)
        if original is None or truncated:
            return record, None
        if response.status == 304 and request.meta.get(CONDITIONAL_META_KEY):
            self.stats.inc_value("evidence/revisit/server-not-modified")
            return revisit(record, original, PROFILE_NOT_MODIFIED), original
        if self.deduplicate and response.status == 200 and record.payload_digest == original.payload_digest:
            self.stats.inc_value("evidence/revisit/identical-payload-digest")
            return revisit(record, original, PROFILE_IDENTICAL), original
        return record, None

    def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            self.store.close()
        except ArchiveError as exc:
            # The crawl is over already: keep the reason, so that the run fails with it.
            logger.error("%s", exc)
            if self.stats.get_value(FATAL_STAT) is None:
                self.stats.set_value(FATAL_STAT, str(exc))
        # Every item is processed by now: no transaction of the pipeline is open.
        sessions = open_database(self.crawler.settings.get("EVIDENCE_DB_URL"), create=False)
        with sessions() as session, session.begin():
            record_closed(self.crawler, session)


def _certificate(response: Response) -> Certificate | None:
    der = response.certificate
    if not isinstance(der, bytes | bytearray) or not der:
        return None
    return inspect_certificate(bytes(der), urlsplit(response.url).hostname or "")


def _header_str(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _heads(request: Request, response: Response, wire: Wire | None) -> tuple[bytes, bytes, bool]:
    """HTTP heads of both sides, ending with the blank line; True if reconstructed."""
    if wire is not None:
        # As they went over the wire, byte for byte: line ends, folding, spacing, case,
        # lines that are no header, the request line's own HTTP version.
        return wire.response_head, wire.request_head, False

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

