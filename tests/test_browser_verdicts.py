"""Judging pages rendered in the browser: fingerprints, soft-404 signals, pins and the views
of them come from the rendered DOM, never the shell of HTML an application answers for
every path; a capture rendered one way is compared with one taken the other way on their
HTML only (crawler/verdicts/capture.py).

The first tests judge one capture without a crawl (as tests/test_capture_judge.py does),
with real WARC records written by warcio where an earlier DOM is read back; the last ones
crawl tests/jssite.py in headless Chromium.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.browser.model import CAPPED, FAILED, RENDERED, Rendered
from crawler.crawl.history import Good, TargetHistory
from crawler.crawl.spider import CaptureItem
from crawler.verdicts.capture import DOM_TYPE, CaptureJudge
from crawler.verdicts.fingerprint import Noise, meaning
from crawler.verdicts.soft404 import ProbeAnswer
from crawler.warc.recorder import Hop
from crawler.warc.writer import RecordLocation
from tests.conftest import Workspace, into_next_second
from tests.jssite import JsSite

URL = "http://transparencia.example.gob.mx/app/informe"
PROBE = "http://transparencia.example.gob.mx/app/qzkxvbwmtrplaeyhgfdsnoucj"
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
HTML = "text/html; charset=utf-8"
# One shell for every path, as a single-page application answers.
SHELL = (
    b'<!doctype html><html><head><title>Portal</title><script src="/static/app.js" defer></script></head>'
    b'<body><div id="root"></div><noscript>Habilite JavaScript para ver este sitio.</noscript></body></html>'
)


def dom(title: str, *paragraphs: str, heading: str | None = None) -> bytes:
    """A rendered DOM as ``page.content()`` serializes it: the shell with the app's markup in its root."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html><head><title>{title}</title><script src="/static/app.js" defer=""></script></head>'
        f'<body><div id="root"><nav><a href="/">Inicio</a></nav><main><h1>{heading or title}</h1>{body}</main></div>'
        f"<noscript>Habilite JavaScript para ver este sitio.</noscript></body></html>"
    ).encode()


def hop(body: bytes, url: str = URL, where: RecordLocation | None = None) -> Hop:
    where = where or RecordLocation("evidence-1.warc.gz", 0, 100, "<urn:uuid:1>")
    return Hop(
        url=url, status=200, started=WHEN, response=where, request=where,
        payload_digest="sha1:" + hashlib.sha1(body).hexdigest(), content_type=HTML, body_length=len(body),
        truncated=None, location=None,
    )


def capture(body: bytes = SHELL, rendered: bytes | None = None, *, outcome: str = RENDERED, url: str = URL) -> CaptureItem:
    render = None
    if rendered is not None or outcome == FAILED:
        render = Rendered(url=url, started=WHEN, outcome=outcome, dom=rendered or b"", screenshot=b"\x89PNG",
                          error_kind="browser_crashed" if outcome == FAILED else None)
    return CaptureItem(url=url, checked_at=WHEN, hops=[hop(body, url)], body=body, rendered=render)


def good(body: bytes = SHELL, rendered: bytes | None = None, **extra: object) -> Good:
    """An earlier good capture, its fingerprints made now (so no WARC is read back)."""
    page = meaning(rendered if rendered is not None else body, HTML, None, WHEN, noise=Noise(()))
    fields: dict[str, object] = {
        "payload_digest": hop(body).payload_digest, "fingerprint": page.fingerprint, "content_type": HTML,
        "basis": page.basis, "boilerplate": page.boilerplate_fingerprint, "capture_id": 1,
        "checked_at": WHEN.replace(tzinfo=None), "warc_filename": "evidence-0.warc.gz", "warc_offset": 0,
    }
    if rendered is not None:
        fields.update(render=RENDERED, dom_filename="evidence-0.warc.gz", dom_offset=1)
    fields.update(extra)
    return Good(**fields)  # type: ignore[arg-type]


