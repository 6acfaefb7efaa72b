"""Reading an archived snapshot back out of the WARC store via its stored offset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from crawler.exceptions import ArchiveError
from crawler.warc.reader import StoredRecord, decode_content, read_record
from crawler.warc.rendered import DOM_CONTENT_TYPE


@dataclass(frozen=True)
class Snapshot:
    #: the capture's own response or revisit record (its HTTP head is what was answered)
    record: StoredRecord
    body: bytes
    content_type: str | None
    #: the content coding still applied to ``body`` (None once decoded)
    content_encoding: str | None


class Located(Protocol):
    """A row that names a response record and where its payload is: a ``Capture``, or a
    ``MementoLookup`` (the memento as fetched from the web archive)."""

    @property
    def warc_filename(self) -> str | None: ...
    @property
    def warc_offset(self) -> int | None: ...
    @property
    def payload_filename(self) -> str | None: ...
    @property
    def payload_offset(self) -> int | None: ...


class Judged(Located, Protocol):
    """A capture as it was judged: also where its rendered DOM is, if it was rendered."""

    @property
    def dom_filename(self) -> str | None: ...
    @property
    def dom_offset(self) -> int | None: ...


def judged_payload(archive_dir: Path, capture: Judged) -> tuple[bytes, str | None, str | None]:
    """What ``capture`` was judged on, as (body, content type, content coding still applied):
    a rendered capture's DOM (its ``urn:dom:`` record; crawler/browser/), else its
    response's payload as received."""
    if capture.dom_filename is not None and capture.dom_offset is not None:
        return load_resource(archive_dir, capture.dom_filename, capture.dom_offset, "dom"), DOM_CONTENT_TYPE, None
    snapshot = load_snapshot(archive_dir, capture, decode=False)
    return snapshot.body, snapshot.content_type, snapshot.content_encoding


def load_snapshot(archive_dir: Path, capture: Located, *, decode: bool = True) -> Snapshot:
    """The final response of ``capture``: body as served, content coding removed unless ``decode`` is off.

    A ``revisit`` record holds the head only; its body is read from the original it names.
    """
    assert capture.warc_filename is not None and capture.warc_offset is not None
    record = read_record(archive_dir, capture.warc_filename, capture.warc_offset)
    kind = record.header("WARC-Type")
    if kind not in ("response", "revisit"):
        raise ArchiveError(f"record {record.where} is a {kind} record, not the response the database names")
    body = record.http_body
    if kind == "revisit":
        if capture.payload_filename is None or capture.payload_offset is None:
            raise ArchiveError(f"revisit record {record.where} has no original in the database")
        original = read_record(archive_dir, capture.payload_filename, capture.payload_offset)
        if original.header("WARC-Record-ID") != record.header("WARC-Refers-To"):
            raise ArchiveError(f"revisit record {record.where} names an original the database does not point at")
        body = original.http_body
        # The original's head describes its body (a 304 head may carry no Content-Type).
        content_encoding = original.http_header("Content-Encoding")
        content_type = original.http_header("Content-Type")
    else:
        content_encoding = record.http_header("Content-Encoding")
        content_type = record.http_header("Content-Type")
    if decode and content_encoding:
        try:
            body = decode_content(body, content_encoding)
        # zlib, brotli and zstd each raise their own error class for a bad stream
        except Exception as exc:  # noqa: BLE001
            raise ArchiveError(f"cannot undo the content coding of {record.where}: {exc}; use --raw") from exc
        content_encoding = None
    return Snapshot(record=record, body=body, content_type=content_type, content_encoding=content_encoding)


def load_resource(archive_dir: Path, filename: str, offset: int, kind: str) -> bytes:
    """The block of a rendered capture's ``resource`` record (``kind``: ``dom``, ``text``,
    ``screenshot``): the bytes exactly as archived, after its block digest is checked.

    The record's type and ``urn:<kind>:`` target are checked too: a database row pointing at
    another record must not pass that record's bytes off as the page's DOM or picture.
    """
    record = read_record(archive_dir, filename, offset)
    target = record.header("WARC-Target-URI") or ""
    if record.header("WARC-Type") != "resource" or not target.startswith(f"urn:{kind}:"):
        raise ArchiveError(
            f"record {record.where} is not the urn:{kind}: resource record the database names "
            f"({record.header('WARC-Type')} {target})"
        )
    return record.block
