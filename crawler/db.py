"""Opening the evidence database: a path or an SQLAlchemy URL, schema checked on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler import __version__
from crawler.exceptions import DatabaseError, DatabaseMissing
from crawler.models import SCHEMA_VERSION, Base, Meta

BUSY_TIMEOUT_MS = 10_000


def database_url(value: str) -> str:
    """Accept a plain path (``evidence.db``) as well as an SQLAlchemy URL."""
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


def sqlite_file(value: str) -> Path | None:
    """The file of an SQLite database named by a path or URL; None for other databases."""
    return _sqlite_path(database_url(value))


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


def open_database(value: str, *, create: bool) -> sessionmaker[Session]:
    """Return a session factory for the database at ``value``.

    With ``create`` the schema is made if absent; without it a missing database is
    an error, so read-only commands never leave an empty file behind.
    """
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
        engine = create_engine(url)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise DatabaseError(f"cannot use database URL {value!r}: {exc}") from exc
    event.listen(engine, "connect", _on_connect)
    try:
        _prepare(engine, create=create)
    except SQLAlchemyError as exc:
        raise DatabaseError(describe_failure(value, exc)) from exc
    return sessionmaker(engine, expire_on_commit=False)


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
    if isinstance(exc, OperationalError):
        return f"cannot use {name}: {detail}; check the path and its permissions"
    return f"{name} failed: {detail}"


def _prepare(engine: Engine, *, create: bool) -> None:
    tables = set(inspect(engine).get_table_names())
    if not tables:
        if not create:
            raise DatabaseMissing(f"database {engine.url} holds no evidence tables; run `evidence crawl` first")
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            session.add(Meta(key="created_by", value=f"evidence/{__version__}"))
        return
    if "meta" not in tables:
        raise DatabaseError(f"database {engine.url} is not an evidence database (no meta table)")
    with Session(engine) as session:
        version = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    if version != str(SCHEMA_VERSION):
        raise DatabaseError(
            f"database {engine.url} has schema version {version}, this evidence {__version__} "
            f"reads version {SCHEMA_VERSION}; use a matching evidence release"
        )
    if set(Base.metadata.tables) - tables:
        # Tables added within schema version 1 (acks): created on first use, nothing else is touched.
        Base.metadata.create_all(engine)
