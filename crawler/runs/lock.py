"""One crawl at a time per database, so that cron can start a run while the last one is slow.

The lock is an OS advisory lock (``flock``) on ``<database>.lock`` beside the SQLite file,
held for the whole crawl. The kernel releases it when the process ends, however it ends,
so a ``kill -9`` or a power cut never leaves a stale lock behind; the file itself stays
(removing it would let two runs lock two different files). It holds the pid of the run
holding it, for the message the next run prints.

On PostgreSQL the lock is a session-level advisory lock (``pg_try_advisory_lock``)
held by one connection for the whole crawl; the server drops it when that connection
ends, however the process ends. It locks out a second coordinator, not the workers
(``evidence worker``), which write the same run side by side. Other servers are not
locked.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from crawler.exceptions import DatabaseError, RunLocked
from crawler.store.db import database_url, describe_failure, open_engine, sqlite_file

logger = logging.getLogger(__name__)


def lock_path(database: str) -> Path | None:
    """Where the run lock of ``database`` (a path or URL) lives, or None if it has none."""
    path = sqlite_file(database)
    return None if path is None else path.with_name(path.name + ".lock")


# (classid, objid) of the advisory lock: any pair, the same in every evidence release.
PG_LOCK_KEY = (0x65766964, 1)


@contextmanager
def run_lock(database: str) -> Iterator[str | None]:
    """Hold the run lock of ``database`` for the ``with`` block; raise ``RunLocked`` at once if taken.

    Yields what holds the lock (the lock file, or the server's advisory lock), or None
    for databases that cannot be locked.
    """
    path = lock_path(database)
    if path is None:
        if make_url(database_url(database)).get_backend_name() == "postgresql":
            with _advisory_lock(database):
                yield "advisory lock on the server"
            return
        logger.info("%s is neither an SQLite file nor PostgreSQL: crawls on it are not locked against each other", database)
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
            yield str(path)
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


@contextmanager
def _advisory_lock(database: str) -> Iterator[None]:
    engine = open_engine(database, create=True)
    name = engine.url.render_as_string(hide_password=True)
    keys = {"a": PG_LOCK_KEY[0], "b": PG_LOCK_KEY[1]}
    try:
        try:
            connection = engine.connect()
            holder = _take(connection, keys)
        except SQLAlchemyError as exc:
            raise DatabaseError(describe_failure(name, exc)) from exc
        if holder is not None:
            connection.close()
            raise RunLocked(
                f"another crawl{holder} is running on the database {name}; this run stopped without touching it: "
                "let that one finish, or schedule runs further apart"
            )
        try:
            yield
        finally:
            # Closing the connection would release it too; unlocking says so explicitly.
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:a, :b)"), keys)
                connection.commit()
            except SQLAlchemyError:
                pass
            connection.close()
    finally:
        engine.dispose()


def _take(connection: Connection, keys: dict[str, int]) -> str | None:
    """Take the lock; if another session holds it, `` (who)`` or an empty string."""
    me = f"evidence crawl pid {os.getpid()} on {socket.gethostname()}"
    # Named, so that the next run can say who holds the lock.
    connection.execute(text("SELECT set_config('application_name', :name, false)"), {"name": me[:63]})
    taken = connection.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), keys).scalar()
    connection.commit()
    if taken:
        return None
    holder = connection.execute(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = :a AND l.objid = :b AND l.granted"
        ),
        keys,
    ).scalar()
    connection.commit()
    return f" ({holder})" if holder else ""