def history(previous: Good, first: Good | None = None) -> TargetHistory:
    return TargetHistory(1, previous=previous, first=first or previous, recent=[("ok", "first_capture")])


INFORME = dom("Informe 2025", "Se construyeron 100 pozos en 2025.", "La meta de 2026 es de 120 pozos.")


def test_a_rendered_page_is_fingerprinted_on_its_dom_not_its_shell(judge, counted) -> None:
    judged = judge.judge(capture(SHELL, INFORME), TargetHistory(1), probe=None)
    assert (judged.state, judged.reason) == ("ok", "first_capture")
    # Never deferred: the text is that of the rendered DOM, extracted now.
    assert judged.fingerprint == meaning(INFORME, DOM_TYPE, None, WHEN).fingerprint
    assert judged.fingerprint != meaning(SHELL, HTML, None, WHEN).fingerprint
    assert judged.page is not None and "100 pozos" in judged.page.text
    assert counted == ["evidence/text/rendered"]


def test_the_same_shell_with_other_rendered_text_is_a_change(judge) -> None:
    """The shell is byte-identical: the "same bytes as last time" shortcut must not hide
    that the application now shows other text."""
    after = dom("Informe 2025", "Se construyeron 10 pozos en 2025.", "La meta de 2026 es de 120 pozos.")
    judged = judge.judge(capture(SHELL, after), history(good(SHELL, INFORME)), probe=None)
    assert (judged.state, judged.reason, judged.change) == ("changed", "text", "text")
    assert judged.differs_from_first is True
    assert "render_started" not in judged.signals


@pytest.mark.parametrize(("before", "after"), [
    # Spanish and English, a one-word edit in the main text each.
    ("La secretaría publicó el informe anual en marzo.", "La secretaría retiró el informe anual en marzo."),
    ("The ministry published the annual report in March.", "The ministry withdrew the annual report in March."),
])
def test_a_one_word_edit_in_the_rendered_main_text_is_a_change(judge, before: str, after: str) -> None:
    old, new = dom("Report", before), dom("Report", after)
    judged = judge.judge(capture(SHELL, new), history(good(SHELL, old)), probe=None)
    assert (judged.state, judged.change) == ("changed", "text")


def test_an_unchanged_rendered_page_is_ok_even_when_its_shell_is_rebuilt(judge) -> None:
    same = judge.judge(capture(SHELL, INFORME), history(good(SHELL, INFORME)), probe=None)
    assert (same.state, same.reason, same.change, same.differs_from_first) == ("ok", "unchanged", None, False)
    # A new bundle name in the shell, the same rendered text: recorded as bytes, not news.
    rebuilt = SHELL.replace(b"app.js", b"app.3f2a9c.js")
    moved = judge.judge(capture(rebuilt, INFORME), history(good(SHELL, INFORME)), probe=None)
    assert (moved.state, moved.reason, moved.change) == ("ok", "unchanged", "bytes")


def test_an_edit_outside_the_rendered_main_content_is_boilerplate(judge) -> None:
    def framed(notice: str) -> bytes:
        return INFORME.replace(b"</main>", f"</main><section><p>{notice}</p></section>".encode())

    judged = judge.judge(capture(SHELL, framed("Aviso: mantenimiento el lunes.")),
                         history(good(SHELL, framed("Aviso: nuevo horario de atención."))), probe=None)
    assert (judged.state, judged.reason, judged.change) == ("ok", "unchanged", "boilerplate")


def test_rendering_for_the_first_time_is_not_a_change_of_the_page(judge) -> None:
    """The first run had no Chromium (the shell was judged); now the page is rendered. The
    two are compared on the HTML both have: the same shell is ``ok``, with a signal that
    the rendering changed, and the DOM's fingerprint is kept for the next run."""
    judged = judge.judge(capture(SHELL, INFORME), history(good(SHELL)), probe=None)
    assert (judged.state, judged.reason, judged.change) == ("ok", "unchanged", None)
    assert "render_started" in judged.signals and judged.differs_from_first is False
    assert judged.fingerprint == meaning(INFORME, DOM_TYPE, None, WHEN).fingerprint
    # Another shell (server-rendered text in it changed) is a change, judged on that HTML.
    edited = SHELL.replace(b"<div id=\"root\"></div>", b"<div id=\"root\"><p>Aviso de privacidad actualizado.</p></div>")
    other = judge.judge(capture(edited, INFORME), history(good(SHELL)), probe=None)
    assert (other.state, other.change) == ("changed", "text") and "render_started" in other.signals


