"""Opening the evidence database: a path or an SQLAlchemy URL, schema checked on open."""

from __future__ import annotations

import sqlite3
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import DatabaseError, DatabaseMissing, SettingError
from crawler.store.migrate import prepare_schema

BUSY_TIMEOUT_MS = 10_000


def database_url(value: str) -> str:
    """Accept a plain path (``evidence.db``) as well as an SQLAlchemy URL.

    ``postgresql://`` (as libpq and every PostgreSQL tool write it) means psycopg 3,
    the driver evidence installs; SQLAlchemy alone would look for psycopg2.
    """
    if "://" in value:
        scheme, _, rest = value.partition("://")
        if scheme in ("postgresql", "postgres"):
            return "postgresql+psycopg://" + rest
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


def sqlite_file(value: str) -> Path | None:
    """The file of an SQLite database named by a path or URL; None for other databases."""
    return _sqlite_path(database_url(value))


def require_server(value: str) -> None:
    """Several workers (the shared frontier) need one database server: refuse SQLite,
    which serves the processes of one machine only, before anything is opened."""
    if make_url(database_url(value)).get_backend_name() == "sqlite":
        raise SettingError(
            "workers share one database server: give --db postgresql://USER@HOST/NAME (an SQLite file serves one machine's crawl)"
        )


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        # WAL keeps readers going while a crawl writes, and committed rows survive a crash.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def open_engine(value: str, *, create: bool) -> Engine:
    """An engine for the database at ``value``, its schema not yet checked."""
    url = database_url(value)
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists() and not create:
            raise DatabaseMissing(
                f"no evidence database at {path}; run `evidence crawl` first or point --db / EVIDENCE_DB at one"
            )
        if not path.parent.is_dir():
            raise DatabaseError(f"cannot create the database {path}: folder {path.parent} does not exist")
    try:
        # pool_pre_ping: a worker outlives server restarts and idle-connection reapers.
        engine = create_engine(url, pool_pre_ping=path is None)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise DatabaseError(f"cannot use database URL {display_name(value)!r}: {exc}") from exc
    event.listen(engine, "connect", _on_connect)
    _engines.add(engine)
    return engine


#: Every engine this process opened and has not dropped.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def close_all() -> None:
    """Close the pooled connections of every engine still open.

    The last SQLite connection to close folds the write-ahead log into the database file,
    so that the file copied on its own holds everything; a process that leaves this to
    garbage collection at exit may skip it.
    """
    for engine in list(_engines):
        engine.dispose()


def open_database(value: str, *, create: bool) -> sessionmaker[Session]:
    """Return a session factory for the database at ``value``.

    With ``create`` the schema is made if absent; without it a missing database is
    an error, so read-only commands never leave an empty file behind. Either way the
    schema is brought to this build's newest migration (``crawler/store/migrate.py``).
    """
    engine = open_engine(value, create=create)
    try:
        prepare_schema(engine, create=create)
    except SQLAlchemyError as exc:
        raise DatabaseError(describe_failure(display_name(value), exc)) from exc
    return sessionmaker(engine, expire_on_commit=False)


def display_name(value: str) -> str:
    """The database as a reader should see it: a path, or a URL without its password."""
    return make_url(value).render_as_string(hide_password=True) if "://" in value else value


def describe_failure(value: str | None, exc: SQLAlchemyError) -> str:
    """One line naming the database, what went wrong and what to do."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    name = f"database {value}" if value else "the database"
    if "locked" in detail or "busy" in detail:
        return f"{name} is locked by another process; wait for it to finish and run again"
    if "not a database" in detail or "malformed" in detail:
        return (
            f"{value or 'the database'} is not a readable SQLite database ({detail}); "
            "point --db at an evidence database or move the file away"
        )
    if "no such column" in detail or "no such table" in detail:
        return f"{name} was written by another version of evidence ({detail}); use the matching release or a new --db"
    if isinstance(exc, OperationalError) and value and "://" in value and not value.startswith("sqlite"):
        return f"cannot use {name}: {detail}; check that the server runs and the URL (host, port, user, database name)"
    if isinstance(exc, OperationalError):
        return f"cannot use {name}: {detail}; check the path and its permissions"
    return f"{name} failed: {detail}"
