"""Verdicts on pages unlike the scripted government site: other markup (a marked
``<main>``, a table layout, no structure at all), other languages, another server
(HTTP/1.0, bodies ended by closing). Per-request noise outside the evidence must not be
news; a one-word edit inside it must be, in Spanish and in English."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Workspace, into_next_second
from tests.opensite import OpenSite

MOST_READ = ["Convocatoria de becas 2018", "Informe anual de labores", "Calendario escolar", "Licitaciones abiertas"]


def _turn(items: list[str], n: int) -> list[str]:
    return items[n % len(items):] + items[: n % len(items)]


def spanish_main(n: int, word: str = "cien") -> str:
    """A marked <main>; after it a rotating promotion, a visit counter and a "most read"
    list in plain divs (not aside, not footer), all changing on every request."""
    items = "".join(f"<li>{title}</li>" for title in _turn(MOST_READ, n))
    return f"""<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Medidores</title></head><body>
<div id="barra"><a href="/">Inicio</a> | <a href="/tramites">Trámites</a></div>
<main><h1>Programa de medición de caudales</h1>
<p>En 2017 la Comisión instaló {word} medidores de caudal en la cuenca del río Lerma, según el informe técnico anual.</p>
<p>El programa forma parte del compromiso 7 del Tercer Plan de Acción de Gobierno Abierto.</p></main>
<div class="ad">Anuncio {100 + (n * 37) % 900}</div>
<div class="lateral"><p>visitas: {48000 + 7 * n}</p><h3>Lo más visto</h3><ul>{items}</ul></div>
</body></html>"""


def english_table(n: int, word: str = "one hundred") -> str:
    """A table layout marking nothing: the content cell dominates the prose; the side cell
    holds links that reorder and a counter."""
    links = "<br>".join(f'<a href="/n/{i}">{title}</a>' for i, title in enumerate(_turn(["Budget", "Tenders", "Jobs"], n)))
    return f"""<html><head><title>Water meters</title></head><body><table><tr>
<td class="menu"><a href="/">Home</a><br><a href="/about">About us</a></td>
<td class="content"><h2>Water metering programme</h2>
<p>In 2017 the Commission installed {word} flow meters in the Lerma river basin, as its annual technical report states.</p>
<p>The programme is commitment 7 of the Third Open Government Action Plan, reviewed by civil society every year.</p></td>
<td class="side"><b>Most read</b><br>{links}<br>Visitors: {48213 + n}</td></tr></table></body></html>"""


NOTICES = ["campaña de vacunación", "pago de predial"]


def unstructured(n: int, word: str = "treinta") -> str:
    """No main, no article, no dominant block: two notices and a counter that change on
    every request sit among the content, so only fetching twice tells them apart."""
    return f"""<html><body><div><b>Aviso del día: {NOTICES[n % 2]}</b></div>
