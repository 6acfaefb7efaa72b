"""``evidence crawl --processes N``: one run's URLs split by host over N crawl processes.

A crawl is bound by one core (Scrapy, the HTTP client, WARC gzip and the verdict all run
on the reactor thread). With ``EVIDENCE_PROCESSES`` above 1 the command's own process,
the parent, does everything a crawl does before fetching (import the documents, close
dead runs, close the ``.open`` WARC files of killed crawls, create the run: all in
``crawler.runs.local.run_crawl``), then starts one child per shard and waits for them. The
parent never fetches and never installs a reactor.

- **Shards** hold whole hosts (Scrapy's download slot key, the host name without port),
  so per-host politeness, AutoThrottle, connection pools and the soft-404 probe of each
  URL shape behave as in one process. Hosts go, the largest first, to the shard with
  the fewest URLs. Fewer hosts than N: fewer processes.
- **Each child** is an ordinary crawl of its shard (``crawler.runs.inprocess.crawl_here``) with
  the same run id and settings, ``CONCURRENT_REQUESTS`` divided among the children (the
  run keeps the same number of requests in flight), no progress line of its own, and
  WARC files of its own (the names carry the writer's pid). It commits its captures
  itself: on SQLite the writers take turns (WAL and a 10 s busy timeout, ``crawler/store/db.py``).
  It gets its job (settings and URLs, the database URL with any password in it) on its
  stdin, not its command line, and hands back its finish reason and any fatal archive
  failure through a pipe. It never recovers ``.open`` files: a sibling's would be live.
- **Signals.** The children run in a process group of their own, so a Ctrl-C on the
  terminal reaches the parent only; the parent forwards every SIGINT or SIGTERM it
  receives to each child still running. The first makes every child stop the way one
  crawl stops (requests in flight finish, their rows are committed, WARC files closed),
  a second forces them. A child that loses its parent (``kill -9`` of the parent) stops
  the same way by itself within a second.
- **Outcome.** The parent sums the run up as one crawl (``crawler.runs.lifecycle.finish_run``). A
  child's fatal archive failure fails the run, as in one process, and the other children
  are stopped. A child that dies (killed, or an error) is reported, one line each
  (``RunSummary.problems``), the URLs it left without a capture count as missing, and
  the run is ``interrupted``: the command exits 3, like any incomplete run, even if the
  dead child had committed every one of its captures.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings
    from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
#: Seconds between two checks, by a child, that its parent still runs.
ORPHAN_CHECK_SECONDS = 1.0


@dataclass
class Outcome:
    """What the children of one run did, summed up for ``run_crawl``."""

    #: "finished" if every child finished its shard, else the first other reason
    #: ("shutdown", "crashed", ...)
    finish_reason: str
    #: the first fatal archive failure a child reported
    fatal: str | None = None
    #: one line per child that died
    problems: list[str] = field(default_factory=list)


def host_key(url: str) -> str:
    """What URLs of one shard share: the host name, as Scrapy's download slots key it."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def shard_by_host(urls: list[str], count: int) -> list[list[str]]:
    """``urls`` in at most ``count`` shards of whole hosts, balanced by URL count.

    Greedy: hosts by descending URL count, each to the shard holding fewest URLs so far.
    Each shard keeps the URLs in their given order; empty shards are dropped.
    """
    sizes: dict[str, int] = {}
    for url in urls:
        key = host_key(url)
        sizes[key] = sizes.get(key, 0) + 1
    loads = [0] * max(min(count, len(sizes)), 1)
    shard_of: dict[str, int] = {}
    for key, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        index = loads.index(min(loads))
        shard_of[key] = index
        loads[index] += size
    shards: list[list[str]] = [[] for _ in loads]
    for url in urls:
        shards[shard_of[host_key(url)]].append(url)
    return [shard for shard in shards if shard]