def test_a_failed_render_is_judged_on_its_html_with_a_signal(judge) -> None:
    server_page = b"<html><head><title>Plan</title></head><body><main><p>Texto del plan.</p></main></body></html>"
    judged = judge.judge(capture(server_page, outcome=FAILED), history(good(server_page)), probe=None)
    assert (judged.state, judged.reason) == ("ok", "unchanged")
    assert judged.signals == ["render_failed"]
    assert judged.fingerprint == good(server_page).fingerprint


def test_a_capped_render_is_judged_on_its_dom(judge) -> None:
    item = capture(SHELL, INFORME, outcome=CAPPED)
    judged = judge.judge(item, TargetHistory(1), probe=None)
    assert judged.fingerprint == meaning(INFORME, DOM_TYPE, None, WHEN).fingerprint and "render_failed" not in judged.signals


def test_a_rendered_page_whose_text_differs_is_rendered_again_to_learn_its_noise(judge) -> None:
    after = dom("Informe 2025", "Se construyeron 10 pozos en 2025.")
    assert judge.worth_a_second_fetch(capture(SHELL, after), history(good(SHELL, INFORME))) is not None
    # The same rendered text: no second render.
    assert judge.worth_a_second_fetch(capture(SHELL, INFORME), history(good(SHELL, INFORME))) is None
    # The last good capture was not rendered: the two are not alike, nothing to learn from.
    assert judge.worth_a_second_fetch(capture(SHELL, after), history(good(SHELL))) is None
    # An unrendered page that differs is fetched again, as before.
    plain = b"<html><body><main><p>Texto %d.</p></main></body></html>"
    assert judge.worth_a_second_fetch(capture(plain % 2), history(good(plain % 1))) is not None


# Soft 404s of an application: every path answers the same shell with 200.

NOT_FOUND_ES = dom("Portal", "La página que busca no existe o fue retirada.", heading="Página no encontrada")
NOT_FOUND_EN = dom("Portal", "The page you asked for does not exist.", heading="Page not found")


def probe(rendered: bytes | None) -> ProbeAnswer:
    page = meaning(rendered, DOM_TYPE, None, WHEN) if rendered is not None else meaning(SHELL, HTML, None, WHEN)
    return ProbeAnswer(PROBE, 200, PROBE, page, rendered=rendered is not None)


def test_a_real_rendered_page_is_not_a_soft_404_for_its_rendered_app_404_probe(judge) -> None:
    for app_404 in (NOT_FOUND_ES, NOT_FOUND_EN):
        judged = judge.judge(capture(SHELL, INFORME), TargetHistory(1), probe=probe(app_404))
        assert (judged.state, judged.reason) == ("ok", "first_capture"), judged.signals
        assert judged.signals == []


@pytest.mark.parametrize("app_404", [NOT_FOUND_ES, NOT_FOUND_EN])
def test_a_cited_path_the_app_now_renders_as_not_found_is_a_soft_404(judge, app_404: bytes) -> None:
    judged = judge.judge(capture(SHELL, app_404), history(good(SHELL, INFORME)), probe=probe(app_404))
    assert (judged.state, judged.reason) == ("gone", "soft_404")
    assert {"error_title", "probe_similar"} <= set(judged.signals)


def test_a_not_found_written_only_in_a_paragraph_is_told_by_the_probe(judge) -> None:
    """No heading says it: the rendered text alike to the probe's is what tells it."""
    quiet = dom("Consulta", "Lo sentimos, no hay resultados para esta dirección.", heading="Consulta")
    judged = judge.judge(capture(SHELL, quiet), history(good(SHELL, INFORME)), probe=probe(quiet))
    assert "error_title" not in judged.signals and "probe_similar" in judged.signals
    assert judged.state == "gone"


