"""Deduplication: a capture whose payload is already archived is written as a revisit.

WARC 1.1 defines two revisit profiles: ``identical-payload-digest`` (the payload equals an
earlier record's) and ``server-not-modified`` (a 304 answer to a conditional request).
A revisit record holds the HTTP head only and names the original with
``WARC-Refers-To`` (record id), ``WARC-Refers-To-Target-URI`` and ``WARC-Refers-To-Date``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crawler.warc.records import WarcRecord, warc_date

PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True)
class Original:
    """The archived record that holds a payload, as the revisit index knows it."""

    payload_digest: str
    record_id: str
    target_uri: str
    date: datetime
    filename: str
    offset: int
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def revisit(record: WarcRecord, original: Original, profile: str) -> WarcRecord:
    """``record`` (a full response) rewritten as a revisit of ``original``: head only."""
    assert record.payload_offset is not None
    # The HTTP head only: a response record keeps its body in ``tail``.
    head = bytes(memoryview(record.block)[: record.payload_offset])
    return WarcRecord(
        record_type="revisit",
        target_uri=record.target_uri,
        date=record.date,
        content_type="application/http;msgtype=response",
        block=head,
        payload_offset=None,
        record_id=record.record_id,
        extra_headers=[
            *[(name, value) for name, value in record.extra_headers if name != "WARC-Truncated"],
            ("WARC-Profile", profile),
            ("WARC-Refers-To", original.record_id),
            ("WARC-Refers-To-Target-URI", original.target_uri),
            ("WARC-Refers-To-Date", warc_date(original.date)),
            # The payload the revisit stands for (that of the original), as the profile requires.
            ("WARC-Payload-Digest", original.payload_digest),
        ],
    )
