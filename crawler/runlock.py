"""One crawl at a time per database, so that cron can start a run while the last one is slow.

The lock is an OS advisory lock (``flock``) on ``<database>.lock`` beside the SQLite file,
held for the whole crawl. The kernel releases it when the process ends, however it ends,
so a ``kill -9`` or a power cut never leaves a stale lock behind; the file itself stays
(removing it would let two runs lock two different files). It holds the pid of the run
holding it, for the message the next run prints.

Databases given as a URL for another server (PostgreSQL...) are not locked: nothing
stops two crawls there yet, and the README says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crawler.db import sqlite_file
from crawler.exceptions import DatabaseError, RunLocked

logger = logging.getLogger(__name__)


def lock_path(database: str) -> Path | None:
    """Where the run lock of ``database`` (a path or URL) lives, or None if it has none."""
    path = sqlite_file(database)
    return None if path is None else path.with_name(path.name + ".lock")


@contextmanager
def run_lock(database: str) -> Iterator[Path | None]:
    """Hold the run lock of ``database`` for the ``with`` block; raise ``RunLocked`` at once if taken."""
    path = lock_path(database)
    if path is None:
        logger.info("%s is not an SQLite file: crawls on it are not locked against each other", database)
        yield None
        return
    try:
        # O_CLOEXEC: a program the crawl might start must not inherit, and so keep, the lock.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise DatabaseError(f"cannot create the run lock {path}: {exc.strerror}; check the permissions of {path.parent}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise RunLocked(
                f"another crawl{holder} is running on the database {path.with_suffix('')}; "
                "this run stopped without touching it: let that one finish, or schedule runs further apart"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        try:
            yield path
        finally:
            # Emptied before release, so a later reader never names a finished run.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """`` (pid N on HOST)`` from the lock file, or nothing if the holder has not written it yet."""
    try:
        words = os.pread(fd, 300, 0).decode("utf-8", "replace").split()
    except OSError:
        return ""
    if len(words) >= 2 and words[0].isdigit():
        return f" (pid {words[0]} on {words[1]})"
    return ""
