"""The WARC store: rolling, record-at-a-time gzipped WARC/1.1 files under one folder.

A file is written as ``NAME.warc.gz.open`` and renamed to ``NAME.warc.gz`` when it is
closed (the Heritrix convention), so a file that still ends in ``.open`` was never
closed cleanly. The database always stores the final name; readers fall back to the
``.open`` name (see :mod:`crawler.warc.reader`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from crawler import __version__
from crawler.exceptions import ArchiveError
from crawler.warc.records import WarcRecord, warcinfo_block

OPEN_SUFFIX = ".open"
#: How each record's gzip member is compressed (``EVIDENCE_WARC_COMPRESSION``):
#:
#: - ``fast``: ISA-L's igzip at its level 3 (python-isal). On HTML it takes a ninth of the
#:   CPU of zlib at level 6 (0.07 against 0.61 ms for a 28 KB page, a third of what the
#:   whole crawl spent per URL) for files 12-20% larger.
#: - ``small``: zlib at level 6, which costs about 30% less CPU than warcio's level 9 for
#:   under 0.5% more bytes.
#:
#: Either way each record is one standard gzip member that every WARC reader inflates;
#: digests are of the uncompressed record, so they do not depend on the choice.
COMPRESSIONS = ("fast", "small")
GZIP_LEVEL = 6
_FAST_LEVEL = 3
# Cited datasets and reports are often already compressed (ZIP, XLSX, DOCX, JPEG, most of
# a PDF). zlib spends as long failing to shrink such bytes as compressing text (0.15 s per
# 8 MiB), so a large block whose samples do not shrink is stored in the gzip member
# uncompressed (level 0: still one valid gzip member per record, 5 bytes per 64 KiB).
STORE_FROM = 256 * 1024
_SAMPLE = 32 * 1024
_SHRINKS_BELOW = 0.97
# Records at least this large are compressed and written on the store's own thread. zlib
# and hashlib let go of the GIL while they work, so with ``small`` a page's deflate runs
# beside the crawl; smaller records cost less than the hand-over (about 20 µs). ISA-L
# keeps the GIL, and a page costs it less than the hand-over: only records large enough
# to stall the event loop for a while go to the thread, where the GIL changes hands
# between slices.
THREAD_FROM = {"small": 8 * 1024, "fast": 1024 * 1024}


@dataclass(frozen=True)
class ClosedFile:
    """A WARC file as it was when closed: what ``evidence verify`` checks it against."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class RecordLocation:
    """Where one written record lives: enough to seek to it directly."""

    filename: str
    offset: int
    length: int
    record_id: str


