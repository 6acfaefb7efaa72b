"""Killing crawls at random moments and checking that nothing recorded was lost or faked.

Shared by the test suite (a few kills) and ``bench/killtest.py`` (many kills, by hand).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from crawler.warc.reader import read_record
from tests.conftest import FAST, ROOT, Workspace
from tests.mockserver import MockServer


def write_report(workspace: Workspace, site: MockServer, count: int) -> Path:
    """``count`` cited URLs: small pages, multi-megabyte bodies and slow answers, mixed."""
    kinds = ["/plan?i={i}", "/big?n=3000000&i={i}", "/slow?s=0.3&i={i}", "/avance?i={i}", "/nota.pdf?i={i}"]
    lines = [f"{i} See {site.url(kinds[i % len(kinds)].format(i=i))}\n" for i in range(1, count + 1)]
    doc = workspace.path / "report.md"
    doc.write_text("".join(lines), encoding="utf-8")
    return doc


def kill_at_random(workspace: Workspace, doc: Path, rng: random.Random, window: tuple[float, float]) -> float:
    """Start a crawl, SIGKILL it after a random delay; return the delay."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, str(doc)],
        cwd=workspace.path, env=workspace.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    delay = rng.uniform(*window)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return delay


def check_after_kill(workspace: Workspace, doc: Path) -> None:
    """The next run completes, verify passes, and every row points at whole bytes."""
    again = workspace.run("crawl", *FAST, str(doc), timeout=600)
    assert again.returncode in (0, 1), again.stdout + again.stderr
    assert " finished: " in again.stdout, again.stdout
    verified = workspace.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "never closed" not in verified.stdout
    with sqlite3.connect(workspace.db) as connection:
        rows = connection.execute("SELECT filename, offset, record_id FROM records").fetchall()
    for filename, offset, record_id in rows:
        assert read_record(workspace.archive, filename, offset).header("WARC-Record-ID") == record_id