@dataclass
class _Child:
    number: int
    urls: list[str]
    process: subprocess.Popen[bytes]
    #: read end of the pipe the child writes its result to
    result_fd: int
    data: bytearray = field(default_factory=bytearray)

    def result(self) -> dict[str, Any] | None:
        try:
            loaded = json.loads(bytes(self.data)) if self.data else None
        except ValueError:
            return None
        return loaded if isinstance(loaded, dict) else None


def crawl_in_processes(
    overrides: dict[str, Any],
    settings: Settings,
    shards: list[list[str]],
    sessions: sessionmaker[Session] | None = None,
) -> Outcome:
    """Crawl each shard in a child process of its own; wait for all of them.

    ``overrides`` are the settings each child starts from (the run's, with
    ``EVIDENCE_DB_URL`` and ``EVIDENCE_RUN_ID``); ``settings`` the parent's view of them.
    With ``sessions`` and a terminal, progress is drawn on stderr from the database.
    """
    total = max(settings.getint("CONCURRENT_REQUESTS"), 1)
    base, extra = divmod(total, len(shards))
    children: list[_Child] = []
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for child in children:
            _signal(child, signum)

    previous = {number: signal.signal(number, forward) for number in _STOP_SIGNALS}
    try:
        # Blocked while the children start: the mask is inherited, so a child cannot die
        # of a signal before it has its own handlers (the parent's run once unblocked).
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            for number, urls in enumerate(shards, start=1):
                child_overrides = {
                    **overrides,
                    "CONCURRENT_REQUESTS": max(base + (1 if number <= extra else 0), 1),
                    "EVIDENCE_PROGRESS_ENABLED": False,
                }
                children.append(_start(number, urls, child_overrides))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        _wait(children, received, _progress(settings, sessions, overrides, sum(map(len, shards)), len(shards)))
    finally:
        for child in children:
            if child.process.poll() is None:  # only after an error of the parent's own
                _signal(child, signal.SIGTERM)
                child.process.wait()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return _outcome(children, len(shards))


def _start(number: int, urls: list[str], overrides: dict[str, Any]) -> _Child:
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path[0] = {str(ROOT)!r}; from crawler.scaleout.processes import main; main()",
                str(write_fd),
            ],
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            # Its own process group: a Ctrl-C on the terminal is forwarded by the parent, once.
            process_group=0,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    assert process.stdin is not None
    try:
        process.stdin.write(pickle.dumps({"overrides": overrides, "urls": urls, "parent": os.getpid()}))
        process.stdin.close()
    except BrokenPipeError:
        pass  # it died at once; its exit status tells
    return _Child(number, urls, process, read_fd)


def _signal(child: _Child, signum: int) -> None:
    if child.process.returncode is None:
        try:
            os.kill(child.process.pid, signum)
        except ProcessLookupError:
            pass


def _wait(children: list[_Child], received: list[int], progress: _Progress | None) -> None:
    """Collect each child's result until all have closed their pipes, then reap them.

    A child reporting a fatal archive failure ends the run: the others are stopped."""
    waiting = {child.result_fd: child for child in children}
    stopped = False
    interval = progress.interval if progress is not None else None
    while waiting:
        ready, _, _ = select.select(list(waiting), [], [], interval)
        for fd in ready:
            chunk = os.read(fd, 65536)
            child = waiting[fd]
            if chunk:
                child.data += chunk
                continue
            os.close(fd)
            del waiting[fd]
            result = child.result()
            if result and result.get("fatal") and not stopped and not received:
                stopped = True
                for other in children:
                    _signal(other, signal.SIGINT)
        if progress is not None:
            progress.show()
    for child in children:
        child.process.wait()
    if progress is not None:
        progress.show()
        progress.end()