class WarcStore:
    """Appends records to the current file of ``directory``, rolling over at ``max_size``.

    ``write`` runs on the caller's thread; ``write_async`` hands large records to the
    store's one writer thread (see ``THREAD_FROM``), so that compressing a 1 GB dataset
    (seconds) does not stall the crawl's event loop.
    One lock orders every file operation, so offsets, the running checksum and
    ``sync``/``close`` see whole record groups only.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        prefix: str = "evidence",
        max_size: int = 1024**3,
        warcinfo: list[tuple[str, str]] | None = None,
        on_close: Callable[[ClosedFile], None] | None = None,
        compression: str = "fast",
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ArchiveError(
                f"unknown WARC compression {compression!r} (EVIDENCE_WARC_COMPRESSION): use one of {', '.join(COMPRESSIONS)}"
            )
        self._compressor = _fast_compressor if compression == "fast" else _zlib_compressor
        self._thread_from = THREAD_FROM[compression]
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_size = max_size
        self.warcinfo = warcinfo or []
        self.on_close = on_close
        self._file: BinaryIO | None = None
        self._name: str | None = None
        # Hashing as the bytes go out costs one pass over data already in memory and
        # gives the closed file's checksum without reading it back.
        self._sha256 = hashlib.sha256()
        self._serial = 0
        self._stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")[:17]
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(
                f"cannot create the archive folder {self.directory}: {exc.strerror}; "
                "pass a writable folder with --archive"
            ) from exc

    @property
    def current_name(self) -> str | None:
        return self._name

    async def write_async(self, records: list[WarcRecord]) -> list[RecordLocation]:
        """``write``, on the writer thread when the records are large."""
        if sum(len(part) for record in records for part in (record.block, record.tail)) < self._thread_from:
            return self.write(records)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-warc")
        return await asyncio.get_running_loop().run_in_executor(self._writer, self.write, records)

    def write(self, records: list[WarcRecord]) -> list[RecordLocation]:
        """Write ``records`` next to each other in one file, each as its own gzip member."""
        with self._lock:
            return self._write(records)

    def _write(self, records: list[WarcRecord]) -> list[RecordLocation]:
        if self._file is not None and self._file.tell() >= self.max_size:
            self._close()
        start: int | None = None
        locations = []
        try:
            if self._file is None:
                self._open()
            assert self._file is not None and self._name is not None
            start = self._file.tell()
            for record in records:
                offset = self._file.tell()
                self._write_member(record)
                locations.append(
                    RecordLocation(self._name, offset, self._file.tell() - offset, record.record_id)
                )
            self._file.flush()
        except OSError as exc:
            if start is not None:
                self._undo(start)
            raise ArchiveError(
                f"cannot write to {self.directory / (self._name or '')}: {exc.strerror}; "
                "free space in the archive folder (or point --archive elsewhere) and run again"
            ) from exc
        return locations

    def _undo(self, offset: int) -> None:
        """Cut what a failed write left after ``offset`` (shrinking works on a full disk)."""
        assert self._file is not None
        try:
            self._file.seek(offset)
            self._file.truncate(offset)
        except OSError:
            pass  # the next run's recovery cuts the file after its last whole record

    def sync(self) -> None:
        """Make what was written durable; call before committing rows that point at it."""
        with self._lock:
            self._sync()

    def _sync(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as exc:
                raise ArchiveError(
                    f"cannot write to {self.directory}: {exc.strerror}; "
                    "free space in the archive folder (or point --archive elsewhere) and run again"
                ) from exc

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._file is None:
            return
        self._sync()
        size = self._file.tell()
        assert self._name is not None
        name, self._name = self._name, None
        try:
            self._file.close()
            os.replace(self.directory / (name + OPEN_SUFFIX), self.directory / name)
        except OSError as exc:
            # Moved or removed under the crawl: what was synced stays in NAME.open, which
            # the next run in the right folder closes (crawler/warc/recover.py).
            raise ArchiveError(
                f"cannot close {self.directory / (name + OPEN_SUFFIX)}: {exc.strerror}; "
                "keep the archive folder in place while a crawl runs (the next run closes the file)"
            ) from exc
        finally:
            self._file = None
        closed = ClosedFile(name, self._sha256.hexdigest(), size)
        if self.on_close is not None:
            self.on_close(closed)

    def _open(self) -> None:
        self._serial += 1
        self._sha256 = hashlib.sha256()
        host = socket.gethostname().replace("-", "_") or "host"
        self._name = f"{self.prefix}-{self._stamp}-{self._serial:05d}-{os.getpid()}-{host}.warc.gz"
        try:
            self._file = open(self.directory / (self._name + OPEN_SUFFIX), "xb")
        except OSError as exc:
            raise ArchiveError(
                f"cannot create a WARC file in {self.directory}: {exc.strerror}; "
                "pass a writable folder with --archive"
            ) from exc
        fields = [
            ("software", f"evidence/{__version__}"),
            ("format", "WARC File Format 1.1"),
            ("conformsTo", "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
            ("hostname", socket.gethostname()),
            *self.warcinfo,
        ]
        info = WarcRecord(
            record_type="warcinfo",
            target_uri=None,
            date=datetime.now(timezone.utc),
            content_type="application/warc-fields",
            block=warcinfo_block(fields),
            extra_headers=[("WARC-Filename", self._name)],
        )
        self._write_member(info)

    def _write_member(self, record: WarcRecord) -> None:
        assert self._file is not None
        parts = record.chunks()
        compressor = self._compressor(parts)
        out = self._file.write
        digest = self._sha256.update

        def write(data: bytes) -> None:
            out(data)
            digest(data)

        for part in parts:
            # 1 MiB slices keep the compressor's output buffer small for huge bodies
            view = memoryview(part)
            for start in range(0, len(view), 1 << 20):
                write(compressor.compress(view[start : start + (1 << 20)]))
        write(compressor.flush())

    def __enter__(self) -> WarcStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Compressor(Protocol):
    def compress(self, data: bytes | memoryview, /) -> bytes: ...
    def flush(self) -> bytes: ...


def _zlib_compressor(parts: tuple[bytes | memoryview, ...]) -> _Compressor:
    return zlib.compressobj(gzip_level(parts), zlib.DEFLATED, zlib.MAX_WBITS + 16)


def _fast_compressor(parts: tuple[bytes | memoryview, ...]) -> _Compressor:
    if not gzip_level(parts):
        return zlib.compressobj(0, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    from isal import isal_zlib

    return cast(_Compressor, isal_zlib.compressobj(_FAST_LEVEL, isal_zlib.DEFLATED, isal_zlib.MAX_WBITS + 16))


def gzip_level(parts: tuple[bytes | memoryview, ...]) -> int:
    """``GZIP_LEVEL``, or 0 for a large record whose biggest part does not compress.

    The biggest part is the body; it is sampled at its start and its middle, quickly
    (level 1), because a file format may begin with a compressible header or index.
    """
    if sum(len(part) for part in parts) < STORE_FROM:
        return GZIP_LEVEL
    body = memoryview(max(parts, key=len))
    middle = len(body) // 2
    for sample in (body[:_SAMPLE], body[middle : middle + _SAMPLE]):
        if len(zlib.compress(sample, 1)) < _SHRINKS_BELOW * len(sample):
            return GZIP_LEVEL
    return 0