def test_shells_alike_are_not_a_soft_404(judge) -> None:
    """A rendered page against a probe whose render failed (its shell): not compared."""
    judged = judge.judge(capture(SHELL, INFORME), TargetHistory(1), probe=probe(None))
    assert judged.state == "ok" and judged.signals == []
    # Both judged on the shell (no browser at all): today's rule, a shell saying "loading"
    # for every path is alike to the probe's. Rendered, the same page is not.
    loading = SHELL.replace(b'<div id="root"></div>', b'<div id="root"><p>Cargando el portal de transparencia</p></div>')
    shell_probe = ProbeAnswer(PROBE, 200, PROBE, meaning(loading, HTML, None, WHEN))
    shell_only = judge.judge(capture(loading), TargetHistory(1), probe=shell_probe)
    assert "probe_similar" in shell_only.signals and shell_only.state == "gone"
    rendered = judge.judge(capture(loading, INFORME), TargetHistory(1), probe=probe(NOT_FOUND_ES))
    assert rendered.state == "ok" and rendered.signals == []
    # The application showed nothing beyond its shell for the page (its API was slow), and
    # the probe's render failed: the two say "loading" alike, which tells nothing of the
    # page; a rendered page is only compared with a rendered probe.
    stuck = judge.judge(capture(loading, loading), TargetHistory(1), probe=shell_probe)
    assert stuck.state == "ok" and stuck.signals == []


# An earlier rendered capture, re-made from its urn:dom: record (real WARC records).

def _warc(tmp_path: Path, records: list[tuple[str, str, bytes, str]]) -> list[int]:
    """Write ``(type, target URI, block, content type)`` records, one gzip member each, as
    the project's store does; their offsets."""
    offsets = []
    path = tmp_path / "evidence-0.warc.gz"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for kind, uri, block, content_type in records:
            offsets.append(handle.tell())
            if kind == "response":
                head = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
                record = writer.create_warc_record(uri, "response", payload=io.BytesIO(block), http_headers=head)
            else:
                record = writer.create_warc_record(uri, kind, payload=io.BytesIO(block), warc_content_type=content_type)
            writer.write_record(record)
    return offsets


def test_an_earlier_rendered_capture_is_remade_from_its_dom_record(judge, counted, tmp_path: Path) -> None:
    shell_at, dom_at = _warc(tmp_path, [("response", URL, SHELL, HTML), ("resource", f"urn:dom:{URL}", INFORME, DOM_TYPE)])
    # Made under other rules (an old extractor): it must be re-made, from the DOM, not the shell.
    earlier = good(SHELL, INFORME, basis="html-1;noise=0", warc_offset=shell_at, dom_offset=dom_at)
    judged = judge.judge(capture(SHELL, INFORME), history(earlier), probe=None)
    assert (judged.state, judged.reason) == ("ok", "unchanged"), judged.signals
    assert "evidence/text/rebased" in counted
    # A row pointing at the shell's record as if it were the DOM: refused, the bytes compared.
    wrong = good(SHELL, INFORME, basis="html-1;noise=0", warc_offset=shell_at, dom_offset=shell_at, capture_id=2)
    unread = CaptureJudge(tmp_path, gone_after=3).judge(capture(SHELL, INFORME), history(wrong), probe=None)
    assert "previous_unreadable" in unread.signals


