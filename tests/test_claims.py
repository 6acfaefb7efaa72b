"""Pinned passages checked on every capture (crawler/claims/store.py, check.py): real crawls
of a site on 127.0.0.1 whose pages are redesigned, edited, cut or rearranged between two
runs, with the passages a citation relies on pinned; quotations proposed from HTML,
Markdown and PDF documents; pins through `evidence db upgrade`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Workspace, into_next_second
from tests.olddb import database_at
from tests.opensite import OpenSite
from tests.pdfs import make_pdf

PASSAGE = "Se instalaron 100 medidores inteligentes en la colonia Centro"
ACCENTED = "La instalación se concluyó en la Delegación Cuauhtémoc"


def page(main: str, *, before: str = "", after: str = "", nav: str = "Inicio | Trámites") -> str:
    """A government-like page: navigation, a main block, and text around it."""
    return (
        "<!DOCTYPE html><html lang='es'><head><meta charset='utf-8'><title>Compromiso 5</title></head>"
        f"<body><nav>{nav}</nav>{before}<main>{main}</main>{after}<footer>Gobierno de México</footer></body></html>"
    )


FIRST = page(
    f"<h1>Avance del compromiso 5</h1><p>{PASSAGE} durante 2017.</p><p>{ACCENTED}.</p>"
    "<p>El programa continúa en otras colonias de la capital.</p>"
)

#: Per case: the page in version 1 and version 2 (None: FIRST), and the passage pinned.
CASES: dict[str, tuple[str, str]] = {
    # Everything around the passage redesigned: other navigation, headings, paragraphs, layout.
    "redesign": (
        page(
            f"<div class='grid'><section><h2>Compromiso 5 · Agua</h2><ul><li>Estado: concluido</li></ul>"
            f"<article><p>Resultados: {PASSAGE} durante 2017, con fondos federales.</p></article></section></div>",
            nav="Portal | Transparencia | Contacto",
            before="<div class='banner'>Nuevo portal</div>",
        ),
        PASSAGE,
    ),
    "number": (FIRST.replace("100 medidores", "40 medidores"), PASSAGE),
    "removed": (FIRST.replace(f"<p>{PASSAGE} durante 2017.</p>", "<p>El compromiso fue reformulado.</p>"), PASSAGE),
    # From the main block to a note after it (text outside the main content).
    "moved": (
        page(
            "<h1>Avance del compromiso 5</h1><p>El programa continúa en otras colonias de la capital.</p>",
            after=f"<div class='notas'><p>Nota: {PASSAGE} durante 2017.</p></div>",
        ),
        PASSAGE,
    ),
    # Pinned without accents and in other case: still the same words.
    "accents": (
        page(f"<h1>Avance</h1><p>{PASSAGE} durante 2017.</p><p>{ACCENTED}.</p><p>Se añadió una fotografía.</p>"),
        "la instalacion se CONCLUYO en la delegacion cuauhtemoc",
    ),
    # The passage stands outside the main content and only a number changes: the page's
    # fingerprint (its main text) is the same, the claim is not.
    "outside": (
        page("<h1>Avance del compromiso 5</h1><p>El programa continúa.</p>", after="<div><p>Meta: 300 medidores en 2018.</p></div>")
        .replace("300 medidores", "250 medidores"),
        "Meta: 300 medidores en 2018",
    ),
}
CASE_FIRST = {
    name: FIRST if name != "outside" else page("<h1>Avance del compromiso 5</h1><p>El programa continúa.</p>",
                                               after="<div><p>Meta: 300 medidores en 2018.</p></div>")
    for name in CASES
}

PDF_FIRST = make_pdf(["Informe de avance 2017", "Se instalaron 100 medi-", "dores inteligentes en la colonia Centro.", "Pagina 1"])
PDF_SECOND = make_pdf(["Informe de avance 2017 (revisado)", "Se instalaron 40 medi-", "dores inteligentes en la colonia Centro."])
PDF_QUOTE = "100 medidores inteligentes en la colonia Centro"


def rows(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Each case cited by a document of its own; pinned after a first crawl (the PDF's
    quotation pinned from its document before any crawl); then, with the site at version 2,
    each document crawled alone as cron would (``crawl -q``), to read its exit code."""
    workspace = Workspace(tmp_path_factory.mktemp("claims"))
    version = {"n": 1}
    with OpenSite() as site:
        for name, (second, _) in CASES.items():
            site.html(f"/{name}", lambda n, name=name, second=second: CASE_FIRST[name] if version["n"] == 1 else
                      second.replace("fondos federales", "fondos estatales") if version["n"] == 3 else second)
        site.page("/informe.pdf", lambda n: (200, "application/pdf", PDF_FIRST if version["n"] == 1 else PDF_SECOND))
        docs = {}
        for name in CASES:
            docs[name] = workspace.path / f"{name}.md"
            docs[name].write_text(f"Informe del compromiso[^1].\n\n[^1]: {site.url('/' + name)}\n", encoding="utf-8")
        docs["pdf"] = workspace.path / "pdf.md"
        docs["pdf"].write_text(
            f"Según el informe se instalaron «{PDF_QUOTE}»[^1].\n\n[^1]: Informe de avance, {site.url('/informe.pdf')}\n",
            encoding="utf-8",
        )
        imported = workspace.run("import", *map(str, docs.values()))
        assert imported.returncode == 0, imported.stderr
        pinned_from_doc = workspace.run("import", "--pin-quotes", str(docs["pdf"]))
        before_any_crawl = rows(workspace.run("pins", "--json"))
        first = workspace.crawl("-q")
        pinned = {name: workspace.run("pin", site.url("/" + name), "--quote", quote, "--note", "cifra del informe")
                  for name, (_, quote) in CASES.items()}
        version["n"] = 2
        into_next_second()
        second = {name: workspace.crawl("-q", "--json", str(docs[name])) for name in [*CASES, "pdf"]}
        # Redesigned once more: with --news all, a change whose pins hold is news.
        version["n"] = 3
        into_next_second()
        news_all = workspace.crawl("-q", "--json", "--news", "all", str(docs["redesign"]))
        yield {
            "workspace": workspace, "site": site, "docs": docs, "first": first, "pinned": pinned,
            "pinned_from_doc": pinned_from_doc, "before_any_crawl": before_any_crawl, "second": second,
            "news_all": news_all,
        }


