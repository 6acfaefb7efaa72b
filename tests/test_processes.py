"""``evidence crawl --processes N``: one run split by host over several crawl processes.

Real sites on several loopback addresses (one host each), real WARC files, a real
SQLite file or PostgreSQL server; the command line run as a user runs it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.scaleout.processes import shard_by_host
from crawler.store.db import open_database
from crawler.store.models import Capture, Run, Target
from tests.conftest import FAST, ROOT, Workspace
from tests.mockserver import MockServer
from tests.test_interrupt import assert_every_row_points_at_its_record, quick_again, wait_for_captures

# Answers that do not depend on how often a page was asked for: the same states
# whichever workspace crawls the sites first.
PATHS = ["/plan", "/status/404", "/status/410", "/down", "/nota.pdf", "/gobiernoabierto", "/dir", "/slow?s=0.2"]
NO_PROBES = ["-s", "EVIDENCE_PROBE_ENABLED=False"]


@pytest.fixture(scope="module")
def sites() -> Iterator[list[MockServer]]:
    """Three hosts: 127.0.0.1, 127.0.0.2 and 127.0.0.3."""
    servers = [MockServer(address=f"127.0.0.{n}") for n in (1, 2, 3)]
    for server in servers:
        server.__enter__()
    yield servers
    for server in servers:
        server.__exit__(None, None, None)


def report(workspace: Workspace, sites: list[MockServer], paths: list[str] = PATHS) -> str:
    doc = workspace.path / "report.md"
    lines = [f"{n} See {site.url(path)}\n" for n, (site, path) in enumerate(((s, p) for s in sites for p in paths), start=1)]
    doc.write_text("".join(lines), encoding="utf-8")
    return str(doc)


def states(workspace: Workspace, run_id: int = 1) -> dict[str, str]:
    sessions = open_database(workspace.db_url or str(workspace.db), create=False)
    with sessions() as session:
        rows = session.execute(select(Target.url, Capture.state).join(Capture).where(Capture.run_id == run_id)).all()
    assert len(rows) == len({url for url, _ in rows}), "a URL recorded twice in one run"
    return dict(rows)


def writer_pids(workspace: Workspace) -> set[str]:
    return {re.sub(r"^.+-\d{5}-(\d+)-[^-]+\.warc\.gz(\.open)?$", r"\1", path.name) for path in workspace.warc_files()}


def run_statuses(workspace: Workspace) -> list[tuple[int, str]]:
    sessions = open_database(workspace.db_url or str(workspace.db), create=False)
    with sessions() as session:
        return [(run.id, run.status) for run in session.scalars(select(Run).order_by(Run.id))]


@pytest.fixture(scope="module")
def one_process(sites: list[MockServer], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The states one process records for the report: what two must record too."""
    workspace = Workspace(tmp_path_factory.mktemp("one"))
    result = workspace.crawl(report(workspace, sites))
    assert result.returncode in (0, 1), result.stderr
    assert len(writer_pids(workspace)) == 1
    return states(workspace)


def test_shards_hold_whole_hosts_and_are_balanced():
    urls = [f"http://a.example/{n}" for n in range(6)] + [f"http://b.example:81/{n}" for n in range(3)]
    urls += [f"http://B.example/{n}" for n in range(2)] + ["http://c.example/", "http://d.example/x"]
    shards = shard_by_host(urls, 2)
    # a (6) | b, whatever the port or case (5); then c and d each to the smaller shard
    assert shards == [urls[:6] + ["http://d.example/x"], urls[6:11] + ["http://c.example/"]]
    assert sorted(map(len, shard_by_host(urls, 3))) == [2, 5, 6]
    assert shard_by_host(urls[:6], 4) == [urls[:6]], "fewer hosts than processes: fewer processes"
    assert shard_by_host([], 2) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_record_every_url_once_as_one_process_does(
    backend: str, sites: list[MockServer], one_process: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
):
    workspace = Workspace(tmp_path)
    if backend == "postgresql":
        workspace.db_url = request.getfixturevalue("postgres").create_database()
    doc = report(workspace, sites)
    result = workspace.crawl("--processes", "2", doc)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert f"run 1 finished: {len(sites) * len(PATHS)} URLs checked" in result.stdout
    assert states(workspace) == one_process
    assert Counter(one_process.values())["ok"] >= 3 * len(sites)
    assert len(writer_pids(workspace)) >= 2, "each process writes WARC files of its own"
    assert not list(workspace.archive.glob("*.open"))
    verified = workspace.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert assert_every_row_points_at_its_record(workspace) > 0
    assert run_statuses(workspace) == [(1, "finished")]

    # A second run over the same database: revisits refer to the first run's records,
    # wherever they are.
    again = workspace.crawl("--processes", "2")
    assert again.returncode in (0, 1), again.stdout + again.stderr
    assert "run 2 finished" in again.stdout
    assert len(states(workspace, 2)) == len(one_process)
    assert workspace.run("verify").returncode == 0
    assert_every_row_points_at_its_record(workspace)