def test_an_unrendered_capture_after_a_rendered_one_is_compared_on_the_html(judge, tmp_path: Path) -> None:
    """Rendering stopped (Chromium removed, ``--browser never``): the earlier capture's HTML
    is read back from its response record, and the same shell is no change."""
    shell_at, dom_at = _warc(tmp_path, [("response", URL, SHELL, HTML), ("resource", f"urn:dom:{URL}", INFORME, DOM_TYPE)])
    earlier = good(SHELL, INFORME, warc_offset=shell_at, dom_offset=dom_at)
    judged = judge.judge(capture(SHELL), history(earlier), probe=None)
    assert (judged.state, judged.reason) == ("ok", "unchanged")
    assert "render_stopped" in judged.signals and judged.differs_from_first is False
    failed = judge.judge(capture(SHELL, outcome=FAILED), history(earlier), probe=None)
    assert (failed.state, failed.reason) == ("ok", "unchanged")
    assert {"render_stopped", "render_failed"} <= set(failed.signals)


# Real crawls of tests/jssite.py in headless Chromium: every /app/ path answers one
# byte-identical shell, and the application fetches its text from /api/page.

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

INFORME_PATH, AGUA, POZOS, REPORT = "/app/informe", "/app/compromisos/agua", "/app/programas/pozos", "/app/en/report"
PLAIN_PATH = "/plain/"
QUOTE = "Se instalaron 100 medidores de agua en comunidades rurales"


def _screenshots(archive: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Every ``urn:screenshot:`` record's (date, PNG) per URL, read with warcio, not evidence."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    for path in sorted(archive.glob("*.warc.gz*")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "resource" and uri.startswith("urn:screenshot:"):
                    date = record.rec_headers.get_header("WARC-Date")
                    found.setdefault(uri.removeprefix("urn:screenshot:"), []).append((date, record.content_stream().read()))
    return found


def _latest(workspace: Workspace, url: str) -> dict[str, Any]:
    rows = json.loads(workspace.run("history", url, "--json").stdout)
    return next(row for row in rows if row["source"] == "live")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, JsSite, list[dict[str, Any]]]]:
    """Three runs: rendered; rendered after the application's texts changed (the shell did
    not); without the browser. The latest rows of each URL after each run."""
    workspace = Workspace(tmp_path_factory.mktemp("browser-verdicts"))
    with JsSite() as site:
        site.pages[POZOS] = {"title": "Programa de pozos", "paragraphs": ["Se perforaron 12 pozos profundos en 2018."]}
        site.pages[REPORT] = {"title": "Water report", "paragraphs": ["The ministry published the water quality data in March."]}
        urls = [site.url(path) for path in (INFORME_PATH, AGUA, POZOS, REPORT, PLAIN_PATH)]
        doc = workspace.path / "informe.md"
        doc.write_text("".join(f"{n}. Véase {url}\n" for n, url in enumerate(urls, 1)), encoding="utf-8")
        runs: list[dict[str, Any]] = []
        first = workspace.crawl(str(doc), "--browser", "auto")
        assert first.returncode == 0, first.stderr[-3000:]
        runs.append({url: _latest(workspace, url) for url in urls})
        pinned = workspace.run("pin", site.url(INFORME_PATH), "--quote", QUOTE)
        assert pinned.returncode == 0, pinned.stderr
        runs[0]["pin"] = json.loads(workspace.run("pins", site.url(INFORME_PATH), "--json").stdout)

        # One word of the main text, in Spanish and in English; a page the app no longer has.
        site.pages[INFORME_PATH]["paragraphs"] = [  # type: ignore[index]
            "Se instalaron 100 contadores de agua en comunidades rurales.",
            "El presupuesto ejercido fue de 12 millones de pesos.",
        ]
        site.pages[REPORT]["paragraphs"] = ["The ministry withdrew the water quality data in March."]  # type: ignore[index]
        del site.pages[POZOS]
        into_next_second()
        site.log.clear()
        second = workspace.crawl("--browser", "auto")
        assert second.returncode == 1, second.stderr[-3000:]
        runs.append({url: _latest(workspace, url) for url in urls})
        runs[1]["pin"] = json.loads(workspace.run("pins", site.url(INFORME_PATH), "--json").stdout)
        runs[1]["shell requests"] = [headers for method, path, headers, _ in site.log if path == INFORME_PATH]

        into_next_second()
        site.log.clear()
        third = workspace.crawl("--browser", "never")
        assert third.returncode in (0, 1), third.stderr[-3000:]
        runs.append({url: _latest(workspace, url) for url in urls})
        runs[2]["shell requests"] = [headers for method, path, headers, _ in site.log if path == INFORME_PATH]
        yield workspace, site, runs