def summary(crawled: dict[str, Any], name: str) -> dict[str, Any]:
    return json.loads(crawled["second"][name].stdout)


def pins_of(crawled: dict[str, Any], name: str) -> list[dict[str, Any]]:
    workspace, site = crawled["workspace"], crawled["site"]
    path = "/informe.pdf" if name == "pdf" else "/" + name
    return rows(workspace.run("pins", site.url(path), "--json"))


def test_pinning_checks_the_latest_capture_at_once(crawled: dict[str, Any]) -> None:
    assert crawled["first"].returncode == 0, crawled["first"].stdout + crawled["first"].stderr
    for name, result in crawled["pinned"].items():
        assert result.returncode == 0, result.stderr
        assert "pinned" in result.stdout and ": holds in the capture of" in result.stdout, (name, result.stdout)


def test_a_redesign_around_the_passage_is_changed_but_not_news(crawled: dict[str, Any]) -> None:
    result = crawled["second"]["redesign"]
    assert result.returncode == 0, result.stdout + result.stderr
    found = summary(crawled, "redesign")
    assert found["states"] == {"changed": 1}
    assert found["news"] == []
    [held] = found["held"]
    assert (held["kind"], held["claims"], held["pins"]) == ("changed", "hold", [])
    [pin] = pins_of(crawled, "redesign")
    assert pin["claim"] == "holds" and pin["found"] == PASSAGE
    # Cited once: the pin is that citation's.
    assert (pin["document"], pin["footnote"]) == ("redesign.md", "1")
    assert [row["pin"] for row in rows(crawled["workspace"].run("pins", "--document", "redesign.md", "--json"))] == [pin["pin"]]
    # Asked for every change, it is news again.
    news_all = crawled["news_all"]
    assert news_all.returncode == 1
    assert [item["kind"] for item in json.loads(news_all.stdout)["news"]] == ["changed"]


