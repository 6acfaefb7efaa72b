"""PostgreSQL specifics: the run lock is an advisory lock on the server, and a capture
is counted once per run even when two writers record the same URL."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from crawler.runs.lock import PG_LOCK_KEY
from crawler.store.db import open_database
from crawler.store.models import Capture, Run, Target
from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.servers import PostgresServer


def test_a_second_crawl_on_a_locked_postgresql_database_exits_4(tmp_path, postgres: PostgresServer, site: MockServer):
    url = postgres.create_database()
    workspace = Workspace(tmp_path, db_url=url)
    (tmp_path / "doc.md").write_text(f"1 <{site.url('/plan')}>\n", encoding="utf-8")
    with psycopg.connect(url, autocommit=True, application_name="the other crawl") as holder:
        assert holder.execute("SELECT pg_try_advisory_lock(%s, %s)", PG_LOCK_KEY).fetchone() == (True,)
        locked = workspace.crawl("doc.md")
        assert locked.returncode == 4, locked.stderr
        assert "another crawl (the other crawl) is running on the database" in locked.stderr
        assert site.hits() == {}, "a locked-out run fetches nothing"
    # Released when the holder's connection ends: the next crawl runs.
    done = workspace.crawl("doc.md")
    assert done.returncode == 0, done.stderr
    assert site.hits()["/plan"] == 1


def test_two_writers_recording_one_url_in_one_run_count_it_once(postgres: PostgresServer):
    sessions = open_database(postgres.create_database(), create=True)
    with sessions() as session, session.begin():
        run = Run(software="test", targets=1)
        target = Target(url="http://127.0.0.1:1/page")
        session.add_all([run, target])
    first, second = sessions(), sessions()
    for session in (first, second):
        session.add(Capture(run_id=run.id, target_id=target.id, checked_at=datetime(2026, 1, 1), state="ok", reason="first_capture"))
    first.commit()
    with pytest.raises(IntegrityError):
        second.commit()
    second.close()
    with sessions() as session:
        assert session.query(Capture).filter_by(run_id=run.id).count() == 1
