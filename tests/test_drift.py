"""Verdicts against the citation (issue 20): each citation's page now against the web
archive's copy of the day it was cited, the news of a gone page's memento, annotations
that point at the public memento, and the reference-rot summary. Real crawls of a
scripted site on 127.0.0.1 with lookups in a real pywb archive on 127.0.0.1
(tests/webarchive.py)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import webarchive
from tests.conftest import Workspace
from tests.opensite import OpenSite
from tests.test_memento_crawl import cite
from tests.tools import free_port
from tests.webarchive import CASES, WebArchive

#: informe.md's citations, in order, and what each is since it was cited.
CITED = {
    "original": "same",  # the page is the 2017 memento, byte for byte
    "rewritten": "changed",  # the policy was rewritten since
    "removed": "gone",  # 404 today; the 2017 memento is what is left
    "never": "unknown",  # never archived
    "between": "changed",  # the 10 June bulletin was cited; the 20 June one is up now
}


@pytest.fixture(scope="module")
def site() -> Iterator[OpenSite]:
    with webarchive.current_site() as server:
        yield server


@pytest.fixture(scope="module")
def archive(site: OpenSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebArchive]:
    yield from webarchive.serve(tmp_path_factory.mktemp("webarchive"), site.url(""))


def documents(workspace: Workspace, site: OpenSite) -> tuple[str, str]:
    """informe.md (dated citations) and sin-fecha.md, citing the unchanged page with no date."""
    dated = cite(workspace, site, [CASES[name] for name in CITED])
    undated = workspace.path / "sin-fecha.md"
    undated.write_text(f"Sin fecha[^1].\n\n[^1]: {site.url('/plan-2017')}\n", encoding="utf-8")
    return dated, str(undated)


def status(workspace: Workspace, *args: str) -> list[dict[str, Any]]:
    result = workspace.run("status", "--json", *args)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_since_citation_per_case_the_diff_and_the_summary(tmp_path: Path, site: OpenSite, archive: WebArchive) -> None:
    workspace = Workspace(tmp_path)
    dated, undated = documents(workspace, site)
    result = workspace.crawl(dated, undated, "--archives", archive.base, "--json")
    assert result.returncode == 1, result.stderr  # /report is gone: news
    plan_fingerprint = (
        "SELECT c.fingerprint, c.basis FROM captures c JOIN targets t ON t.id = c.target_id WHERE t.url = ?"
    )
    # A first capture's text is deferred: `same` below needs it resolved from the WARC.
    with sqlite3.connect(workspace.db) as connection:
        [(stored, basis)] = connection.execute(plan_fingerprint, (site.url("/plan-2017"),)).fetchall()
    assert stored.startswith("deferred:sha256:") and basis is None

    rows = status(workspace, "--document", "informe.md")
    by_url = {row["url"]: row for row in rows}
    for name, verdict in CITED.items():
        case = CASES[name]
        row = by_url[site.url(case.path)]
        assert row["since_citation"] == verdict, (name, row)
        assert row["cited_at"] == case.cited_at.isoformat()
        if case.expected is None:
            assert row["memento_url"] is None and row["memento_datetime"] is None
        else:
            assert row["memento_url"] == f"{archive.base}{case.expected.timestamp}/{site.url(case.expected.path)}"
            assert row["memento_datetime"] == case.expected.when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert by_url[site.url("/plan-2017")]["state"] == "ok" and by_url[site.url("/report")]["state"] == "gone"
    # What status resolved is kept on the row, as the pipeline keeps what it resolves...
    with sqlite3.connect(workspace.db) as connection:
        [(stored, basis)] = connection.execute(plan_fingerprint, (site.url("/plan-2017"),)).fetchall()
    assert stored.startswith("text-v2:sha256:") and basis == "html-2;noise=0"
    # ... so the next status reads no WARC: with the archive folder gone it answers the same.
    hidden = workspace.archive.rename(workspace.path / "archive-hidden")
    assert status(workspace, "--document", "informe.md") == rows
    hidden.rename(workspace.archive)
    # The project's own history is another question: the first capture is the reference there.
    assert by_url[site.url("/policy")]["differs_from_first"] is False

    # No cited date in its own document: nothing to compare with.
    [alone] = status(workspace, "--document", "sin-fecha.md")
    assert (alone["cited_at"], alone["since_citation"], alone["memento_url"]) == (None, "unknown", None)
    # Listed with informe.md, the URL's earliest cited date among the rows shown is its date.
    everything = status(workspace)
    assert [row["since_citation"] for row in everything] == [*CITED.values(), "same"]
    # The new columns come after the old ones.
    table = workspace.run("status").stdout.splitlines()[0].split()
    assert table[:10] == ["document", "footnote", "url", "state", "reason", "http_status", "checked_at",
                          "differs_from_first", "snapshot", "cited_at"]
    assert table[10:13] == ["since_citation", "memento_url", "memento_datetime"]

    # diff --from cited: the memento's text against the latest capture's.
    diff = workspace.run("diff", site.url("/policy"), "--from", "cited")
    assert diff.returncode == 0, diff.stderr
    assert "-Tariffs are frozen until 2019 for every household." in diff.stdout
    assert "+Tariffs rise by 4 per cent a year from 2024." in diff.stdout
    label = f"--- {archive.base}20170402093000/{site.url('/policy')} 2017-04-02T09:30:00Z (memento, cited 2017-04-20)"
    assert diff.stdout.startswith(label)
    same = workspace.run("diff", site.url("/plan-2017"), "--from", "cited")
    assert same.returncode == 0 and same.stdout.startswith("no text difference between the memento of 2017-03-01T10:00:00Z")
    none = workspace.run("diff", site.url("/never-archived"), "--from", "cited")
    assert none.returncode == 2 and "no memento" in none.stderr

    # The summary: citations, per document and overall (the sum of the documents).
    summary = json.loads(workspace.run("status", "--summary", "--json").stdout)
    assert "citations, not URLs" in summary["method"]
    figures = {row["document"]: row for row in summary["documents"]}
    assert list(figures) == ["informe.md", "sin-fecha.md", "(all documents)"]
    counts = {name: [row[k] for k in ("citations", "intact", "drifted", "rotted", "unknown")] for name, row in figures.items()}
    assert counts == {"informe.md": [5, 1, 2, 1, 1], "sin-fecha.md": [1, 0, 0, 0, 1], "(all documents)": [6, 1, 2, 1, 2]}
    assert figures["informe.md"]["drifted_share"] == 0.4 and figures["(all documents)"]["unknown_share"] == 0.3333
    only = json.loads(workspace.run("status", "--summary", "--json", "--document", "sin-fecha.md").stdout)
    assert [row["document"] for row in only["documents"]] == ["sin-fecha.md", "(all documents)"]
    table_summary = workspace.run("status", "--summary").stdout
    assert re.search(r"informe\.md\s+5\s+1\s+2\s+1\s+1\s+20\.0%\s+40\.0%\s+20\.0%\s+20\.0%", table_summary), table_summary
    assert "Method: Counts are of citations, not URLs" in table_summary
    csv = workspace.run("status", "--summary", "--csv").stdout.splitlines()
    assert csv[0] == "document,citations,intact,drifted,rotted,unknown,intact_share,drifted_share,rotted_share,unknown_share"
    assert csv[-1] == "(all documents),6,1,2,1,2,0.1667,0.3333,0.1667,0.3333"

    # The report opens with the same figures, and each row says how it stands since citation.
    report = workspace.run("report", "-o", str(tmp_path / "report.md"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert text.index("## Since citation") < text.index("## Citations per state")
    assert "| informe.md | 5 | 1 (20.0%) | 2 (40.0%) | 1 (20.0%) | 1 (20.0%) |" in text
    assert "| **\\(all documents\\)** | 6 | 1 (16.7%) | 2 (33.3%) | 1 (16.7%) | 2 (33.3%) |" in text
    removed = next(line for line in text.splitlines() if f"`{site.url('/report')}`" in line)
    # the last column is the screenshot, empty for a page never rendered
    assert removed.endswith(f"| gone | [2017-05-03T08:15:00Z](<{archive.base}20170503081500/{site.url('/report')}>) |  |")
    html = workspace.run("report", "-o", str(tmp_path / "report.html"))
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.index("id='since-citation'") < page.index("id='counts'")
    assert "<td><strong>(all documents)</strong></td><td>6</td><td>1 (16.7%)</td><td>2 (33.3%)</td>" in page
    assert f"<a href='{archive.base}20170301100000/{site.url('/plan-2017')}' rel='noopener noreferrer nofollow'>" in page


def test_fingerprints_are_compared_under_the_same_noise(tmp_path: Path, site: OpenSite, archive: WebArchive) -> None:
    """The bulletin's edition line, noise for this target, leaves both texts alike: the
    memento (fingerprinted with no noise) is remade under the target's noise, not called changed."""
    workspace = Workspace(tmp_path)
    document = cite(workspace, site, [CASES["between"]])
    assert workspace.crawl(document, "--archives", archive.base).returncode == 0
    assert [row["since_citation"] for row in status(workspace)] == ["changed"]
    with sqlite3.connect(workspace.db) as connection:
        connection.execute(
            "UPDATE targets SET noise = ? WHERE url = ?",
            (json.dumps(["edition of \x00 june: reservoirs at \x00 per cent."]), site.url("/bulletin")),
        )
        stored = connection.execute("SELECT basis FROM mementos").fetchone()[0]
    assert stored.endswith(";noise=0")
    assert [row["since_citation"] for row in status(workspace)] == ["same"]
    with sqlite3.connect(workspace.db) as connection:
        kept = connection.execute("SELECT basis FROM mementos").fetchone()[0]
        # Noise learned later makes what was kept stale: it must be remade again.
        connection.execute(
            "UPDATE targets SET noise = ? WHERE url = ?",
            (json.dumps(["edition of \x00 june: reservoirs at \x00 per cent.", "no such \x00 line"]), site.url("/bulletin")),
        )
    assert kept.endswith(";noise=1"), "the memento remade under the target's noise was kept"
    # A record that cannot be read back leaves the verdict unknown, never changed.
    for path in workspace.warc_files():
        path.write_bytes(b"")
    assert [row["since_citation"] for row in status(workspace)] == ["unknown"]