def test_one_number_changed_is_partial_and_news(crawled: dict[str, Any]) -> None:
    assert crawled["second"]["number"].returncode == 1
    [news] = summary(crawled, "number")["news"]
    assert (news["kind"], news["state"], news["claims"]) == ("claim_lost", "changed", "lost")
    [fell] = news["pins"]
    assert (fell["was"], fell["now"]) == ("holds", "partial")
    assert fell["differs"] == [{"pinned": "100", "found": "40", "number": True}]
    assert fell["found"] == PASSAGE.replace("100", "40")
    [pin] = pins_of(crawled, "number")
    assert (pin["claim"], pin["differs"], pin["score"]) == ("partial", '"100" -> "40"', fell["score"])
    assert 0.6 < pin["score"] < 1


def test_a_removed_passage_is_lost_with_the_nearest_passage_left(crawled: dict[str, Any]) -> None:
    assert crawled["second"]["removed"].returncode == 1
    [news] = summary(crawled, "removed")["news"]
    assert news["kind"] == "claim_lost"
    [fell] = news["pins"]
    assert (fell["was"], fell["now"], fell["found"]) == ("holds", "lost", None)
    [pin] = pins_of(crawled, "removed")
    assert pin["claim"] == "lost" and pin["found"] is None


def test_a_passage_moved_to_another_part_of_the_page_holds(crawled: dict[str, Any]) -> None:
    assert crawled["second"]["moved"].returncode == 0
    found = summary(crawled, "moved")
    assert found["news"] == [] and [item["claims"] for item in found["held"]] == ["hold"]
    [pin] = pins_of(crawled, "moved")
    assert pin["claim"] == "holds" and pin["found"] == PASSAGE


def test_a_passage_pinned_without_its_accents_holds(crawled: dict[str, Any]) -> None:
    assert crawled["second"]["accents"].returncode == 0
    [pin] = pins_of(crawled, "accents")
    assert pin["claim"] == "holds" and pin["found"] == ACCENTED


def test_a_claim_lost_outside_the_main_content_is_news_on_an_unchanged_page(crawled: dict[str, Any]) -> None:
    assert crawled["second"]["outside"].returncode == 1
    found = summary(crawled, "outside")
    assert found["states"] == {"ok": 1}
    [news] = found["news"]
    assert (news["kind"], news["state"]) == ("claim_lost", "ok")
    assert news["pins"][0]["differs"] == [{"pinned": "300", "found": "250", "number": True}]


def test_a_pdf_quoted_by_its_document_is_pinned_and_checked_across_a_line_break(crawled: dict[str, Any]) -> None:
    assert "1 quoted passages pinned" in crawled["pinned_from_doc"].stderr
    [before] = crawled["before_any_crawl"]
    assert (before["quote"], before["claim"], before["footnote"], before["document"]) == (PDF_QUOTE, "unchecked", "1", "pdf.md")
    workspace, site = crawled["workspace"], crawled["site"]
    # The first capture's text was extracted (not deferred): the pin held across "medi-\ndores".
    [first, second] = rows(workspace.run("history", site.url("/informe.pdf"), "--json"))[::-1]
    assert first["claims"] == ["pin 1 holds"]
    assert second["claims"] == ['pin 1 partial 0.86 ("100" -> "40")']
    [pin] = pins_of(crawled, "pdf")
    assert pin["found"] == "40 medi- dores inteligentes en la colonia Centro"
    assert crawled["second"]["pdf"].returncode == 1
    [news] = summary(crawled, "pdf")["news"]
    assert news["kind"] == "claim_lost"