@needs_chromium
def test_rendered_pages_are_judged_on_what_the_application_shows(crawled) -> None:
    workspace, site, runs = crawled
    first, second = runs[0], runs[1]
    informe, agua, pozos, report = (site.url(p) for p in (INFORME_PATH, AGUA, POZOS, REPORT))
    # The first run: every application page rendered, none taken for a soft 404 although
    # the rendered probe of each shape is the app's own "Página no encontrada".
    for url in (informe, agua, pozos, report):
        assert (first[url]["state"], first[url]["reason"], first[url]["render"]) == ("ok", "first_capture", "rendered"), url
        assert first[url]["signals"] == [], url
    probes = sqlite3.connect(workspace.db).execute("SELECT url, render, http_status FROM probes WHERE run_id = 1").fetchall()
    app = [(render, status) for url, render, status in probes if "/app/" in url]
    assert app and all(answer == ("rendered", 200) for answer in app), probes
    # The server-rendered page's probe was not rendered: it answered a real 404.
    assert [(render, status) for url, render, status in probes if "/app/" not in url] == [(None, 404)]
    # The shell was byte-identical in both runs: only the rendered text tells the changes.
    assert second[informe]["payload_digest"] == first[informe]["payload_digest"] == first[agua]["payload_digest"]
    assert (second[informe]["state"], second[informe]["change"]) == ("changed", "text")
    assert (second[report]["state"], second[report]["change"]) == ("changed", "text")
    # Unchanged twice: ok, nothing recorded as changed, no alarm.
    assert (second[agua]["state"], second[agua]["reason"], second[agua]["change"], second[agua]["signals"]) == (
        "ok", "unchanged", None, [])
    # The cited page the application now renders as not found.
    assert (second[pozos]["state"], second[pozos]["reason"]) == ("gone", "soft_404")
    assert {"error_title", "probe_similar"} <= set(second[pozos]["signals"])


@needs_chromium
def test_a_server_rendered_page_is_not_rendered_under_auto_and_says_so(crawled) -> None:
    workspace, site, runs = crawled
    plain = site.url(PLAIN_PATH)
    assert runs[0][plain]["render"] is None and runs[1][plain]["state"] == "ok"
    status = {row["url"]: row for row in json.loads(workspace.run("status", "--json").stdout)}
    assert status[site.url(AGUA)]["render"] is None  # the last run was --browser never
    csv_rows = list(csv.DictReader(io.StringIO(workspace.run("status", "--csv").stdout)))
    assert {row["url"]: row["render"] for row in csv_rows}[plain] == ""
    history = workspace.run("history", site.url(AGUA)).stdout.splitlines()
    assert history[0].split()[-1] == "render" and history[-1].split()[-1] == "rendered"


@needs_chromium
def test_pins_are_checked_on_the_rendered_text(crawled) -> None:
    _, _, runs = crawled
    # The quote is nowhere in the shell: it holds on what the application showed ...
    assert [pin["claim"] for pin in runs[0]["pin"]] == ["holds"]
    # ... and one word of it changed there.
    assert [pin["claim"] for pin in runs[1]["pin"]] == ["partial"]


@needs_chromium
def test_rendering_stopped_is_no_change_of_the_page(crawled) -> None:
    """The third run had no browser: each page is compared with the rendered capture before
    it on the HTML both have (the same shell), and says rendering stopped."""
    _, site, runs = crawled
    for path in (INFORME_PATH, AGUA, REPORT):
        row = runs[2][site.url(path)]
        assert (row["state"], row["reason"], row["render"]) == ("ok", "unchanged", None), (path, row)
        assert "render_stopped" in row["signals"]


