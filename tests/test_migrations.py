"""The schema is managed by Alembic on SQLite and PostgreSQL alike: migrated databases
equal what ``crawler/store/models.py`` declares, databases from before migrations are adopted,
and a revision from a newer evidence is refused with a clear line."""

from __future__ import annotations

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from crawler.exceptions import DatabaseError
from crawler.store.db import database_url, open_database
from crawler.store.migrate import current_revision, head_revision
from crawler.store.models import SCHEMA_VERSION, Base, Meta
from tests.conftest import Workspace
from tests.olddb import database_at
from tests.servers import PostgresServer


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def migrate_from_nothing(engine: Engine) -> None:
    """Every migration script, in order, on an empty database (a new database is instead
    made with the models' create_all and stamped, so this is what holds the two equal)."""
    from alembic import command

    from crawler.store.migrate import _config

    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")


def test_the_migrations_alone_build_exactly_the_models_on_sqlite(tmp_path):
    engine = create_engine(database_url(str(tmp_path / "migrated.db")))
    migrate_from_nothing(engine)
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []


def test_the_migrations_alone_build_exactly_the_models_on_postgresql(postgres: PostgresServer):
    engine = create_engine(postgres.create_database())
    migrate_from_nothing(engine)
    assert schema_differences(engine) == []


def test_a_new_sqlite_database_is_migrated_to_exactly_the_models(tmp_path):
    sessions = open_database(str(tmp_path / "new.db"), create=True)
    engine = sessions.kw["bind"]
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []


def test_a_new_postgresql_database_is_migrated_to_exactly_the_models(postgres: PostgresServer):
    url = postgres.create_database()
    sessions = open_database(url, create=True)
    engine = sessions.kw["bind"]
    assert engine.dialect.name == "postgresql" and engine.driver == "psycopg"
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []
    with sessions() as session:
        assert session.get_one(Meta, "schema_version").value == str(SCHEMA_VERSION)
    # Opening it again changes nothing.
    open_database(url, create=False)
    assert current_revision(engine) == head_revision()


def test_a_database_from_before_migrations_is_adopted(tmp_path):
    path = tmp_path / "old.db"
    # What evidence 0.1 made: create_all, a meta row, no alembic_version, no acks yet.
    engine = create_engine(database_url(str(path)))
    later = ("acks", "mementos", "pins", "pin_results", "records", "timestamps")
    Base.metadata.create_all(engine, tables=[t for t in Base.metadata.sorted_tables if t.name not in later])
    # records as 0.1 made it: without the column (and its foreign key) revision 0004 added,
    # which SQLite cannot drop once made.
    records = Base.metadata.tables["records"]
    ddl = str(CreateTable(records).compile(engine))
    ddl = "\n".join(line for line in ddl.splitlines() if "memento" not in line).replace(",\n)", "\n)")
    with engine.begin() as connection:
        connection.exec_driver_sql(ddl)
        for index in records.indexes:
            index.create(connection)
    with Session(engine) as session, session.begin():
        session.add(Meta(key="schema_version", value="1"))
    engine.dispose()
    with sqlite3.connect(path) as connection:  # the columns later revisions added
        for table, column in [
            ("captures", "basis"), ("captures", "boilerplate"), ("targets", "noise"),
            ("citations", "cited_at"), ("citations", "cited_at_source"), ("captures", "render"),
            ("captures", "render_error"), ("captures", "dom_filename"), ("captures", "dom_offset"), ("probes", "render"),
        ]:
            connection.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    sessions = open_database(str(path), create=False)
    # stamped 0001, then upgraded like any database at an older revision
    assert current_revision(sessions.kw["bind"]) == head_revision()
    assert schema_differences(sessions.kw["bind"]) == []
    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"acks", "alembic_version", "captures"} <= tables


def test_a_database_with_foreign_columns_is_not_adopted(tmp_path):
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        connection.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        connection.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, name TEXT)")
    workspace = Workspace(tmp_path)
    result = workspace.run("status", "--db", str(path))
    assert result.returncode == 3
    assert "lacks the table" in result.stderr or "other columns" in result.stderr


