"""WACZ 1.1.1 packages: the selected records in one WARC, a CDXJ index, a page list and a
datapackage with SHA-256 hashes, readable by pywb and ReplayWeb.page without evidence.

Records are copied as the gzip members they are, byte for byte: digests, record ids and
dates stay those of the original capture. The time-stamp tokens of the archive files they
were copied from go along as ``archive/<file>.tsr`` (listed in the datapackage with the
file's SHA-256): they prove when those files existed, to whoever holds them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from crawler import __version__
from crawler.exceptions import ArchiveError, NotFound
from crawler.export.cdxj import cdxj_lines
from crawler.export.selection import Selection, index_entries
from crawler.warc.reader import locate
from crawler.warc.records import WarcRecord, warcinfo_block

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
INDEX_NAME = "index.cdx.gz"
# Lines per gzip block of the index, pywb's ZipNum default: a replay tool reading the package
# in ranges fetches and inflates one block per lookup, not the whole index.
INDEX_BLOCK_LINES = 3000


def write_wacz(selection: Selection, archive_dir: Path, output: Path, *,
               tokens: Mapping[str, bytes] | None = None,
               sign: Callable[[str, str], dict[str, Any]] | None = None) -> dict[str, int]:
    """Write the package to ``output`` (atomically); return counts for the caller to report.

    ``tokens``: the time-stamp reply of each source WARC file that has one, by file name.
    ``sign``: makes the digest's ``signedData`` from the package hash and ``created``
    (crawler/export/signing.py)."""
    if not selection.records:
        raise NotFound("nothing archived matches; `evidence status` shows what was captured")
    with tempfile.TemporaryDirectory() as scratch:
        warc_path = Path(scratch) / WARC_NAME
        locations = _copy_records(selection, archive_dir, warc_path)
        blocks, secondary = _zipnum(cdxj_lines(index_entries(selection.records, locations)))
        pages = _pages(selection)
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        files: list[tuple[str, bytes | Path, int]] = [
            (f"archive/{WARC_NAME}", warc_path, zipfile.ZIP_STORED),
            (f"indexes/{INDEX_NAME}", blocks, zipfile.ZIP_STORED),
            ("indexes/index.idx", secondary, zipfile.ZIP_STORED),
            ("pages/pages.jsonl", pages.encode("utf-8"), zipfile.ZIP_DEFLATED),
        ]
        sources = {record.filename for record in selection.records}
        stamped = sorted(name for name in (tokens or {}) if name in sources)
        files += [(f"archive/{name}.tsr", (tokens or {})[name], zipfile.ZIP_STORED) for name in stamped]
        package: dict[str, Any] = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": selection.title,
            "created": created,
            "software": f"evidence/{__version__}",
            "resources": [
                {"name": Path(path).name, "path": path, "hash": "sha256:" + _sha256(data), "bytes": _size(data)}
                for path, data, _ in files
            ],
        }
        for resource in package["resources"]:
            if resource["path"].endswith(".tsr"):
                source = resource["name"].removesuffix(".tsr")
                resource["description"] = (f"RFC 3161 time-stamp reply over the SHA-256 of {source}, the evidence "
                                           f"archive file these records were copied from")
        if selection.pages:
            package["mainPageUrl"] = selection.pages[0].url
            package["mainPageDate"] = selection.pages[0].date.strftime("%Y-%m-%dT%H:%M:%SZ")
        package_bytes = json.dumps(package, indent=2).encode("utf-8")
        digest: dict[str, Any] = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
        if sign is not None:
            digest["signedData"] = sign(digest["hash"], created)
        files += [
            ("datapackage.json", package_bytes, zipfile.ZIP_DEFLATED),
            ("datapackage-digest.json", json.dumps(digest).encode("utf-8"), zipfile.ZIP_DEFLATED),
        ]
        partial = output.with_name(output.name + ".part")
        try:
            with zipfile.ZipFile(partial, "w") as package_zip:
                for path, data, compression in files:
                    if isinstance(data, Path):
                        package_zip.write(data, path, compress_type=compression)
                    else:
                        package_zip.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compression)
            os.replace(partial, output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ArchiveError(f"cannot write {output}: {exc.strerror}; choose a writable path") from exc
    return {"records": len(selection.records), "pages": len(selection.pages), "tokens": len(stamped)}


def _copy_records(selection: Selection, archive_dir: Path, warc_path: Path) -> dict[tuple[str, int], tuple[str, int, int]]:
    """Copy each record's gzip member into one WARC; map old (file, offset) to the new location."""
    locations: dict[tuple[str, int], tuple[str, int, int]] = {}
    info = WarcRecord(
        record_type="warcinfo",
        target_uri=None,
        date=datetime.now(timezone.utc),
        content_type="application/warc-fields",
        block=warcinfo_block([
            ("software", f"evidence/{__version__}"),
            ("format", "WARC File Format 1.1"),
            ("description", "Records copied byte for byte from the evidence archive, for a WACZ package."),
        ]),
        extra_headers=[("WARC-Filename", WARC_NAME)],
    )
    with open(warc_path, "wb") as out:
        out.write(gzip.compress(info.to_bytes(), mtime=0))
        handles: dict[str, BinaryIO] = {}
        try:
            for record in selection.records:
                source = handles.get(record.filename)
                if source is None:
                    source = handles[record.filename] = open(locate(archive_dir, record.filename), "rb")
                source.seek(record.offset)
                member = source.read(record.length)
                if len(member) != record.length:
                    raise ArchiveError(f"{record.filename} ends inside the record at offset {record.offset}; run `evidence verify`")
                locations[(record.filename, record.offset)] = (WARC_NAME, out.tell(), record.length)
                out.write(member)
        finally:
            for handle in handles.values():
                handle.close()
    return locations


def _zipnum(lines: list[str]) -> tuple[bytes, bytes]:
    """The CDXJ index as a compressed ZipNum pair (WACZ's ``cdxj-gzip-1.0``): the lines in
    gzip blocks, and a secondary index holding each block's first key, offset and length.

    ReplayWeb.page finds records only through an ``.idx``, ``.cdx`` or ``.cdxj`` file: an
    ``index.cdx.gz`` alone is skipped, and the package then replays nothing.
    """
    blocks = bytearray()
    secondary = [f"!meta 0 {json.dumps({'format': 'cdxj-gzip-1.0', 'filename': INDEX_NAME})}"]
    for start in range(0, len(lines), INDEX_BLOCK_LINES):
        chunk = lines[start:start + INDEX_BLOCK_LINES]
        block = gzip.compress(("\n".join(chunk) + "\n").encode("utf-8"), mtime=0)
        key, stamp = chunk[0].split(" ", 2)[:2]
        place = {"offset": len(blocks), "length": len(block)}
        secondary.append(f"{key} {stamp} {json.dumps(place)}")
        blocks += block
    return bytes(blocks), ("\n".join(secondary) + "\n").encode("utf-8")


def _pages(selection: Selection) -> str:
    lines = [json.dumps({"format": "json-pages-1.0", "id": "pages", "title": selection.title})]
    for page in selection.pages:
        lines.append(json.dumps({"url": page.url, "ts": page.date.strftime("%Y-%m-%dT%H:%M:%SZ"), "title": page.title}))
    return "\n".join(lines) + "\n"


def _sha256(data: bytes | Path) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    hasher = hashlib.sha256()
    with open(data, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def _size(data: bytes | Path) -> int:
    return len(data) if isinstance(data, bytes) else data.stat().st_size
