"""Fetch Scrapy's own test package for the installed Scrapy into ``.tools/scrapy-tests``.

Scrapy's download-handler test classes (``tests/utils/bases/download_handlers_http.py``)
and their mock servers are in its sdist, not in the wheel. They import themselves as
the top-level package ``tests``, which is this project's test package too, so they are
unpacked as ``scrapy_tests`` with their own imports renamed to match; nothing else in
them is changed. ``tests/test_scrapy_handler_suite.py`` subclasses them.

Usage: ``python tests/scrapy_suite/fetch.py`` (idempotent: a tree already unpacked for
the installed version is left alone). Needs pip's access to PyPI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / ".tools" / "scrapy-tests"
PACKAGE = "scrapy_tests"
# ``tests`` as a module name: ``from tests import``, ``from tests.x``, ``"tests.x"`` (the
# mock servers start as ``python -m tests.mockserver.http``); not ``x.tests`` or ``tests/``.
_MODULE = re.compile(rb"(?<![\w.])tests(?=\.[A-Za-z_]|\s+import\b)")


def installed_tree() -> Path | None:
    """The unpacked package for the installed Scrapy, or None if it is not there."""
    marker = TARGET / "VERSION"
    if marker.is_file() and marker.read_text().strip() == version("scrapy"):
        return TARGET / PACKAGE
    return None


def fetch() -> Path:
    wanted = version("scrapy")
    if (tree := installed_tree()) is not None:
        return tree
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"scrapy=={wanted}", "-d", scratch],
            check=True,
        )
        (sdist,) = Path(scratch).glob("scrapy-*.tar.gz")
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.split("/", 2)[1:2] == ["tests"]]
            archive.extractall(unpacked, members=members, filter="data")
        (source,) = unpacked.glob("scrapy-*/tests")
        for path in source.rglob("*.py"):
            path.write_bytes(_MODULE.sub(PACKAGE.encode(), path.read_bytes()))
        if TARGET.exists():
            shutil.rmtree(TARGET)
        TARGET.mkdir(parents=True)
        shutil.move(str(source), TARGET / PACKAGE)
    (TARGET / "VERSION").write_text(wanted + "\n")
    return TARGET / PACKAGE


if __name__ == "__main__":
    print(fetch())