@needs_chromium
def test_diff_shows_the_rendered_text(crawled) -> None:
    workspace, site, runs = crawled
    latest = runs[1][site.url(INFORME_PATH)]["checked_at"]
    out = workspace.run("diff", site.url(INFORME_PATH), "--to", latest)
    assert out.returncode == 0, out.stderr
    assert "-Se instalaron 100 medidores de agua en comunidades rurales." in out.stdout
    assert "+Se instalaron 100 contadores de agua en comunidades rurales." in out.stdout
    assert out.stdout.count("rendered)") == 2


@needs_chromium
def test_show_screenshot_writes_the_archived_png_byte_for_byte(crawled) -> None:
    workspace, site, runs = crawled
    url = site.url(INFORME_PATH)
    archived = _screenshots(workspace.archive)[url]
    # The first run's, the second's, and the second run's second render (its text had
    # changed, so it was rendered once more to learn its noise).
    assert len(archived) == 3 and archived[0][1] != archived[1][1]
    shot = workspace.path / "shot.png"
    # The latest rendered capture's own (the third run rendered nothing).
    done = workspace.run("show", url, "--screenshot", "-o", str(shot))
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes() == archived[1][1] and shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # --at: the first run's.
    early = workspace.run("show", url, "--screenshot", "--at", runs[0][url]["checked_at"], "-o", str(shot))
    assert early.returncode == 0, early.stderr
    assert shot.read_bytes() == archived[0][1]
    # Never rendered: one line, exit 2, nothing written.
    plain = workspace.path / "plain.png"
    missing = workspace.run("show", site.url(PLAIN_PATH), "--screenshot", "-o", str(plain))
    assert missing.returncode == 2 and not plain.exists()
    assert len(missing.stderr.strip().splitlines()) == 1 and "no screenshot" in missing.stderr
    assert workspace.run("show", url, "--screenshot", "--raw").returncode == 2


@needs_chromium
def test_a_rendered_capture_is_not_compared_with_an_unrendered_memento(tmp_path: Path) -> None:
    """Drift since citation: the web archive holds the shell as served, never rendered. The
    shell is byte-identical today, so a comparison of bytes (``--browser never``) says
    ``same`` whatever the application shows; a rendered capture has no equal terms with the
    memento, and says ``unknown`` rather than a ``same`` it cannot know."""
    import subprocess
    import urllib.request

    from tests.tools import Wayback, tool
    from tests.webarchive import Capture as Memento, write_warc

    with JsSite() as site:
        with urllib.request.urlopen(site.url("/app/informe")) as answer:
            shell = answer.read()
        folder = tmp_path / "pywb"
        folder.mkdir()
        memento = Memento("/app/informe", datetime(2017, 5, 2, 10, 0, tzinfo=timezone.utc), 200, shell)
        write_warc(folder / "app-2017.warc.gz", site.url(""), (memento,))
        for args in (["init", "web"], ["add", "web", str(folder / "app-2017.warc.gz")]):
            subprocess.run([tool("wb-manager"), *args], cwd=folder, check=True, capture_output=True)
        with Wayback(folder) as wayback:
            archives = f"http://127.0.0.1:{wayback.port}/web/"
            seen = {}
            for mode in ("never", "always"):
                workspace = Workspace(tmp_path / mode)
                workspace.path.mkdir()
                doc = workspace.path / "informe.md"
                doc.write_text(f"Informe[^1].\n\n[^1]: {site.url('/app/informe')} (consultado el 3 de mayo de 2017)\n",
                               encoding="utf-8")
                crawled = workspace.crawl(str(doc), "--browser", mode, env=workspace.env(EVIDENCE_ARCHIVES=archives))
                assert crawled.returncode == 0, crawled.stderr
                listed = workspace.run("status", "--json")
                (row,) = json.loads(listed.stdout)
                assert row["memento_url"], row
                seen[mode] = row["since_citation"]
    assert seen == {"never": "same", "always": "unknown"}


