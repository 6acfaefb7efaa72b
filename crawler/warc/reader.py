"""Reading one record back by file and offset, as the database stores them.

Each record is its own gzip member, so a reader seeks to the stored offset and
inflates exactly one member: no scan of the file, whatever its size.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from crawler.exceptions import ArchiveError
from crawler.verdicts.decoding import inflate
from crawler.warc.records import digest
from crawler.warc.writer import OPEN_SUFFIX

_READ_SIZE = 1 << 16
#: Largest body `show` and the report will inflate; past it, --raw gives the bytes as served.
MAX_DECODED = 256 << 20


@dataclass(frozen=True)
class StoredRecord:
    """A record as it sits in the file: header fields in order, and the block."""

    headers: list[tuple[str, str]]
    block: bytes
    where: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def http_head(self) -> bytes:
        """Status or request line plus header lines, without the blank line."""
        head, _, _ = self.block.partition(b"\r\n\r\n")
        return head

    @property
    def http_body(self) -> bytes:
        """The entity as received: transfer coding removed, content coding kept."""
        _, sep, body = self.block.partition(b"\r\n\r\n")
        return body if sep else b""

    def http_headers(self) -> list[tuple[str, str]]:
        lines = self.http_head.split(b"\r\n")[1:]
        pairs = []
        for line in lines:
            name, _, value = line.partition(b":")
            pairs.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        return pairs

    def http_header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.http_headers():
            if key.lower() == wanted:
                return value
        return None


def locate(archive_dir: Path, filename: str) -> Path:
    """The file's path, also when its writer never closed it (``.open``)."""
    if "/" in filename or "\\" in filename or filename.startswith("."):
        raise ArchiveError(f"refusing WARC file name {filename!r} from the database: not a plain file name")
    path = archive_dir / filename
    if path.exists():
        return path
    open_path = archive_dir / (filename + OPEN_SUFFIX)
    if open_path.exists():
        return open_path
    raise ArchiveError(
        f"WARC file {filename} is missing from {archive_dir}; "
        "point --archive (or EVIDENCE_ARCHIVE) at the folder that holds it"
    )


def read_record(archive_dir: Path, filename: str, offset: int, *, check_digest: bool = True) -> StoredRecord:
    """Inflate the gzip member at ``offset`` and parse it; check its block digest unless told not to."""
    path = locate(archive_dir, filename)
    where = f"{filename} at offset {offset}"
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    parts: list[bytes] = []
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            while not inflater.eof:
                chunk = handle.read(_READ_SIZE)
                if not chunk:
                    raise ArchiveError(f"WARC record {where} is cut short: the file ends inside it")
                parts.append(inflater.decompress(chunk))
    except zlib.error as exc:
        raise ArchiveError(f"WARC record {where} is not a valid gzip member ({exc}); the file is damaged") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot read WARC file {path}: {exc.strerror}") from exc
    return _parse(b"".join(parts), where, check_digest)


def _parse(data: bytes, where: str, check_digest: bool) -> StoredRecord:
    head, sep, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not sep or not lines[0].startswith(b"WARC/"):
        raise ArchiveError(f"no WARC record starts {where}; the database and the archive disagree")
    headers = []
    for line in lines[1:]:
        name, _, value = line.decode("utf-8", "replace").partition(":")
        headers.append((name.strip(), value.strip()))
    record = StoredRecord(headers=headers, block=b"", where=where)
    length = int(record.header("Content-Length") or -1)
    if length < 0 or len(rest) < length:
        raise ArchiveError(f"WARC record {where} is shorter than its Content-Length; the file is damaged")
    block = rest[:length]
    expected = record.header("WARC-Block-Digest")
    if check_digest and expected and expected.lower().startswith("sha1:") and digest(block)[5:] != expected[5:].upper():
        raise ArchiveError(f"WARC record {where} fails its block digest: the stored bytes were altered or damaged")
    return StoredRecord(headers=headers, block=block, where=where)


def decode_content(body: bytes, content_encoding: str | None, limit: int = MAX_DECODED) -> bytes:
    """The body with its content codings undone, refusing bombs and cut streams."""
    inflated = inflate(body, content_encoding, limit)
    if inflated.unknown:
        raise ArchiveError(f"unknown Content-Encoding {inflated.unknown[0]!r}; use --raw to get the bytes as served")
    if inflated.over_limit:
        raise ArchiveError(f"the body inflates to more than {limit} bytes (a decompression bomb?); use --raw")
    if not inflated.complete:
        raise ArchiveError("the body's compressed stream stops short (it was cut); use --raw for the bytes as served")
    return inflated.data
