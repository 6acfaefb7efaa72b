"""Shared fixtures: the scripted site, a workspace with its own database and archive,
and a runner for the real command line (a subprocess for crawls: one Scrapy crawl per
process; the other commands in this process, through the same entry point)."""

from __future__ import annotations

import gc
import io
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.mockserver import MockServer
from tests.servers import PostgresServer, RedisServer

if TYPE_CHECKING:
    from crawler.verdicts.capture import CaptureJudge

ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = ROOT.parent / "shared" / "seed"
# Fast and deterministic on loopback; everything else stays at the shipped defaults.
def into_next_second() -> None:
    """Sleep into the next whole second. `history` shows capture times to the second, and
    `diff --from/--to` and replay pick captures by them: runs that a test tells apart by
    those times must not share a second (a short crawl can start and end within one)."""
    time.sleep(1.001 - time.time() % 1)


FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=1", "--timeout", "2"]

# Commands that neither start Scrapy nor a Twisted reactor: run in this process through
# `cli.main`, as the console script runs them, which spares an interpreter start and the
# imports (0.3-0.5 s each on two busy cores) per call. `crawl` and `worker` (a reactor
# cannot restart), `--version`, `--help` and anything else stay real subprocesses.
IN_PROCESS = frozenset({"status", "history", "show", "diff", "verify", "import", "ack", "report", "export", "index", "annotate", "db"})


def _text(data: bytes) -> str:
    """Bytes as `subprocess.run(text=True)` gives them: UTF-8, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).read()


@dataclass
class Workspace:
    path: Path
    #: A database server's URL (postgresql://...) used instead of the SQLite file.
    db_url: str | None = None

    @property
    def db(self) -> Path:
        return self.path / "evidence.db"

    @property
    def archive(self) -> Path:
        return self.path / "archive"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_") and "proxy" not in k.lower()}
        # The scripted sites live on 127.0.0.1, which evidence refuses by default.
        env.update(EVIDENCE_DB=self.db_url or str(self.db), EVIDENCE_ARCHIVE=str(self.archive), EVIDENCE_ALLOW_PRIVATE="1")
        # No web archive lookups unless a test names an archive on 127.0.0.1: the default
        # (the Wayback Machine) must never be contacted from a test.
        env["EVIDENCE_ARCHIVES"] = ""
        env.update(extra)
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120, subprocess_only: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``python cli.py ARGS`` in this workspace, as a user would type it: in this process
        for the commands of IN_PROCESS (``subprocess_only`` forces a real process)."""
        if not subprocess_only and args and args[0] in IN_PROCESS and "--help" not in args:
            return self._run_in_process(list(args), env or self.env())
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *args],
            cwd=self.path,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _run_in_process(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """`cli.main(args)` with this workspace as the working directory, exactly ``env`` as
        the environment, and stdin, stdout and stderr of its own, as a child would have."""
        from click.testing import CliRunner

        import cli

        # Unset what the child would not inherit, as well as setting what it would.
        changes: dict[str, str | None] = {name: None for name in os.environ if name not in env}
        changes.update(env)
        # With no handler configured a child's warnings reach stderr through logging's
        # last resort; pytest's capture handlers on the root logger would swallow them here.
        last_resort = logging.StreamHandler()
        last_resort.setLevel(logging.WARNING)
        root = logging.getLogger()
        cwd = os.getcwd()
        returncode = 0
        with CliRunner().isolation(env=changes) as (stdout, stderr, _):
            last_resort.setStream(sys.stderr)
            root.addHandler(last_resort)
            os.chdir(self.path)
            try:
                cli.main(args)
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    returncode = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    returncode = 1
            except Exception:
                traceback.print_exc(file=sys.stderr)
                returncode = 1
            finally:
                os.chdir(cwd)
                root.removeHandler(last_resort)
                # cli.main freezes what is left for an exit that never comes here.
                gc.unfreeze()
                sys.stdout.flush()
                sys.stderr.flush()
            out, err = stdout.getvalue(), stderr.getvalue()
        return subprocess.CompletedProcess(["cli.py", *args], returncode, _text(out), _text(err))

    def crawl(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("crawl", *FAST, *args, env=env)

    def warc_files(self) -> list[Path]:
        return sorted(self.archive.glob("*.warc.gz*"))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject.toml's addopts): two workers per core. The suite mostly waits
    (crawl subprocesses starting, slow pages, stops and kills, servers): the stop, kill and
    lock tests, one at a time, used 60 s of CPU in 172 s."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cores


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def site() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def seed_text() -> str:
    path = SEED_DIR / "000_e90c2cd9959efa83.txt"
    if not path.exists():
        pytest.skip(f"the seed report is not beside the project ({path}); it is only there where CI runs")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; each test takes a database of its own."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def counted() -> list[str]:
    """The stats names a ``judge`` counted, in order."""
    return []


@pytest.fixture
def judge(tmp_path: Path, counted: list[str]) -> CaptureJudge:
    """A capture judge of its own (tests/test_capture_judge.py, tests/test_browser_verdicts.py)."""
    from crawler.verdicts.capture import CaptureJudge

    return CaptureJudge(tmp_path, gone_after=3, count=counted.append)
