"""The command line as installed: the console script, database URLs, environment fallbacks."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import Workspace
from tests.mockserver import MockServer


def test_console_script_is_the_same_program(workspace: Workspace):
    script = shutil.which("evidence")
    if script is None:
        pytest.skip("the package is not installed (pip install -e .), so there is no `evidence` script")
    installed = subprocess.run([script, "--version"], capture_output=True, text=True)
    direct = workspace.run("--version")
    assert installed.returncode == direct.returncode == 0
    assert installed.stdout == direct.stdout
    assert installed.stdout.startswith("evidence, version ")


def test_db_accepts_an_sqlalchemy_url_and_the_archive_an_option(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/plan')}\n", encoding="utf-8")
    url = f"sqlite:///{workspace.path / 'other.db'}"
    archive = workspace.path / "warcs"
    result = workspace.crawl(str(doc), "--db", url, "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    assert (workspace.path / "other.db").exists() and not workspace.db.exists()
    assert list(archive.glob("*.warc.gz"))
    rows = json.loads(workspace.run("status", "--json", "--db", url).stdout)
    assert rows[0]["state"] == "ok"


def test_defaults_are_evidence_db_and_archive_in_the_working_directory(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/plan')}\n", encoding="utf-8")
    env = {k: v for k, v in workspace.env().items() if not k.startswith("EVIDENCE_")} | {"EVIDENCE_ALLOW_PRIVATE": "1"}
    result = workspace.crawl(str(doc), env=env)
    assert result.returncode == 0, result.stderr
    assert (workspace.path / "evidence.db").exists()
    assert list((workspace.path / "archive").glob("*.warc.gz"))


def test_json_summary_for_machines(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/status/410')}\n2 See {site.url('/plan')}\n", encoding="utf-8")
    result = workspace.crawl(str(doc), "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary == {
        "run": 1,
        "status": "finished",
        "urls": 2,
        "captured": 2,
        "states": {"gone": 1, "ok": 1},
        "news": [
            {
                "url": site.url("/status/410"),
                "kind": "gone",
                "state": "gone",
                "reason": "http_410",
                "previous_state": None,
                "cited_in": [{"document": "doc.txt", "footnote": "1"}],
                # no web archive was asked (the tests' default), so no citation-time copy
                "memento_url": None,
                "memento_datetime": None,
                "claims": None,
                "pins": [],
            }
        ],
        "acknowledged": [],
        "held": [],
        "problems": [],
        "notify_failures": 0,
    }


def test_quiet_prints_nothing_without_news(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/plan')}\n2 See {site.url('/down')}\n", encoding="utf-8")
    result = workspace.crawl(str(doc), "-q")
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""