@needs_chromium
def test_a_page_rendered_last_time_is_fetched_whole_not_answered_304(crawled) -> None:
    """The shell has an ETag and answers 304 to it: a conditional request would get no
    document to render, while the page the shell builds changed (see the second run)."""
    _, _, runs = crawled
    # (the second night's text changed, so the page was rendered once more: two requests)
    assert runs[1]["shell requests"] and all("If-None-Match" not in headers for headers in runs[1]["shell requests"])
    # Not rendered, the page is re-checked with the validator as any other.
    (plain,) = runs[2]["shell requests"]
    assert plain.get("If-None-Match", "").startswith('"')


@needs_chromium
def test_a_shell_answered_304_is_rendered_from_its_archived_original(tmp_path: Path) -> None:
    """The first run could not render (no browser then); the second asks with the shell's
    validator, gets 304, and renders the original the 304 vouches for, read back from the
    archive: no byte of the shell fetched again, the page it builds captured all the same."""
    workspace = Workspace(tmp_path)
    with JsSite() as site:
        url = site.url(INFORME_PATH)
        doc = workspace.path / "informe.md"
        doc.write_text(f"1. Véase {url}\n", encoding="utf-8")
        first = workspace.crawl(str(doc), "--browser", "never")
        assert first.returncode == 0, first.stderr[-2000:]
        into_next_second()
        site.log.clear()
        second = workspace.crawl("--browser", "auto")
        assert second.returncode == 0, second.stderr[-2000:]
        (shell,) = [headers for method, path, headers, _ in site.log if path == INFORME_PATH]
        assert shell.get("If-None-Match", "").startswith('"')
        assert site.hits["/static/app.js"] >= 1  # the page and its rendered probe
    latest = _latest(workspace, url)
    assert (latest["http_status"], latest["render"], latest["state"]) == (304, "rendered", "ok")
    assert "render_started" in latest["signals"]
    (picture,) = _screenshots(workspace.archive)[url]
    assert picture[1].startswith(b"\x89PNG\r\n\x1a\n")
    shown = workspace.run("diff", url)
    assert shown.returncode == 0, shown.stderr


@needs_chromium
def test_a_rotating_notice_in_a_rendered_page_is_learned_as_noise_and_an_edit_is_still_changed(tmp_path: Path) -> None:
    """The application changes one line of its text on every request (no number in it for
    the masks to blank). The second run's text differs from the first's: the page is
    rendered once more, the line that differs between the two renders is noise, and the
    page is ``ok``; the next night a one-word edit of the real text is ``changed``."""
    workspace = Workspace(tmp_path)
    path = "/app/avisos"
    with JsSite() as site:
        site.pages[path] = {
            "title": "Avisos de la Secretaría",
            "paragraphs": ["El padrón de beneficiarios se publica cada trimestre."],
            # Two tips in turn: both are seen in one night's two renders. (With more, the
            # lines learned grow night by night, as they do for a page not rendered.)
            "rotating": ["Consejo del día: cierre la llave al lavarse los dientes.",
                         "Campaña permanente de detección de fugas en su colonia."],
        }
        url = site.url(path)
        doc = workspace.path / "informe.md"
        doc.write_text(f"1. Véase {url}\n", encoding="utf-8")
        runs = []
        for night in range(3):
            if night == 2:
                site.pages[path]["paragraphs"] = ["El padrón de beneficiarios se publica cada semestre."]
            into_next_second()
            crawled = workspace.crawl(str(doc), "--browser", "always", "-s", "EVIDENCE_PROBE_ENABLED=0")
            assert crawled.returncode in (0, 1), crawled.stderr[-3000:]
            runs.append((crawled.returncode, _latest(workspace, url)))
    (_, first), (quiet, second), (news, third) = runs
    assert first["reason"] == "first_capture"
    assert (quiet, second["state"]) == (0, "ok"), second
    assert "noise_learned" in second["signals"]
    assert (news, third["state"], third["change"]) == (1, "changed", "text"), third
    # Every render is archived: one the first night, then two a night (the text differed
    # from the night before each time, so each was rendered once more).
    assert len(_screenshots(workspace.archive)[url]) == 5