def _outcome(children: list[_Child], count: int) -> Outcome:
    outcome = Outcome("finished")
    for child in children:
        result = child.result()
        code = child.process.returncode
        if code != 0 or result is None:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            outcome.problems.append(
                f"crawl process {child.number} of {count} (pid {child.process.pid}, {len(child.urls)} URLs) {how}"
            )
            if outcome.finish_reason == "finished":
                outcome.finish_reason = "crashed"
            continue
        reason = str(result.get("finish_reason"))
        if reason != "finished" and outcome.finish_reason == "finished":
            outcome.finish_reason = reason
        if result.get("fatal") and outcome.fatal is None:
            outcome.fatal = str(result["fatal"])
    return outcome


class _Progress:
    """done/total on stderr for a person watching, counted from the database."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int, total: int, processes: int, interval: float) -> None:
        self.sessions, self.run_id, self.total, self.processes = sessions, run_id, total, processes
        self.interval = max(interval, 0.1)
        self.started = time.monotonic()
        self.width = 0

    def show(self) -> None:
        from sqlalchemy import func, select
        from sqlalchemy.exc import SQLAlchemyError

        from crawler.store.models import Capture

        try:
            with self.sessions() as session:
                done = session.scalar(select(func.count()).select_from(Capture).where(Capture.run_id == self.run_id)) or 0
        except SQLAlchemyError:
            return  # busy: the next tick will tell
        minutes = max(time.monotonic() - self.started, 1e-6) / 60
        text = f"{done}/{self.total} URLs  {done / minutes:.1f}/min  {self.processes} processes"
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = len(text)

    def end(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def _progress(
    settings: Settings, sessions: sessionmaker[Session] | None, overrides: dict[str, Any], total: int, processes: int
) -> _Progress | None:
    if sessions is None or not settings.getbool("EVIDENCE_PROGRESS_ENABLED") or not sys.stderr.isatty():
        return None
    interval = settings.getfloat("EVIDENCE_PROGRESS_INTERVAL", 1.0)
    return _Progress(sessions, int(overrides["EVIDENCE_RUN_ID"]), total, processes, interval)


# --- in the child ----------------------------------------------------------------------


def main() -> None:
    """A child: read the job from stdin, crawl it, write the result to the fd in argv[1]."""
    early: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        early.append(signum)

    # Until Scrapy installs its handlers (once the reactor runs), a stop is remembered
    # and replayed to them; the parent started this process with both signals blocked.
    for number in _STOP_SIGNALS:
        signal.signal(number, remember)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    result_fd = int(sys.argv[1])
    job = pickle.load(sys.stdin.buffer)
    sys.stdin.close()

    from crawler.exceptions import EvidenceError
    from crawler.runs.lifecycle import build_settings
    from crawler.runs.inprocess import crawl_here
    from crawler.store.db import open_database

    def before_start(process: CrawlerProcess) -> None:
        from twisted.internet import reactor as installed, task

        # Declared by zope interfaces, which the type checker reads as methods with self.
        reactor: Any = installed

        def replay() -> None:
            for number in early[:2]:
                os.kill(os.getpid(), number)

        def orphaned() -> None:
            if os.getppid() != job["parent"]:
                watch.stop()
                logger.warning("the parent evidence process %d is gone: stopping", job["parent"])
                os.kill(os.getpid(), signal.SIGTERM)

        watch = task.LoopingCall(orphaned)
        # Both after Scrapy's own startup trigger, which installs its signal handlers.
        reactor.callLater(0, replay)
        reactor.callLater(0, watch.start, ORPHAN_CHECK_SECONDS)

    try:
        settings = build_settings(job["overrides"])
        sessions = open_database(settings.get("EVIDENCE_DB_URL"), create=False)
        finish_reason, fatal = crawl_here(sessions, settings, job["urls"], before_start)
    except EvidenceError as exc:
        print(f"Error: evidence crawl process {os.getpid()}: {exc}", file=sys.stderr)
        sys.exit(3)
    os.write(result_fd, json.dumps({"finish_reason": finish_reason, "fatal": fatal}).encode())
    os.close(result_fd)