def test_status_and_history_show_the_claims(crawled: dict[str, Any]) -> None:
    workspace = crawled["workspace"]
    status = {(row["document"], row["url"].rsplit("/", 1)[1]): row["claims"] for row in rows(workspace.run("status", "--json"))}
    assert status == {
        ("redesign.md", "redesign"): "holds", ("number.md", "number"): "partial", ("removed.md", "removed"): "lost",
        ("moved.md", "moved"): "holds", ("accents.md", "accents"): "holds", ("outside.md", "outside"): "partial",
        ("pdf.md", "informe.pdf"): "partial",
    }
    table = workspace.run("status").stdout
    assert table.splitlines()[0].split()[-2:] == ["claims", "render"]


def test_the_report_shows_each_pinned_passage_beside_what_the_page_says_now(crawled: dict[str, Any]) -> None:
    workspace = crawled["workspace"]
    written = workspace.run("report", "-o", "report.md")
    assert written.returncode == 0, written.stderr
    report = (workspace.path / "report.md").read_text(encoding="utf-8")
    lines = [line for line in report.splitlines() if line.startswith("| 1 | Se instalaron 100 medidores")]
    partial = next(line for line in lines if "**partial** (0.89)" in line)
    assert 'Se instalaron 40 medidores inteligentes en la colonia Centro ("100" -\\> "40")' in partial
    lost = next(line for line in lines if "**lost**" in line)
    # Where it was last found (the first capture), and the nearest passage left beside it.
    assert "(characters " in lost and "nearest: se concluyó en la Delegación Cuauhtémoc" in lost
    html = workspace.run("report", "-o", "report.html")
    assert html.returncode == 0
    page = (workspace.path / "report.html").read_text(encoding="utf-8")
    assert "<th>Pinned passage</th>" in page and "<span class='state state-gone'>lost</span>" in page


def test_unpin_keeps_the_pin_in_the_audit_history(crawled: dict[str, Any]) -> None:
    workspace, site = crawled["workspace"], crawled["site"]
    [pin] = pins_of(crawled, "removed")
    done = workspace.run("unpin", str(pin["pin"]), "--note", "el compromiso se reformuló")
    assert done.returncode == 0, done.stderr
    assert pins_of(crawled, "removed") == []
    [kept] = rows(workspace.run("pins", site.url("/removed"), "--removed", "--json"))
    assert kept["removed_note"] == "el compromiso se reformuló" and kept["removed_at"]
    again = workspace.run("unpin", str(pin["pin"]))
    assert again.returncode == 2 and "already removed" in again.stderr
    status = {row["url"].rsplit("/", 1)[1]: row["claims"] for row in rows(workspace.run("status", "--json"))}
    assert status["removed"] == "unpinned"
    # The history still shows what the pin said on each capture.
    history = rows(workspace.run("history", site.url("/removed"), "--json"))
    assert [row["claims"] for row in history] == [[f"pin {pin['pin']} lost"], [f"pin {pin['pin']} holds"]]


def test_pinning_refuses_what_cannot_be_looked_for(crawled: dict[str, Any]) -> None:
    workspace, site = crawled["workspace"], crawled["site"]
    assert workspace.run("pin", site.url("/nowhere"), "--quote", "algo").returncode == 2
    wrong = workspace.run("pin", site.url("/number"), "--quote", "algo", "--footnote", "9")
    assert wrong.returncode == 2 and "not cited at footnote 9" in wrong.stderr
    empty = workspace.run("pin", site.url("/number"), "--quote", "«»")
    assert empty.returncode != 0 and "no word or number" in empty.stderr


