"""``evidence crawl --frontier``: publish a run's URLs and wait for the workers to finish it.

The coordinator fetches nothing. It creates the run in the database, pushes the URLs to
the frontier, then watches: it re-queues the leases of dead workers (so a run goes on
even while every worker is being replaced), and once every URL is done or failed it
marks the run finished on the frontier, which lets the workers go, and sums it up
from the database exactly as a local crawl does.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit
from typing import Any, TextIO

import redis
from sqlalchemy.orm import Session, sessionmaker

from crawler.citations import Document as ParsedDocument
from crawler.exceptions import FrontierError, RunFailed
from crawler.runs.lifecycle import (
    RunSummary,
    build_settings,
    finish_run,
    recorded_settings,
    recover,
    stamp_closed_files,
    start_run,
)
from crawler.runs.local import cited_urls
from crawler.scaleout.frontier.state import Progress, RunFrontier, connect
from crawler.scaleout.frontier.worker import LOCAL_SETTINGS, database_identity
from crawler.store.db import require_server

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# How long local workers (--workers) get to leave once the run is over.
CHILD_GRACE_SECONDS = 60.0


def run_coordinated(
    sessions: sessionmaker[Session],
    db_url: str,
    documents: list[ParsedDocument],
    overrides: dict[str, Any],
    frontier_url: str,
    *,
    locked: bool = False,
    progress: TextIO | None = None,
    workers: int = 0,
    worker_command: list[str] | None = None,
    db: str = "",
) -> RunSummary:
    """Import ``documents`` (or re-check every cited URL), hand the run to the workers, sum it up."""
    require_server(db_url)
    client = connect(frontier_url)
    urls = cited_urls(sessions, documents)
    settings = build_settings({**overrides, "EVIDENCE_DB_URL": db_url})
    recover(sessions, None, every=locked)
    recorded = recorded_settings(settings)
    recorded["EVIDENCE_FRONTIER_URL"] = _without_password(frontier_url)
    run_id = start_run(sessions, urls, recorded)

    frontier = RunFrontier(client, run_id)
    published = {name: value for name, value in overrides.items() if name not in LOCAL_SETTINGS}
    try:
        frontier.publish(urls, published, database_identity(sessions, create=True) or "")
    except redis.RedisError as exc:
        finish_run(sessions, run_id, urls, "frontier_lost")
        raise FrontierError(f"cannot publish run {run_id} to the frontier {_without_password(frontier_url)}: {exc}") from exc
    children = _spawn(workers, worker_command or [], db, frontier_url, run_id, overrides)
    reason = "finished"
    # Ctrl-C (or kill -INT) stops the run even where SIGINT came in ignored: a shell
    # starts background jobs so, and Python then keeps it ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _wait(frontier, progress)
        frontier.close("finished")
    except KeyboardInterrupt:
        # Workers finish what they hold and leave; the run is summed up as interrupted.
        frontier.close("stopped")
        reason = "shutdown"
    except redis.RedisError as exc:
        finish_run(sessions, run_id, urls, "frontier_lost")
        raise RunFailed(
            f"run {run_id} stopped: lost the frontier {_without_password(frontier_url)} ({exc}); "
            "what the workers recorded is kept, run `evidence crawl --frontier` again for the rest"
        ) from exc
    finally:
        signal.signal(signal.SIGINT, previous)
        if progress is not None:
            progress.write("\n")
        _reap_children(children)
    return stamp_closed_files(sessions, finish_run(sessions, run_id, urls, reason), overrides)


def _spawn(
    count: int, command: list[str], db: str, frontier_url: str, run_id: int, overrides: dict[str, Any]
) -> list[subprocess.Popen[bytes]]:
    """``--workers N``: N local ``evidence worker`` processes for this run.

    The database and frontier URLs go through the environment, not the arguments, where
    any user of the machine could read a password in the process list. Their stdout (one
    line each) is dropped; their errors reach the coordinator's stderr.
    """
    if not count:
        return []
    env = {**os.environ, "EVIDENCE_DB": db, "EVIDENCE_FRONTIER": frontier_url}
    archive = str(overrides.get("EVIDENCE_ARCHIVE_DIR", "archive"))
    prefix = f"{socket.gethostname()}_{os.getpid()}"
    return [
        subprocess.Popen(
            [*command, "worker", "--run", str(run_id), "--archive", archive, "--worker-id", f"{prefix}_{n}"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for n in range(1, count + 1)
    ]


def _reap_children(children: list[subprocess.Popen[bytes]]) -> None:
    """Wait for local workers to leave (they do within a heartbeat once the run is over)."""
    for child in children:
        try:
            child.wait(timeout=CHILD_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("worker pid %d did not leave after the run; stopping it", child.pid)
            child.terminate()
            child.wait()


def _wait(frontier: RunFrontier, progress: TextIO | None) -> None:
    while True:
        frontier.reap()
        state = frontier.progress()
        if progress is not None:
            _show(progress, state)
        if state.done >= state.total:
            return
        time.sleep(POLL_SECONDS)


def _show(stream: TextIO, state: Progress) -> None:
    stream.write(
        f"\r{state.done}/{state.total} done, {state.inflight} in flight on {state.workers} workers, {state.queued} queued  "
    )
    stream.flush()


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def progress_stream(quiet: bool) -> TextIO | None:
    """Progress on stderr for a person watching (a terminal), never under cron."""
    return sys.stderr if not quiet and sys.stderr.isatty() else None
