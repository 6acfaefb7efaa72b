"""An interrupted run (kill -9, Ctrl-C) leaves no row pointing at missing bytes, and the
next run just works."""

from __future__ import annotations

import signal
import sqlite3

import pytest
import subprocess
import sys
import time

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from crawler.store.db import open_database
from crawler.store.models import Record
from crawler.warc.reader import read_record
from tests.conftest import FAST, ROOT, Workspace
from tests.mockserver import MockServer


def slow_report(workspace: Workspace, site: MockServer, count: int = 12) -> str:
    """Pages a second slow each until the site is at version 2 (``quick_again``)."""
    doc = workspace.path / "slow.md"
    doc.write_text("".join(f"{i} See {site.url(f'/slow?s=1&until=2&i={i}')}\n" for i in range(1, count + 1)), encoding="utf-8")
    return str(doc)


def quick_again(*sites: MockServer) -> None:
    """The slow report's pages answer at once from now on: the run after a stop only has
    to finish (a second per URL would be a dozen seconds of waiting for nothing)."""
    for site in sites:
        site.set_version(2)


def start_crawl(workspace: Workspace, doc: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        # Probes are switched off: this is about interruption, and a shared probe makes
        # the captures of one URL shape complete together.
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, "-s", "EVIDENCE_PROBE_ENABLED=False", doc],
        cwd=workspace.path,
        env=workspace.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_captures(workspace: Workspace, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if workspace.db.exists():
            try:
                with sqlite3.connect(workspace.db) as connection:
                    (count,) = connection.execute("SELECT COUNT(*) FROM captures").fetchone()
                if count >= at_least:
                    return
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.05)
    raise AssertionError(f"no {at_least} captures within {timeout} s")


def assert_every_row_points_at_its_record(workspace: Workspace) -> int:
    sessions = open_database(workspace.db_url or str(workspace.db), create=False)
    with sessions() as session:
        rows = session.execute(select(Record.filename, Record.offset, Record.record_id)).all()
    for filename, offset, record_id in rows:
        record = read_record(workspace.archive, filename, offset)  # checks the block digest
        assert record.header("WARC-Record-ID") == record_id
        path = workspace.archive / filename
        if not path.exists():
            path = workspace.archive / (filename + ".open")
        with open(path, "rb") as handle:
            handle.seek(offset)
            independent = next(iter(ArchiveIterator(handle, check_digests="raise")))
            independent.content_stream().read()
            assert independent.rec_headers.get_header("WARC-Record-ID") == record_id
    return len(rows)


def test_kill_9_mid_run_loses_nothing_and_the_next_run_works(workspace: Workspace, site: MockServer):
    doc = slow_report(workspace, site)
    process = start_crawl(workspace, doc)
    wait_for_captures(workspace, 3)
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert assert_every_row_points_at_its_record(workspace) >= 6
    assert list(workspace.archive.glob("*.warc.gz.open")), "the killed run's file was never closed"
    with sqlite3.connect(workspace.db) as connection:
        (url,) = connection.execute("SELECT t.url FROM captures c JOIN targets t ON t.id = c.target_id LIMIT 1").fetchone()
    shown = workspace.run("show", url)
    assert shown.returncode == 0 and "Por fin" in shown.stdout

    quick_again(site)
    again = workspace.crawl(doc, "-s", "EVIDENCE_PROBE_ENABLED=False")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "run 2 finished: 12 URLs checked (12 ok)" in again.stdout
    assert_every_row_points_at_its_record(workspace)
    with sqlite3.connect(workspace.db) as connection:
        statuses = connection.execute("SELECT id, status FROM runs ORDER BY id").fetchall()
    assert statuses == [(1, "interrupted"), (2, "finished")]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_finishes_what_is_in_flight_and_marks_the_run_incomplete(
    workspace: Workspace, site: MockServer, stop: signal.Signals
):
    doc = slow_report(workspace, site)
    process = start_crawl(workspace, doc)
    wait_for_captures(workspace, 2)
    process.send_signal(stop)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stdout + stderr
    assert "is incomplete" in stderr
    with sqlite3.connect(workspace.db) as connection:
        assert connection.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert not list(workspace.archive.glob("*.open")), "a clean stop closes its WARC file"
    assert_every_row_points_at_its_record(workspace)
    # the next run does what was not done
    quick_again(site)
    again = workspace.crawl(doc, "-s", "EVIDENCE_PROBE_ENABLED=False")
    assert again.returncode == 0 and "finished: 12 URLs checked" in again.stdout, again.stdout + again.stderr
