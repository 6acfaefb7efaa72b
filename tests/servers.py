"""Real database and frontier servers for the tests: Debian's PostgreSQL and Redis,
started in temporary folders on 127.0.0.1 with random ports, stopped at the end.

Where the binaries are missing the tests that need them skip with the reason, except
under CI (env ``CI`` set), where a missing server is a failure: CI installs both
(``.ci/run``) and must not pass by skipping.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: see .ci/run)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


class RedisServer:
    """``redis-server`` without persistence on 127.0.0.1:PORT."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (Debian package redis-server)")
        assert binary is not None
        self.folder = Path(tempfile.mkdtemp(prefix="evidence-redis-"))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.proc, "redis-server")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresServer:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) listening on 127.0.0.1:PORT only.

    initdb refuses to run as root: as root the cluster belongs to the ``postgres``
    system user that Debian's package creates, in a folder that user owns.
    """

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            unavailable("PostgreSQL is not installed (Debian package postgresql)")
        bindir = Path(found[-1]).parent
        self.pg_ctl = str(bindir / "pg_ctl")
        self.folder = Path(tempfile.mkdtemp(prefix="evidence-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no postgres system user to run PostgreSQL as")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.user = "postgres" if self.prefix else pwd.getpwuid(os.geteuid()).pw_name
        subprocess.run(
            [*self.prefix, str(bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
             "--no-sync", "-E", "UTF8", "--locale=C"],
            # In its own folder: the postgres user may not be allowed into the caller's.
            check=True, capture_output=True, cwd=self.folder,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c max_connections=100"
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.folder / "pg.log"), "-w", "start"],
            check=True, capture_output=True, cwd=self.folder,
        )
        _wait_for_port(self.port, None, "postgres")
        self._serial = 0

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its ``postgresql://`` URL as a user would write it."""
        import psycopg

        self._serial += 1
        name = name or f"evidence_{self._serial}"
        with psycopg.connect(f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"], capture_output=True, cwd=self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)