def test_quotes_are_proposed_from_html_markdown_and_pdf_documents(tmp_path) -> None:
    workspace = Workspace(tmp_path)
    (tmp_path / "nota.md").write_text(
        "El gobierno prometió «100 medidores inteligentes» en 2017[^1].\n\n"
        "[^1]: Secretaría, “Avance del compromiso 5”, http://127.0.0.1:9/a\n", encoding="utf-8")
    (tmp_path / "nota.html").write_text(
        '<html><body><p>Se prometieron "26 compromisos" en el plan<a href="#fn1">1</a>.</p>'
        '<ol><li id="fn1">Véase <a href="http://127.0.0.1:9/b">el plan</a>: ‘se instalarán 100 medidores’.</li></ol>'
        "</body></html>", encoding="utf-8")
    (tmp_path / "nota.pdf").write_bytes(make_pdf([
        "Informe sombra", "El plan reporta «26 compromisos cumplidos» en total.1",
        "1 Secretaría, «Tercer Plan de Acción», http://127.0.0.1:9/c",
    ]))
    proposed = {}
    for name in ("nota.md", "nota.html", "nota.pdf"):
        [document] = rows(workspace.run("import", "--dry-run", "--json", name))
        proposed[name] = [quote for citation in document["citations"] for quote in citation["quotes"]]
    assert proposed["nota.md"] == ["100 medidores inteligentes", "Avance del compromiso 5"]
    assert proposed["nota.html"] == ["26 compromisos", "se instalarán 100 medidores"]
    assert "Tercer Plan de Acción" in proposed["nota.pdf"]
    refused = workspace.run("import", "--dry-run", "--pin-quotes", "nota.md")
    assert refused.returncode == 2


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_pins_survive_db_upgrade(tmp_path, request, server) -> None:
    """A database from before pins is upgraded to hold them; pins made then stay through
    another upgrade and a re-import of their document."""
    from crawler.store.migrate import current_revision, head_revision

    workspace, engine = database_at("0003", tmp_path, request, server, "Informe «100 medidores»[^1].\n\n[^1]: http://127.0.0.1:9/a\n")
    assert workspace.run("db", "upgrade").returncode == 0
    assert current_revision(engine) == head_revision()
    pinned = workspace.run("pin", "http://127.0.0.1:9/a", "--quote", "100 medidores", "--document", "informe.md", "--footnote", "1")
    assert pinned.returncode == 0, pinned.stderr
    assert "not checked yet (no capture of the page yet)" in pinned.stdout
    upgraded = workspace.run("db", "upgrade")
    assert f"already at revision {head_revision()}" in upgraded.stdout
    assert workspace.run("import", str(tmp_path / "informe.md")).returncode == 0
    [pin] = rows(workspace.run("pins", "--json"))
    assert (pin["quote"], pin["document"], pin["footnote"], pin["claim"]) == ("100 medidores", "informe.md", "1", "unchecked")
    [status] = rows(workspace.run("status", "--json"))
    assert status["claims"] == "unchecked"
    engine.dispose()


def test_pin_results_are_stored_with_position_and_differences(crawled: dict[str, Any]) -> None:
    with sqlite3.connect(crawled["workspace"].db) as connection:
        found = connection.execute(
            "SELECT r.status, r.matched, r.start, r.\"end\", r.differs FROM pin_results r JOIN pins p ON p.id = r.pin_id"
            " JOIN targets t ON t.id = p.target_id WHERE t.url LIKE '%/number' ORDER BY r.capture_id"
        ).fetchall()
    (held, start, end), partial = found[0][1:4], found[1]
    assert found[0][0] == "holds" and held == PASSAGE and end - start == len(PASSAGE)
    assert partial[0] == "partial" and json.loads(partial[4]) == [{"pinned": "100", "found": "40", "number": True}]


def test_ack_all_answers_a_claim_lost_on_an_unchanged_page(crawled: dict[str, Any]) -> None:
    workspace, site = crawled["workspace"], crawled["site"]
    done = workspace.run("ack", "--all", "--note", "revisado")
    assert done.returncode == 0, done.stderr
    assert f"acknowledged {site.url('/outside')}: ok (unchanged)" in done.stdout
    assert f"acknowledged {site.url('/number')}: changed (text) in run" in done.stdout
    # Changes under pins that all hold were not news: nothing of them waits for review.
    assert site.url("/redesign") not in done.stdout and site.url("/moved") not in done.stdout
    assert workspace.run("ack", "--all").stdout.strip() == "nothing to acknowledge: no news is waiting for review"
