"""Closing WARC files whose writer died (``kill -9``, power loss) before it could.

Such a file still ends in ``.open`` and may end inside a record. Every record the
database points at was synced before its row was committed, so the file is cut after
its last complete gzip member (the partial record is never read as whole), renamed to
its final name, and its checksum recorded like any closed file's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import zlib
from pathlib import Path

from crawler.runs.liveness import process_alive
from crawler.warc.writer import OPEN_SUFFIX, ClosedFile

logger = logging.getLogger(__name__)

# evidence-STAMP-SERIAL-PID-HOST.warc.gz.open (see WarcStore._open)
_NAME = re.compile(r"^.+-\d{17}-\d{5}-(?P<pid>\d+)-(?P<host>[^/]+)\.warc\.gz\.open$")
_STEP = 1 << 20


def _writer_alive(path: Path) -> bool:
    match = _NAME.match(path.name)
    if match is None or match["host"] != socket.gethostname().replace("-", "_"):
        return True  # not ours to judge: another host's or another tool's file
    return process_alive(int(match["pid"]))


def complete_length(path: Path) -> int:
    """Bytes up to the end of the last complete gzip member (streamed: output is discarded)."""
    good = fed = 0
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_STEP):
            fed += len(chunk)
            data: bytes = chunk
            while data:
                try:
                    inflater.decompress(data, _STEP)
                    while inflater.unconsumed_tail and not inflater.eof:
                        inflater.decompress(inflater.unconsumed_tail, _STEP)
                except zlib.error:
                    return good
                if not inflater.eof:
                    break  # this member goes on in the next chunk
                # The member ended inside this chunk: what follows starts the next one.
                data = inflater.unused_data
                good = fed - len(data)
                inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    return good


def recover_open_files(archive_dir: Path) -> list[ClosedFile]:
    """Cut and close every ``.open`` file whose writer on this host is gone."""
    closed = []
    for path in sorted(archive_dir.glob("*" + OPEN_SUFFIX)) if archive_dir.is_dir() else []:
        if _writer_alive(path):
            continue
        keep = complete_length(path)
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
        os.replace(path, final)
        hasher = hashlib.sha256()
        with open(final, "rb") as handle:
            while chunk := handle.read(_STEP):
                hasher.update(chunk)
        logger.warning("closed %s left open by a stopped run (cut %d bytes of a partial record)", final.name, size - keep)
        closed.append(ClosedFile(final.name, hasher.hexdigest(), keep))
    return closed