def test_a_newer_revision_is_refused_with_one_line(tmp_path):
    workspace = Workspace(tmp_path)
    open_database(str(workspace.db), create=True)
    with sqlite3.connect(workspace.db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    result = workspace.run("status")
    assert result.returncode == 3
    assert result.stderr.startswith("Error: database ") and "9999" in result.stderr and "newer evidence" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_commands_show_and_upgrade_the_revision(tmp_path):
    workspace = Workspace(tmp_path)
    upgraded = workspace.run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"{workspace.db}: created at revision {head_revision()}"
    current = workspace.run("db", "current")
    assert current.returncode == 0
    assert current.stdout.strip() == f"{workspace.db}: revision {head_revision()} (head)"
    again = workspace.run("db", "upgrade")
    assert again.stdout.strip() == f"{workspace.db}: already at revision {head_revision()} (head)"


@pytest.mark.parametrize("url", ["postgresql://nobody@127.0.0.1:1/none"])
def test_an_unreachable_server_is_one_line(tmp_path, url):
    result = Workspace(tmp_path).run("status", "--db", url)
    assert result.returncode == 3
    assert "check that the server runs" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_head_known_without_alembic_is_alembics_head():
    from crawler.store.migrate import HEAD_REVISION

    assert HEAD_REVISION == head_revision()


def test_opening_a_database_at_head_and_crawling_a_list_imports_neither_alembic_nor_pypdf(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "e.db"
    open_database(str(db), create=True)
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/a\n")
    probe = (
        "import sys\n"
        "from crawler.store.db import open_database\n"
        "from crawler.citations import read_document\n"
        f"open_database({str(db)!r}, create=False)\n"
        f"read_document({str(urls)!r})\n"
        "print(sorted({'alembic', 'pypdf'} & {name.split('.')[0] for name in sys.modules}))\n"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_db_upgrade_brings_a_0002_database_to_cited_at_and_a_reimport_fills_it(tmp_path, request, server):
    """A database written before citations had ``cited_at`` keeps its citations through
    ``evidence db upgrade``, with no date, until its document is imported again."""
    from sqlalchemy import text

    workspace, engine = database_at(
        "0002", tmp_path, request, server, "Informe[^1].\n\n[^1]: http://127.0.0.1:9/a (consultado el 12 de marzo de 2017)\n"
    )
    document = tmp_path / "informe.md"
    assert current_revision(engine) == "0002"

    upgraded = workspace.run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert current_revision(engine) == head_revision() == "0008"
    assert schema_differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT footnote, cited_at, cited_at_source FROM citations")).all() == [("1", None, None)]

    assert workspace.run("import", str(document)).returncode == 0
    with engine.connect() as connection:
        [(day, source)] = connection.execute(text("SELECT cited_at, cited_at_source FROM citations")).all()
    assert (str(day), source) == ("2017-03-12", "note")
    engine.dispose()


KILL_MID_CREATION = """
import os, signal, sys
from sqlalchemy import event
from crawler.store.db import open_database
from crawler.store.models import Base

# Killed right after the third table exists: the first ones are already written.
table = Base.metadata.sorted_tables[2]
event.listen(table, "after_create", lambda *args, **kw: os.kill(os.getpid(), signal.SIGKILL))
open_database(sys.argv[1], create=True)
"""


def test_a_process_killed_while_creating_the_database_leaves_none_half_made(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = tmp_path / "evidence.db"
    killed = subprocess.run([sys.executable, "-c", KILL_MID_CREATION, str(path)], cwd=ROOT, check=False)
    assert killed.returncode == -9
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
    sessions = open_database(str(path), create=True)
    with sessions() as session:
        assert session.get_one(Meta, "schema_version").value == str(SCHEMA_VERSION)
    assert schema_differences(sessions.kw["bind"]) == []


def test_tables_left_by_a_cut_off_creation_are_made_anew(tmp_path):
    # What evidence wrote before creation became one transaction, when killed halfway:
    # some of its tables, empty, and no version anywhere.
    path = tmp_path / "evidence.db"
    engine = create_engine(database_url(str(path)))
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables[:4]:
            table.create(connection)
    sessions = open_database(str(path), create=True)
    assert current_revision(sessions.kw["bind"]) == head_revision()
    assert schema_differences(sessions.kw["bind"]) == []
    with sessions() as session:
        assert session.get_one(Meta, "schema_version").value == str(SCHEMA_VERSION)


def test_half_made_tables_holding_rows_are_not_touched(tmp_path):
    path = tmp_path / "evidence.db"
    engine = create_engine(database_url(str(path)))
    with engine.begin() as connection:
        Base.metadata.create_all(connection)
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO meta (key, value) VALUES ('note', 'kept')")
    with pytest.raises(DatabaseError, match="schema version None"):
        open_database(str(path), create=True)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT value FROM meta").fetchall() == [("kept",)]