def news(result: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(result.stdout)["news"]
    return items


def test_a_gone_citation_with_a_memento_is_news_once(tmp_path: Path, site: OpenSite, archive: WebArchive) -> None:
    cases = [CASES["original"], CASES["removed"]]
    gone = site.url("/report")
    memento = f"{archive.base}{CASES['removed'].expected.timestamp}/{gone}"  # type: ignore[union-attr]

    # Found in the first crawl: the gone news carries it.
    first = Workspace(tmp_path / "first")
    first.path.mkdir()
    run1 = first.crawl(cite(first, site, cases), "--archives", archive.base, "--json")
    assert run1.returncode == 1, run1.stderr
    assert [(n["url"], n["kind"], n["memento_url"], n["memento_datetime"]) for n in news(run1)] == [
        (gone, "gone", memento, "2017-05-03T08:15:00Z")
    ]
    text = first.crawl("--archives", archive.base)
    assert text.returncode == 0 and "no news since the previous run" in text.stdout, text.stdout
    assert news(first.crawl("--archives", archive.base, "--json")) == []

    # The archive down on the first crawl: gone without it; found by the next, reported
    # then, once; a refreshed lookup that finds it again is no news either.
    later = Workspace(tmp_path / "later")
    later.path.mkdir()
    down = f"http://127.0.0.1:{free_port()}/web/"
    run1 = later.crawl(cite(later, site, cases), "--archives", down, "--json")
    assert run1.returncode == 1, run1.stderr
    assert [(n["url"], n["kind"], n["memento_url"]) for n in news(run1)] == [(gone, "gone", None)]
    run2 = later.crawl("--archives", archive.base)
    assert run2.returncode == 1, run2.stderr
    lines = f"  gone        http_404         {gone}\n" + f"              memento          {memento} (2017-05-03T08:15:00Z)"
    assert lines in run2.stdout, run2.stdout
    assert later.run("lookup", "--all", "--refresh", "--archives", archive.base).returncode == 0
    run3 = later.crawl("--archives", archive.base, "--json")
    assert run3.returncode == 0 and news(run3) == [], run3.stdout


def test_annotate_points_at_the_public_memento(tmp_path: Path, site: OpenSite, archive: WebArchive) -> None:
    workspace = Workspace(tmp_path)
    markdown = cite(workspace, site, [CASES["original"], CASES["removed"], CASES["never"]])
    assert workspace.crawl(markdown, "--archives", archive.base).returncode == 1
    plan = f"{archive.base}20170301100000/{site.url('/plan-2017')}"
    report = f"{archive.base}20170503081500/{site.url('/report')}"

    done = workspace.run("annotate", markdown, "-o", str(tmp_path / "annotated.md"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "annotated.md").read_text(encoding="utf-8")
    assert f"{site.url('/plan-2017')} (archived on 2017-03-01: {plan}) (accessed" in text
    # Gone now, never captured present here: the memento is the only copy, and enough.
    assert f"{site.url('/report')} (archived on 2017-05-03: {report}) (accessed" in text
    # Never archived: the project's own capture, saved beside the output.
    own = re.search(re.escape(site.url("/never-archived")) + r" \(archived on (\d{4}-\d\d-\d\d): (annotated_files/[^)]+)\)", text)
    assert own is not None and (tmp_path / own.group(2)).exists(), text
    assert "id_/" not in text

    page = tmp_path / "cited.html"
    page.write_text(
        "<html><body><p>Plan<a href='" + site.url("/plan-2017") + "'>1</a> and <a href=\""
        + site.url("/never-archived") + "\">2</a></p></body></html>\n",
        encoding="utf-8",
    )
    done = workspace.run("annotate", str(page), "-o", str(tmp_path / "annotated.html"))
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "annotated.html").read_text(encoding="utf-8")
    assert f"<a href='{site.url('/plan-2017')}' data-versionurl=\"{plan}\" data-versiondate=\"2017-03-01T10:00:00Z\">" in out
    local = re.search(r'href="' + re.escape(site.url("/never-archived")) + r'" data-versionurl="(annotated_files/[^"]+)" '
                      r'data-versiondate="(\d{4}-\d\d-\d\dT[\d:]+Z)"', out)
    assert local is not None and (tmp_path / local.group(1)).exists(), out
