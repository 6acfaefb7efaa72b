"""The standard web-archive tools the tests check against, kept out of the project's own
environment (pywb pins brotlipy, which clashes with Scrapy's brotli): `.ci/run` installs
them into `.tools/`; elsewhere point EVIDENCE_TEST_TOOLS at a bin folder holding them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    folders = [os.environ.get("EVIDENCE_TEST_TOOLS", ""), str(ROOT / ".tools" / "bin")]
    for folder in folders:
        if folder and (Path(folder) / name).exists():
            return str(Path(folder) / name)
    pytest.skip(f"{name} is not installed; `bash .ci/run` installs pywb and wacz into .tools/ (or set EVIDENCE_TEST_TOOLS)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Wayback:
    """pywb's server over a folder holding ``collections/``, on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()

    def __enter__(self) -> Wayback:
        self.proc = subprocess.Popen(
            [tool("wayback"), "-b", "127.0.0.1", "-p", str(self.port)],
            cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("pywb did not start within 30 s")

    def __exit__(self, *exc_info: object) -> None:
        self.proc.kill()
        self.proc.wait()

    def original(self, collection: str, timestamp: str, url: str) -> requests.Response:
        """The archived answer as it was (``id_``: no rewriting)."""
        return requests.get(f"http://127.0.0.1:{self.port}/{collection}/{timestamp}id_/{url}", timeout=10)