def test_a_busy_sqlite_database_loses_no_capture(sites: list[MockServer], one_process: dict[str, str], tmp_path: Path):
    """Every capture committed on its own, by two processes, while a third holds the
    database's write lock for a while: each writer waits its turn."""
    import sqlite3

    workspace = Workspace(tmp_path)
    doc = report(workspace, sites)
    assert workspace.run("import", doc).returncode == 0
    process = start_crawl(workspace, doc, "--processes", "2", "-s", "EVIDENCE_DB_BATCH_SIZE=1")
    wait_for_captures(workspace, 2)
    holder = sqlite3.connect(workspace.db, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    time.sleep(3)
    holder.rollback()
    holder.close()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, 1), stdout + stderr
    assert states(workspace) == one_process


def test_processes_are_refused_with_a_frontier(tmp_path: Path):
    workspace = Workspace(tmp_path)
    result = workspace.crawl("--processes", "2", "--frontier", "redis://127.0.0.1:1/0", "--db", "postgresql://u@127.0.0.1:1/x")
    assert result.returncode == 2
    assert "--processes splits a local crawl; with --frontier start more workers instead" in result.stderr
    assert not workspace.db.exists()


# --- stopping -----------------------------------------------------------------------


@pytest.fixture
def quick_later(sites: list[MockServer]) -> Iterator[None]:
    """The sites are shared by the module: back to version 1 after a test moved them on."""
    yield
    for site in sites:
        site.set_version(1)


def slow_report(workspace: Workspace, sites: list[MockServer], count: int = 16) -> str:
    """Pages a second slow each until the sites are at version 2 (``quick_again``)."""
    doc = workspace.path / "slow.md"
    lines = [
        f"{n}{i} See {site.url(f'/slow?s=1&until=2&i={i}')}\n" for n, site in enumerate(sites[:2], start=1) for i in range(1, count + 1)
    ]
    doc.write_text("".join(lines), encoding="utf-8")
    return str(doc)


def start_crawl(workspace: Workspace, doc: str, *args: str, session: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, *NO_PROBES, *args, doc],
        cwd=workspace.path,
        env=workspace.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "Ctrl-C on the terminal"])
def test_a_stop_ends_every_process_as_one_crawl_ends(sites: list[MockServer], tmp_path: Path, how: str, quick_later: None):
    workspace = Workspace(tmp_path)
    doc = slow_report(workspace, sites)
    # Two requests in flight per process: a stop lets those finish (Scrapy drains its
    # downloader) and leaves the rest of each shard to the next run.
    process = start_crawl(
        workspace, doc, "--processes", "2", "-s", "CONCURRENT_REQUESTS=4", session=how == "Ctrl-C on the terminal"
    )
    wait_for_captures(workspace, 2)
    assert len(children_of(process.pid)) == 2
    if how == "Ctrl-C on the terminal":
        os.killpg(process.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    else:
        process.send_signal(getattr(signal, how))
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stdout + stderr
    assert "is incomplete" in stderr and "killed" not in stderr, stderr
    assert run_statuses(workspace) == [(1, "interrupted")]
    assert not list(workspace.archive.glob("*.open")), "each process closed its WARC file"
    committed = states(workspace)
    assert 2 <= len(committed) < 32
    assert assert_every_row_points_at_its_record(workspace)

    quick_again(*sites)
    again = workspace.crawl("--processes", "2", *NO_PROBES, doc)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "run 2 finished: 32 URLs checked (32 ok)" in again.stdout
    assert states(workspace, 1) == committed, "what was committed is kept"


def test_a_killed_process_fails_the_run_and_the_next_run_recovers(sites: list[MockServer], tmp_path: Path, quick_later: None):
    workspace = Workspace(tmp_path)
    doc = slow_report(workspace, sites)
    process = start_crawl(workspace, doc, "--processes", "2")
    wait_for_captures(workspace, 2)
    victim = children_of(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stdout + stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert re.fullmatch(
        rf"Error: run 1 is incomplete: crawl process [12] of 2 \(pid {victim}, 16 URLs\) was killed by SIGKILL; "
        r"\d+ of 32 URLs have no capture; run `evidence crawl` again to check them",
        line,
    ), line
    assert "run 1 interrupted" in stdout
    assert run_statuses(workspace) == [(1, "interrupted")]
    left_open = list(workspace.archive.glob("*.open"))
    assert [path.name for path in left_open] and all(f"-{victim}-" in path.name for path in left_open)
    assert assert_every_row_points_at_its_record(workspace)
    # The other process finished its shard.
    assert len(states(workspace)) >= 16

    quick_again(*sites)
    again = workspace.crawl("--processes", "2", *NO_PROBES, doc)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "left open by a stopped run" in again.stderr
    assert "run 2 finished: 32 URLs checked (32 ok)" in again.stdout
    assert not list(workspace.archive.glob("*.open"))
    assert workspace.run("verify").returncode == 0
    assert_every_row_points_at_its_record(workspace)
    assert run_statuses(workspace) == [(1, "interrupted"), (2, "finished")]
