"""Reading an archived snapshot back out of the WARC store via its stored offset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crawler.exceptions import ArchiveError
from crawler.models import Capture
from crawler.warc.reader import StoredRecord, decode_content, read_record


@dataclass(frozen=True)
class Snapshot:
    record: StoredRecord
    body: bytes


def load_snapshot(archive_dir: Path, capture: Capture, *, decode: bool = True) -> Snapshot:
    """The final response of ``capture``: body as served, content coding removed unless ``decode`` is off."""
    assert capture.warc_filename is not None and capture.warc_offset is not None
    record = read_record(archive_dir, capture.warc_filename, capture.warc_offset)
    if record.header("WARC-Type") != "response":
        raise ArchiveError(f"record {record.where} is a {record.header('WARC-Type')} record, not the response the database names")
    body = record.http_body
    if decode:
        try:
            body = decode_content(body, record.http_header("Content-Encoding"))
        # zlib, brotli and zstd each raise their own error class for a bad stream
        except Exception as exc:  # noqa: BLE001
            raise ArchiveError(f"cannot undo the content coding of {record.where}: {exc}; use --raw") from exc
    return Snapshot(record=record, body=body)
