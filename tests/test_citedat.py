"""When each URL was cited (``cited_at``): read from the notes of HTML, Markdown and PDF
documents on import, else the document's date, else given with ``--cited-at``; stored per
citation, kept up to date by a re-import, and shown by ``import --json``, ``status`` and
the report. Nothing is crawled: these URLs are never fetched."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import Workspace
from tests.pdfs import make_pdf

HTML = """<!doctype html>
<html><head><title>Informe sombra</title></head><body>
<h1>Informe sombra</h1>
<p>El plan se publicó<sup><a href="#fn1" id="r1">1</a></sup> y se evaluó<sup><a href="#fn2">2</a></sup>.</p>
<section class="footnotes"><ol>
<li id="fn1">SFP, <a href="http://127.0.0.1:9/plan.pdf">Plan de Acción</a> (consultado el 12 de marzo de 2017).</li>
<li id="fn2">OGP, Review, http://127.0.0.1:9/review, accessed March 3, 2018.</li>
</ol></section>
</body></html>
"""

MARKDOWN = """---
title: Shadow report
date: 2018-11-05
---

The plan was published[^1] and reviewed[^2].

[^1]: SFP, *Plan*, http://127.0.0.1:9/plan.pdf y http://127.0.0.1:9/anexo.pdf, consultados el 1 de febrero de 2017.
[^2]: OGP, *Review*, http://127.0.0.1:9/review.
"""


def pdf_lines() -> list[str]:
    return [
        "Informe de seguimiento",
        "El tablero1 muestra el avance.",
        "1 Tablero, http://127.0.0.1:9/tablero. Fecha de consulta: 2016-07-20.",
        "2 Datos abiertos, http://127.0.0.1:9/datos, Retrieved 2016-08-01.",
    ]


def imported(workspace: Workspace, *args: str) -> list[dict[str, object]]:
    result = workspace.run("import", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cited(document: dict[str, object]) -> list[tuple[object, ...]]:
    return [(c["footnote"], c["url"], c["cited_at"], c["cited_at_source"]) for c in document["citations"]]  # type: ignore[index, union-attr]


def status(workspace: Workspace, *args: str) -> list[tuple[object, ...]]:
    result = workspace.run("status", "--json", *args)
    assert result.returncode == 0, result.stderr
    return [(row["document"], row["footnote"], row["url"], row["cited_at"]) for row in json.loads(result.stdout)]


def test_notes_in_html_markdown_and_pdf_date_their_citations(workspace: Workspace) -> None:
    (workspace.path / "informe.html").write_text(HTML, encoding="utf-8")
    (workspace.path / "shadow.md").write_text(MARKDOWN, encoding="utf-8")
    (workspace.path / "tablero.pdf").write_bytes(make_pdf(pdf_lines()))
    html, markdown, pdf = imported(workspace, "informe.html", "shadow.md", "tablero.pdf")
    assert cited(html) == [
        ("1", "http://127.0.0.1:9/plan.pdf", "2017-03-12", "note"),
        ("2", "http://127.0.0.1:9/review", "2018-03-03", "note"),
    ]
    # One date for both URLs of its note; a note without one falls back to the document's date.
    assert cited(markdown) == [
        ("1", "http://127.0.0.1:9/plan.pdf", "2017-02-01", "note"),
        ("1", "http://127.0.0.1:9/anexo.pdf", "2017-02-01", "note"),
        ("2", "http://127.0.0.1:9/review", "2018-11-05", "document"),
    ]
    assert cited(pdf) == [
        ("1", "http://127.0.0.1:9/tablero", "2016-07-20", "note"),
        ("2", "http://127.0.0.1:9/datos", "2016-08-01", "note"),
    ]

    # A URL cited by several citations shows the earliest day among the rows shown.
    assert status(workspace) == [
        ("informe.html", "1", "http://127.0.0.1:9/plan.pdf", "2017-02-01"),
        ("informe.html", "2", "http://127.0.0.1:9/review", "2018-03-03"),
        ("shadow.md", "1", "http://127.0.0.1:9/plan.pdf", "2017-02-01"),
        ("shadow.md", "1", "http://127.0.0.1:9/anexo.pdf", "2017-02-01"),
        ("shadow.md", "2", "http://127.0.0.1:9/review", "2018-03-03"),
        ("tablero.pdf", "1", "http://127.0.0.1:9/tablero", "2016-07-20"),
        ("tablero.pdf", "2", "http://127.0.0.1:9/datos", "2016-08-01"),
    ]
    assert status(workspace, "--document", "informe.html") == [
        ("informe.html", "1", "http://127.0.0.1:9/plan.pdf", "2017-03-12"),
        ("informe.html", "2", "http://127.0.0.1:9/review", "2018-03-03"),
    ]
    csv_lines = workspace.run("status", "--csv", "--document", "tablero.pdf").stdout.splitlines()
    assert csv_lines[0].endswith(",cited_at,claims") and csv_lines[1].endswith(",2016-07-20,unpinned")

    # The report gives each footnote its own day and what said so.
    out = workspace.path / "report.md"
    assert workspace.run("report", "-o", str(out)).returncode == 0
    text = out.read_text(encoding="utf-8")
    assert "| footnote | cited | cited URL |" in text
    assert "| 1 | 2017-03-12 (note) | `http://127.0.0.1:9/plan.pdf` |" in text
    assert "| 2 | 2018-11-05 (document) | `http://127.0.0.1:9/review` |" in text
    page = workspace.path / "report.html"
    assert workspace.run("report", "-o", str(page)).returncode == 0
    assert "<th>Cited</th>" in page.read_text(encoding="utf-8")
    assert "<td class='time'>2016-08-01 (note)</td>" in page.read_text(encoding="utf-8")


def test_cited_at_overrides_notes_and_dates_and_a_reimport_updates_them(workspace: Workspace) -> None:
    (workspace.path / "shadow.md").write_text(MARKDOWN, encoding="utf-8")
    [given] = imported(workspace, "shadow.md", "--cited-at", "2019-01-02")
    assert {(c[2], c[3]) for c in cited(given)} == {("2019-01-02", "given")}
    assert {row[3] for row in status(workspace)} == {"2019-01-02"}
    [again] = imported(workspace, "shadow.md")
    assert [c[2] for c in cited(again)] == ["2017-02-01", "2017-02-01", "2018-11-05"]
    with sqlite3.connect(workspace.db) as connection:
        stored = connection.execute("SELECT cited_at, cited_at_source FROM citations ORDER BY position").fetchall()
    assert stored == [("2017-02-01", "note"), ("2017-02-01", "note"), ("2018-11-05", "document")]
    # Without an access date, a document dated by month only dates nothing: no day is invented.
    (workspace.path / "month.md").write_text("# Informe\n\nNoviembre 2018\n\nVer http://127.0.0.1:9/x.\n", encoding="utf-8")
    [month] = imported(workspace, "month.md")
    assert month["date"] == "2018-11"
    assert cited(month) == [("inline", "http://127.0.0.1:9/x", None, None)]


def test_a_bad_cited_at_is_a_usage_error(workspace: Workspace) -> None:
    (workspace.path / "shadow.md").write_text(MARKDOWN, encoding="utf-8")
    result = workspace.run("import", "shadow.md", "--cited-at", "12/03/2017")
    assert result.returncode == 2
    assert "--cited-at" in result.stderr
    assert not workspace.db.exists()


def test_dry_run_shows_the_dates_without_a_database(workspace: Workspace) -> None:
    (workspace.path / "informe.html").write_text(HTML, encoding="utf-8")
    [html] = imported(workspace, "informe.html", "--dry-run")
    assert html["recorded"] is False
    assert [c[2] for c in cited(html)] == ["2017-03-12", "2018-03-03"]
    assert not workspace.db.exists()