<div><p>La dependencia publicó {word} informes trimestrales del compromiso de transparencia presupuestaria.</p></div>
<div><p>Consultas hoy: {1000 + 13 * n}</p></div>
<div><p>Los informes pueden descargarse en formato abierto desde la sección de datos.</p></div></body></html>"""


@pytest.fixture
def site() -> Iterator[OpenSite]:
    with OpenSite() as server:
        yield server


def crawl(workspace: Workspace, doc: str | None = None, *extra: str) -> int:
    into_next_second()
    result = workspace.crawl(*([doc] if doc else []), *extra)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode


def history(workspace: Workspace, url: str) -> list[dict]:
    result = workspace.run("history", url, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cite(workspace: Workspace, *urls: str) -> str:
    doc = workspace.path / "informe.md"
    doc.write_text("# Informe\n\n" + "".join(f"{i}. Véase <{url}>\n" for i, url in enumerate(urls, 1)), encoding="utf-8")
    return str(doc)


@pytest.mark.parametrize(
    ("page", "edit"),
    [(spanish_main, "cuarenta"), (english_table, "forty")],
    ids=["spanish-main", "english-table"],
)
def test_noise_outside_the_content_is_no_news_and_a_one_word_edit_is(workspace: Workspace, site: OpenSite, page, edit):
    edited = False
    site.html("/medidores", lambda n: page(n, edit) if edited else page(n))
    url = site.url("/medidores")
    assert crawl(workspace, cite(workspace, url)) == 0
    assert crawl(workspace) == 0, "a promotion, a counter and a reordered list are not news"
    assert crawl(workspace) == 0
    rows = history(workspace, url)
    assert [(r["state"], r["reason"], r["change"]) for r in rows] == [
        ("ok", "unchanged", "boilerplate"), ("ok", "unchanged", "boilerplate"), ("ok", "first_capture", None),
    ]
    edited = True
    assert crawl(workspace) == 1, "one word of the content is news"
    assert (history(workspace, url)[0]["state"], history(workspace, url)[0]["change"]) == ("changed", "text")


def test_noise_inside_an_unstructured_page_is_learned_from_a_second_fetch(workspace: Workspace, site: OpenSite):
    edited = False
    site.html("/avisos", lambda n: unstructured(n, "cuarenta") if edited else unstructured(n))
    url = site.url("/avisos")
    assert crawl(workspace, cite(workspace, url)) == 0
    assert site.hits["/avisos"] == 1
    assert crawl(workspace) == 0, "what differed between two fetches seconds apart is noise"
    assert site.hits["/avisos"] == 3, "fetched once more before calling it changed"
    second = history(workspace, url)[0]
    assert (second["state"], second["reason"]) == ("ok", "unchanged") and "noise_learned" in second["signals"]
    with sqlite3.connect(workspace.db) as connection:
        (noise,) = connection.execute("SELECT noise FROM targets").fetchone()
    assert sorted(json.loads(noise)) == ["aviso del día: \x00 de \x00", "consultas hoy: \x00"]

    assert crawl(workspace) == 0
    assert site.hits["/avisos"] == 4, "the noise is remembered: no second fetch on a later run"
    assert history(workspace, url)[0]["state"] == "ok"

    edited = True
    assert crawl(workspace) == 1, "a one-word edit in a line that held no noise is a change"
    latest = history(workspace, url)[0]
    assert (latest["state"], latest["change"]) == ("changed", "text")


def test_fingerprints_made_under_older_rules_are_re_extracted_not_called_changed(workspace: Workspace, site: OpenSite):
    site.html("/medidores", spanish_main)
    url = site.url("/medidores")
    crawl(workspace, cite(workspace, url))
    crawl(workspace)
    with sqlite3.connect(workspace.db) as connection:
        # What an evidence of the first text rules left: another fingerprint, no basis.
        connection.execute("UPDATE captures SET fingerprint = 'text:sha256:' || substr(fingerprint, 17), basis = NULL")
    assert crawl(workspace) == 0, "an extractor upgrade is not a change of the page"
    assert history(workspace, url)[0]["state"] == "ok"
    with sqlite3.connect(workspace.db) as connection:
        rows = connection.execute("SELECT fingerprint, basis FROM captures ORDER BY id").fetchall()
    assert all(fp.startswith("text-v2:sha256:") and basis == "html-2;noise=0" for fp, basis in rows), rows
    assert len({fp for fp, _ in rows}) == 1


def test_a_body_cut_by_the_deadline_is_unreachable_and_the_whole_capture_stays_the_evidence(workspace: Workspace, site: OpenSite):
    body = ("<html><body><main><p>" + "Compromiso cumplido. " * 45 + "</p></main></body></html>").encode()
    assert len(body) > 900

    def trickle(n: int, write) -> None:
        if n == 1:
            write(body)
            return
        write(body[:100])
        for i in range(100, len(body)):  # the second run: then a byte every two seconds
            time.sleep(2)
            write(body[i:i + 1])

    site.stream("/lento", "text/html; charset=utf-8", trickle)
    url = site.url("/lento")
    deadline = ("-s", "EVIDENCE_DOWNLOAD_DEADLINE=4")
    assert crawl(workspace, cite(workspace, url), *deadline) == 0
    assert crawl(workspace, None, *deadline) == 0, "newly unreachable is reported, not news"
    (row,) = json.loads(workspace.run("status", "--json").stdout)
    assert (row["state"], row["reason"]) == ("unreachable", "truncated_time")
    latest = history(workspace, url)[0]
    assert latest["snapshot"], "the bytes that arrived are archived"
    shown = workspace.run("show", url, "-o", "shown.html")
    assert shown.returncode == 0, shown.stderr
    assert (workspace.path / "shown.html").read_bytes() == body, "the whole capture is still the evidence"
    report = workspace.run("report", "-o", "report.md")
    assert report.returncode in (0, 1), report.stderr
    text = (workspace.path / "report.md").read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines() if "/lento" in line and line.startswith("|")]
    assert "**unreachable** truncated\\_time" in line, line
