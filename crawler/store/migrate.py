"""The evidence schema under Alembic, the same on SQLite and PostgreSQL.

Opening a database brings it to the newest revision this build knows
(``crawler/store/migrations/versions``), so an installed ``evidence`` migrates without the
source tree. A database created before migrations existed (``meta.schema_version = 1``
and no ``alembic_version`` table) holds revision 0001's schema: its tables are checked
and it is stamped 0001. A revision this build does not know was written by a newer
evidence, and is refused rather than guessed at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, select, text
from sqlalchemy.orm import Session

from crawler import __version__
from crawler.exceptions import DatabaseError, DatabaseMissing
from crawler.store.models import SCHEMA_VERSION, Base, Meta

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic says "Context impl ..." on every open: not news, even at -v.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

# The revision that databases without an alembic_version table hold.
LEGACY_REVISION = "0001"
# The newest revision in crawler/store/migrations/versions (a test holds it to Alembic's own
# answer). Knowing it lets the usual open, of a database already there, skip importing
# Alembic, which costs every command 11 MB of memory and about 90 ms.
HEAD_REVISION = "0008"
# Any 64-bit number, the same in every evidence process: two workers opening a fresh
# PostgreSQL database at once take turns instead of both creating the tables.
MIGRATION_LOCK_KEY = 0x65766964656E6365  # "evidence"


# Alembic's version table, as Alembic itself creates it.
_ALEMBIC_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "crawler.store:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package ships at least revision 0001
    return str(head)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: not under migrations yet)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    return None if revision is None else str(revision)


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade`` did to a database."""

    #: the revision it was at (None: from before migrations, or just created)
    before: str | None
    #: the revision it is at now: this build's head
    after: str
    #: it held no tables, and was created at ``after``
    created: bool

    @property
    def migrated(self) -> bool:
        return not self.created and self.before != self.after


@dataclass(frozen=True)
class Revision:
    """Which schema revision a database is at, against this build's."""

    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def upgrade(value: str) -> Upgrade:
    """Create the database ``value`` names, or migrate it to this build's schema."""
    from crawler.store.db import open_database, open_engine

    engine = open_engine(value, create=True)
    created = not inspect(engine).get_table_names()
    before = None if created else current_revision(engine)
    open_database(value, create=True)
    return Upgrade(before=before, after=head_revision(), created=created)


def revision(value: str) -> Revision:
    """The schema revision of the existing database ``value`` names."""
    from crawler.store.db import open_engine

    return Revision(current=current_revision(open_engine(value, create=False)), head=head_revision())


def prepare_schema(engine: Engine, *, create: bool) -> None:
    """Create, stamp or upgrade the schema of ``engine``'s database, all in one transaction."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            if _at_head(connection):
                return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        else:
            # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so each
            # CREATE TABLE would commit on its own: a process killed halfway through creating
            # a database left tables without their version, which every later run refused.
            # IMMEDIATE also makes two processes creating one file take turns.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        if _at_head(connection):
            return
        tables = set(inspect(connection).get_table_names())
        if not tables - {"alembic_version"} or (create and _creation_cut_off(connection, tables)):
            if not create:
                raise DatabaseMissing(f"database {_name(engine)} holds no evidence tables; run `evidence crawl` first")
            _create(connection, tables)
            return
        if "meta" not in tables:
            raise DatabaseError(f"database {_name(engine)} is not an evidence database (no meta table)")
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = _config(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None:
            _adopt_legacy(connection, tables, engine)
            command.stamp(config, LEGACY_REVISION)
            current = LEGACY_REVISION
        script = ScriptDirectory.from_config(config)
        known = {revision.revision for revision in script.walk_revisions()}
        if current not in known:
            raise DatabaseError(
                f"database {_name(engine)} is at schema revision {current}, written by a newer evidence; "
                f"this evidence {__version__} knows revisions up to {script.get_current_head()}: "
                "use a matching evidence release"
            )
        if current != script.get_current_head():
            command.upgrade(config, "head")


# Columns that later revisions added to revision 0001's tables: a legacy database lacks
# them until it is stamped 0001 and upgraded.
_ADDED_AFTER_LEGACY = {
    "captures": {"basis", "boilerplate", "render", "render_error", "dom_filename", "dom_offset"},
    "targets": {"noise"}, "citations": {"cited_at", "cited_at_source"}, "records": {"memento_id"}, "probes": {"render"},
}
# Tables a later revision creates: a 0.1 database has none of them yet.
_TABLES_AFTER_LEGACY = {"mementos", "pins", "pin_results", "timestamps"}


def _adopt_legacy(connection: Connection, tables: set[str], engine: Engine) -> None:
    """Check that a database from before migrations holds revision 0001's tables."""
    with Session(bind=connection) as session:
        version = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    if version != str(SCHEMA_VERSION):
        raise DatabaseError(
            f"database {_name(engine)} has schema version {version}, this evidence {__version__} "
            f"reads version {SCHEMA_VERSION}; use a matching evidence release"
        )
    inspector = inspect(connection)
    for table in Base.metadata.sorted_tables:
        if table.name in _TABLES_AFTER_LEGACY:
            continue
        if table.name not in tables:
            # acks arrived within schema version 1 and was created on first use.
            if table.name == "acks":
                table.create(connection)
                continue
            raise DatabaseError(f"database {_name(engine)} lacks the table {table.name}; it was not written by evidence 0.1")
        have = {column["name"] for column in inspector.get_columns(table.name)}
        want = {column.name for column in table.columns} - _ADDED_AFTER_LEGACY.get(table.name, set())
        if have != want:
            raise DatabaseError(
                f"database {_name(engine)} has other columns in {table.name} than evidence 0.1 wrote "
                f"({', '.join(sorted(have ^ want))}); use the evidence release that wrote it"
            )


def _create(connection: Connection, tables: set[str]) -> None:
    # Alembic's own recipe for a new database: create the models' tables and stamp it at
    # head (tests hold the migrations to the very same schema). Tables left by a cut-off
    # creation are empty (see _creation_cut_off) and are made anew, indexes and all.
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in tables:
            table.drop(connection)
    _ALEMBIC_VERSION.drop(connection, checkfirst=True)
    Base.metadata.create_all(connection)
    _ALEMBIC_VERSION.create(connection)
    connection.execute(_ALEMBIC_VERSION.insert().values(version_num=HEAD_REVISION))
    with Session(bind=connection) as session:
        session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
        session.add(Meta(key="created_by", value=f"evidence/{__version__}"))
        session.flush()


def _creation_cut_off(connection: Connection, tables: set[str]) -> bool:
    """Whether the tables are what an evidence older than this fix left when killed while
    creating the database: only evidence's own tables, no version anywhere, every one empty."""
    ours = {table.name for table in Base.metadata.sorted_tables}
    if "alembic_version" in tables or not tables <= ours:
        return False
    return all(connection.scalar(text(f'SELECT count(*) FROM "{name}"')) == 0 for name in tables)


def _at_head(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    return (
        "meta" in tables and "alembic_version" in tables
        and connection.scalar(text("SELECT version_num FROM alembic_version")) == HEAD_REVISION
    )


def _name(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)

