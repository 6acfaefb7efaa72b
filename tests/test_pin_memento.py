"""Pins checked on the citation-time memento (issue 21): whether the passage was on the page
when it was cited. Real crawls of a scripted site on 127.0.0.1 with lookups in a real pywb
archive on 127.0.0.1 (tests/webarchive.py), and the 0007 migration on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import webarchive
from tests.conftest import Workspace
from tests.opensite import OpenSite
from tests.test_memento_crawl import cite
from tests.webarchive import CASES, WebArchive

#: On the page and on the 2017-03-01 memento.
BOTH = "El plan fija metas de cobertura para 2020"
#: On the page today, not on the 2017-04-02 memento (the policy was rewritten since).
ONLY_NOW = "Tariffs rise by 4 per cent a year from 2024"
#: On the 10 June memento, where the page now says 58 per cent.
ONLY_THEN = "Edition of 10 June: reservoirs at 61 per cent"


@pytest.fixture(scope="module")
def site() -> Iterator[OpenSite]:
    with webarchive.current_site() as server:
        yield server


@pytest.fixture(scope="module")
def archive(site: OpenSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebArchive]:
    yield from webarchive.serve(tmp_path_factory.mktemp("webarchive"), site.url(""))


def pins(workspace: Workspace) -> dict[str, dict[str, Any]]:
    result = workspace.run("pins", "--json")
    assert result.returncode == 0, result.stderr
    return {row["quote"]: row for row in json.loads(result.stdout)}


def test_pins_on_the_memento_of_the_cited_date(tmp_path: Path, site: OpenSite, archive: WebArchive) -> None:
    workspace = Workspace(tmp_path)
    document = cite(workspace, site, [CASES["original"], CASES["rewritten"], CASES["between"]])
    first = workspace.crawl(document)  # no archives (the workspace's default): no lookups
    assert first.returncode == 0, first.stderr
    host = archive.base.split("/")[2]

    # Pinned before any memento was found: checked on the capture only.
    early = workspace.run("pin", site.url("/bulletin"), "--quote", ONLY_THEN)
    assert early.returncode == 0, early.stderr
    assert "partial" in early.stdout and "copy of" not in early.stdout
    row = pins(workspace)[ONLY_THEN]
    assert (row["claim"], row["cited_claim"], row["cited_memento"]) == ("partial", "none", None)

    # The crawl's lookups find the mementos: the pin in force is checked on its memento
    # then, and that is no news (the live pages did not change).
    second = workspace.crawl(document, "--archives", archive.base, "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads(second.stdout)["news"] == []
    row = pins(workspace)[ONLY_THEN]
    between = CASES["between"].expected
    assert between is not None
    assert (row["claim"], row["cited_claim"]) == ("partial", "holds")
    assert row["cited_memento"] == f"{archive.base}{between.timestamp}/{site.url('/bulletin')}"

    # Pinned with the mementos known: checked on both at once, and said beside each other.
    both = workspace.run("pin", site.url("/plan-2017"), "--quote", BOTH)
    assert both.returncode == 0, both.stderr
    assert "holds in the capture of" in both.stdout
    assert both.stdout.rstrip().endswith(f"; in the copy of 2017-03-01 ({host}): holds")
    wrong = workspace.run("pin", site.url("/policy"), "--quote", ONLY_NOW)
    assert wrong.returncode == 0, wrong.stderr
    assert "holds in the capture of" in wrong.stdout
    assert f"in the copy of 2017-04-02 ({host}): lost, not on the page when it was cited" in wrong.stdout
    # Pinned again: nothing is recorded twice, the same is said.
    again = workspace.run("pin", site.url("/policy"), "--quote", ONLY_NOW)
    assert again.stdout.startswith("already pinned") and "2017-04-02" in again.stdout

    listed = pins(workspace)
    assert {quote: (row["claim"], row["cited_claim"]) for quote, row in listed.items()} == {
        ONLY_THEN: ("partial", "holds"), BOTH: ("holds", "holds"), ONLY_NOW: ("holds", "lost"),
    }
    table = workspace.run("pins", "--csv")
    header = next(csv.reader(io.StringIO(table.stdout)))
    assert header[header.index("checked_at") + 1:header.index("checked_at") + 3] == ["cited_claim", "cited_memento"]
    with sqlite3.connect(workspace.db) as connection:
        stored = connection.execute(
            "SELECT p.quote, r.status, r.capture_id IS NULL, m.outcome FROM pin_results r JOIN pins p ON p.id = r.pin_id"
            " JOIN mementos m ON m.id = r.memento_id ORDER BY r.id"
        ).fetchall()
    assert stored == [(ONLY_THEN, "holds", 1, "found"), (BOTH, "holds", 1, "found"), (ONLY_NOW, "lost", 1, "found")]

    # The report: each pinned passage says whether it was on the page when cited.
    written = workspace.run("report", "-o", "report.md")
    assert written.returncode == 0, written.stderr
    report = (workspace.path / "report.md").read_text(encoding="utf-8")
    assert "| footnote | pinned passage | claim | last found | on the page now | when cited |" in report
    line = next(line for line in report.splitlines() if line.startswith("| 2 | Tariffs rise"))
    assert line.endswith("| NOT in the copy of 2017-04-02: the citation may have been wrong from the start |")
    line = next(line for line in report.splitlines() if line.startswith("| 1 | El plan fija"))
    assert line.endswith("| held in the copy of 2017-03-01 |")
    html = workspace.run("report", "-o", "report.html")
    assert html.returncode == 0, html.stderr
    page = (workspace.path / "report.html").read_text(encoding="utf-8")
    assert "<th>When cited</th>" in page and "<strong>NOT in the copy of 2017-04-02" in page

    # lookup --refresh records the mementos anew: the pins are checked on the new rows too.
    refreshed = workspace.run("lookup", "--all", "--refresh", "--archives", archive.base)
    assert refreshed.returncode == 0, refreshed.stderr
    with sqlite3.connect(workspace.db) as connection:
        [(count,)] = connection.execute("SELECT count(*) FROM pin_results WHERE memento_id IS NOT NULL").fetchall()
    assert count == 6
    assert {quote: row["cited_claim"] for quote, row in pins(workspace).items()} == {
        ONLY_THEN: "holds", BOTH: "holds", ONLY_NOW: "lost",
    }
    # And still no news: the memento's results are never news by themselves.
    third = workspace.crawl(document, "--archives", archive.base, "--json")
    assert third.returncode == 0 and json.loads(third.stdout)["news"] == []


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_upgrade_to_0007_keeps_pin_results_of_captures(tmp_path: Path, request: pytest.FixtureRequest, server: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    from crawler.store.db import database_url
    from crawler.store.migrate import _config, current_revision, head_revision
    from tests.test_migrations import schema_differences

    url = request.getfixturevalue("postgres").create_database() if server == "postgresql" else str(tmp_path / "old.db")
    workspace = Workspace(tmp_path, db_url=url)
    engine = create_engine(database_url(url))
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0006")
        connection.execute(text("INSERT INTO targets (id, url) VALUES (1, 'http://127.0.0.1:9/a')"))
        connection.execute(text("INSERT INTO pins (id, target_id, quote, note, origin, created_at)"
                                " VALUES (1, 1, '100 medidores', '', 'given', '2020-01-01 00:00:00')"))
        connection.execute(text("INSERT INTO pin_results (pin_id, checked_at, status, differs)"
                                " VALUES (1, '2020-01-02 00:00:00', 'holds', '[]')"))
    upgraded = workspace.run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert current_revision(engine) == head_revision() == "0008"
    assert schema_differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pin_id, status, memento_id FROM pin_results")).all() == [(1, "holds", None)]
    engine.dispose()
