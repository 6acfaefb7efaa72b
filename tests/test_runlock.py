"""Two crawls on one database: the second exits at once with code 4 and touches nothing;
reading commands keep working while a crawl writes."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

from crawler.runs.lock import lock_path
from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.test_interrupt import assert_every_row_points_at_its_record, quick_again, slow_report, start_crawl, wait_for_captures


def test_a_second_crawl_on_the_same_database_exits_4_at_once(workspace: Workspace, site: MockServer):
    plan = workspace.path / "plan.md"
    plan.write_text(f"1 See {site.url('/plan')}\n", encoding="utf-8")
    assert workspace.crawl(str(plan)).returncode == 0  # run 1: data the later runs must not disturb

    # A second a page, two at a time: the first run is still writing for about five
    # seconds after its second capture, far longer than the second run needs to start
    # on a loaded machine (with six pages it could finish first).
    first = start_crawl(workspace, slow_report(workspace, site, count=12))
    wait_for_captures(workspace, 2)  # run 2 is writing
    started = time.monotonic()
    second = workspace.crawl(str(plan))
    elapsed = time.monotonic() - started

    assert second.returncode == 4, second.stdout + second.stderr
    assert elapsed < 10, "the second run must not wait for the first"
    assert second.stdout == ""
    assert second.stderr == (
        f"Error: another crawl (pid {first.pid} on {_host()}) is running on the database {workspace.db}; "
        "this run stopped without touching it: let that one finish, or schedule runs further apart\n"
    )

    # Readers are not locked out while the crawl writes (WAL).
    assert workspace.run("status").returncode == 0
    assert workspace.run("history", site.url("/plan")).returncode == 0
    report = workspace.run("report", "-o", str(workspace.path / "during.html"))
    assert report.returncode == 0, report.stderr
    # ...and so are the small writes a person makes meanwhile.
    for _ in range(3):
        acked = workspace.run("ack", site.url("/plan"), "--note", "during a crawl")
        assert acked.returncode == 0, acked.stderr

    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stdout + stderr
    assert "run 2 finished: 12 URLs checked (12 ok)" in stdout
    with sqlite3.connect(workspace.db) as connection:
        assert connection.execute("SELECT id, status FROM runs ORDER BY id").fetchall() == [(1, "finished"), (2, "finished")]
        assert connection.execute("SELECT run_id, COUNT(*) FROM captures GROUP BY run_id").fetchall() == [(1, 1), (2, 12)]
    assert assert_every_row_points_at_its_record(workspace) > 0

    # The lock went with the first run: the next one just works.
    third = workspace.crawl(str(plan), "--json")
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["run"] == 3


def test_kill_9_leaves_no_stale_lock(workspace: Workspace, site: MockServer):
    process = start_crawl(workspace, slow_report(workspace, site, count=6))
    wait_for_captures(workspace, 1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert lock_path(str(workspace.db)) == workspace.path / "evidence.db.lock"
    quick_again(site)
    again = workspace.crawl(str(workspace.path / "slow.md"), "-s", "EVIDENCE_PROBE_ENABLED=False")
    assert again.returncode == 0, again.stdout + again.stderr
    with sqlite3.connect(workspace.db) as connection:
        assert connection.execute("SELECT id, status FROM runs ORDER BY id").fetchall() == [(1, "interrupted"), (2, "finished")]


def test_only_sqlite_files_have_a_lock(tmp_path):
    assert lock_path(str(tmp_path / "e.db")) == tmp_path / "e.db.lock"
    assert lock_path(f"sqlite:///{tmp_path / 'e.db'}") == tmp_path / "e.db.lock"
    assert lock_path("postgresql://evidence@db.example.org/evidence") is None
    assert lock_path("sqlite://") is None


def _host() -> str:
    import socket

    return socket.gethostname()


def test_help_documents_exit_code_4(workspace: Workspace):
    result = workspace.run("crawl", "--help")
    assert "4  another crawl holds this database; this one stopped without touching it" in result.stdout

