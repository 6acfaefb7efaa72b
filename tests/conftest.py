"""Shared fixtures: the scripted site, a workspace with its own database and archive,
and a runner for the real command line (a subprocess: one Scrapy crawl per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.mockserver import MockServer
from tests.servers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = ROOT.parent / "shared" / "seed"
# Fast and deterministic on loopback; everything else stays at the shipped defaults.
def into_next_second() -> None:
    """Sleep into the next whole second. `history` shows capture times to the second, and
    `diff --from/--to` and replay pick captures by them: runs that a test tells apart by
    those times must not share a second (a short crawl can start and end within one)."""
    time.sleep(1.001 - time.time() % 1)


FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "RETRY_TIMES=1", "--timeout", "2"]


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

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python cli.py ARGS`` in this workspace, as a user would type it."""
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *args],
            cwd=self.path,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def crawl(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("crawl", *FAST, *args, env=env)

    def warc_files(self) -> list[Path]:
        return sorted(self.archive.glob("*.warc.gz*"))


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
