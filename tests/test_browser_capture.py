"""Browser capture (crawler/browser/): real crawls of the JavaScript site (tests/jssite.py)
rendered in Debian's Chromium, read back from the WARC with warcio and FastWARC."""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.browser.detect import examine, looks_script_built
from tests.conftest import Workspace
from tests.jssite import METADATA_URL, JsSite

CHROMIUM = "/usr/bin/chromium"

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)


@dataclass
class Rec:
    type: str
    uri: str
    headers: dict[str, str]
    http_status: int | None
    body: bytes


def warc_records(workspace: Workspace) -> list[Rec]:
    out = []
    for path in workspace.warc_files():
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                status = int(record.http_headers.get_statuscode()) if record.rec_type == "response" and record.http_headers else None
                out.append(Rec(
                    record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or "",
                    dict(record.rec_headers.headers), status, record.content_stream().read(),
                ))
    return out


def fastwarc_uris(workspace: Workspace) -> list[tuple[str, str]]:
    fastwarc = pytest.importorskip("fastwarc.warc")
    out = []
    for path in workspace.warc_files():
        with open(path, "rb") as stream:
            for record in fastwarc.ArchiveIterator(stream, parse_http=False):
                out.append((record.headers.get("WARC-Type"), record.headers.get("WARC-Target-URI") or ""))
    return out


def rows(workspace: Workspace, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workspace.db) as db:
        return list(db.execute(sql, args))


def capture_of(workspace: Workspace, url: str) -> dict[str, Any]:
    with sqlite3.connect(workspace.db) as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT c.* FROM captures c JOIN targets t ON t.id = c.target_id WHERE t.url = ? ORDER BY c.id DESC", (url,)
        ).fetchone()
    assert row is not None, url
    return dict(row)


def document(workspace: Workspace, urls: list[str]) -> str:
    doc = workspace.path / "informe.md"
    doc.write_text("# Informe\n\n" + "".join(f"{i}. Disponible en: <{url}>\n" for i, url in enumerate(urls, 1)), encoding="utf-8")
    return str(doc)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, JsSite, Any]]:
    """One crawl under the default ``auto``: a JavaScript app, a page with every kind of
    sub-resource, a page reaching for private addresses, and a server-rendered page."""
    workspace = Workspace(tmp_path_factory.mktemp("browser"))
    with JsSite() as site:
        urls = [site.url(path) for path in ("/app/informe", "/rich/", "/leak/", "/plain/")]
        result = workspace.crawl(document(workspace, urls), "-s", "EVIDENCE_BROWSER_TIMEOUT=10")
        yield workspace, site, result


@needs_chromium
def test_a_script_built_page_is_rendered_with_every_sub_resource_archived(crawled: tuple[Workspace, JsSite, Any]) -> None:
    workspace, site, result = crawled
    assert result.returncode in (0, 1), result.stderr[-3000:]
    records = warc_records(workspace)
    exchanged = {(r.type, r.uri) for r in records}
    for path in ("/static/rich.css", "/static/fondo.png", "/static/rich.js", "/static/second.js", "/static/logo.png",
                 "/static/moved.png", "/static/logo.png?via=moved", "/api/echo"):
        assert ("request", site.url(path)) in exchanged, path
        assert ("response", site.url(path)) in exchanged or ("revisit", site.url(path)) in exchanged, path
    # The redirect is archived as it was answered, and its target as a request of its own.
    assert [r.http_status for r in records if r.type == "response" and r.uri == site.url("/static/moved.png")] == [302]
    # The POST went with the body the script gave it.
    (echo,) = [r for r in records if r.type == "request" and r.uri == site.url("/api/echo")]
    assert echo.body == b'{"consulta":"agua","pagina":2}'
    assert [body for method, path, _, body in site.log if path == "/api/echo"] == [b'{"consulta":"agua","pagina":2}']
    # Each fetched once for the capture (the logo asked for twice, by two <img>s and a redirect).
    assert site.hits["/static/second.js"] == 1 and site.hits["/api/echo"] == 1

    page = {r.uri: r for r in records if r.type == "response"}[site.url("/rich/")]
    shots = [r for r in records if r.uri == f"urn:screenshot:{site.url('/rich/')}"]
    assert len(shots) == 1 and shots[0].type == "resource" and shots[0].headers["Content-Type"] == "image/png"
    width, height = png_size(shots[0].body)
    assert width == 1280 and height >= 900
    for prefix in ("urn:screenshot:", "urn:dom:", "urn:text:"):
        (record,) = [r for r in records if r.uri == prefix + site.url("/rich/")]
        assert record.headers["WARC-Concurrent-To"] == page.headers["WARC-Record-ID"]
    (text,) = [r for r in records if r.uri == f"urn:text:{site.url('/rich/')}"]
    assert "Segundo guion cargado." in text.body.decode() and '"consulta":"agua"' in text.body.decode()

    # FastWARC reads the same records.
    assert ("resource", f"urn:dom:{site.url('/app/informe')}") in fastwarc_uris(workspace)


@needs_chromium
def test_the_rendered_text_and_the_database_point_at_the_records(crawled: tuple[Workspace, JsSite, Any]) -> None:
    workspace, site, _ = crawled
    records = warc_records(workspace)
    (text,) = [r for r in records if r.uri == f"urn:text:{site.url('/app/informe')}"]
    assert "Se instalaron 100 medidores de agua en comunidades rurales." in text.body.decode("utf-8")
    (dom,) = [r for r in records if r.uri == f"urn:dom:{site.url('/app/informe')}"]
    assert b'<div id="root"><h1>Informe de resultados 2017</h1>' in dom.body

    capture = capture_of(workspace, site.url("/app/informe"))
    assert capture["render"] == "rendered" and capture["render_error"] is None
    assert capture["dom_filename"] and capture["dom_offset"] is not None
    with open(workspace.archive / capture["dom_filename"], "rb") as stream:
        stream.seek(capture["dom_offset"])
        record = next(iter(ArchiveIterator(stream)))
        assert record.rec_headers.get_header("WARC-Target-URI") == f"urn:dom:{site.url('/app/informe')}"
    resources = rows(workspace, "SELECT target_uri FROM records WHERE capture_id = ? AND record_type = 'resource'", capture["id"])
    assert sorted(uri for (uri,) in resources) == sorted(
        f"{prefix}{site.url('/app/informe')}" for prefix in ("urn:dom:", "urn:screenshot:", "urn:text:")
    )
    query = "SELECT target_uri FROM records WHERE capture_id = ? AND record_type = 'request'"
    subs = {uri for (uri,) in rows(workspace, query, capture["id"])}
    assert site.url("/static/app.js") in subs and site.url("/api/page?path=%2Fapp%2Finforme") in subs
    # The soft-404 probe of a rendered page was rendered too (it got the app's own 404).
    probes = rows(workspace, "SELECT p.render, p.url FROM probes p JOIN captures c ON c.probe_id = p.id WHERE c.id = ?", capture["id"])
    assert probes and probes[0][0] == "rendered" and "/app/" in probes[0][1]
    # ... and what the browser showed of it is archived as a page's is, its rows with the probe.
    probe_url = probes[0][1]
    (probe_text,) = [r for r in records if r.uri == f"urn:text:{probe_url}"]
    assert "Página no encontrada" in probe_text.body.decode("utf-8")
    query = "SELECT r.target_uri FROM records r JOIN probes p ON r.probe_id = p.id WHERE p.url = ? AND r.record_type = 'resource'"
    assert sorted(uri for (uri,) in rows(workspace, query, probe_url)) == sorted(
        f"{prefix}{probe_url}" for prefix in ("urn:dom:", "urn:screenshot:", "urn:text:")
    )


@needs_chromium
def test_a_server_rendered_page_is_not_rendered_under_auto(crawled: tuple[Workspace, JsSite, Any]) -> None:
    workspace, site, _ = crawled
    capture = capture_of(workspace, site.url("/plain/"))
    assert capture["render"] is None and capture["dom_filename"] is None
    assert site.hits["/static/analytics.js"] == 0
    assert not [r for r in warc_records(workspace) if r.uri.endswith(site.url("/plain/")) and r.type == "resource"]


@needs_chromium
def test_a_page_cannot_make_the_crawler_reach_private_addresses(crawled: tuple[Workspace, JsSite, Any]) -> None:
    workspace, site, _ = crawled
    # --allow-private (the workspace's) lets the cited page's own origin through, not another port.
    assert site.other_hits == {}, site.other_hits
    capture = capture_of(workspace, site.url("/leak/"))
    assert capture["render"] == "rendered"
    assert "browser_refused" in capture["signals"]
    records = warc_records(workspace)
    (meta,) = [r for r in records if r.type == "metadata" and r.uri.endswith(f":{site.url('/leak/')}")]
    fields = meta.body.decode()
    assert f"browser-refused: private_address {site.other_url('/secreto')}" in fields
    assert f"browser-refused: private_address {METADATA_URL}" in fields
    # Nothing was archived as fetched from either.
    assert not [r for r in records if r.uri.startswith((site.other_url("/"), "http://169.254.169.254"))]
    (text,) = [r for r in records if r.uri == f"urn:text:{site.url('/leak/')}"]
    assert "Conjuntos de datos del gobierno federal." in text.body.decode()


@needs_chromium
def test_a_page_that_never_goes_idle_is_capped(workspace: Workspace) -> None:
    with JsSite() as site:
        started = time.monotonic()
        result = workspace.crawl(
            document(workspace, [site.url("/busy/")]), "--browser", "always",
            "-s", "EVIDENCE_BROWSER_TIMEOUT=4", "-s", "EVIDENCE_PROBE_ENABLED=0",
        )
        took = time.monotonic() - started
        assert result.returncode in (0, 1), result.stderr[-3000:]
        polls = site.hits["/api/poll"]
    capture = capture_of(workspace, site.url("/busy/"))
    assert capture["render"] == "capped" and "render_capped" in capture["signals"]
    assert polls >= 5
    # The crawl's own start and end, plus the cap and its reserve for the screenshot.
    assert took < 4 + 5 + 20, took
    (shot,) = [r for r in warc_records(workspace) if r.uri == f"urn:screenshot:{site.url('/busy/')}"]
    assert png_size(shot.body)[0] == 1280
    assert shot.headers["WARC-Evidence-Render"] == "capped"


def _kill_browsers_of(workspace: Workspace) -> int:
    """SIGKILL every Chromium process descended from the crawl running in ``workspace``."""
    procs: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                procs[int(entry.name)] = (int(fields[1]), (entry / "comm").read_text().strip())
            except (OSError, IndexError, ValueError):
                continue

    def crawl_ancestor(pid: int) -> bool:
        while pid > 1 and pid in procs:
            try:
                if os.readlink(f"/proc/{pid}/cwd") == str(workspace.path) and "python" in procs[pid][1]:
                    return True
            except OSError:
                pass
            pid = procs[pid][0]
        return False

    killed = 0
    for pid, (_, comm) in procs.items():
        if "chrom" in comm and crawl_ancestor(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


@needs_chromium
def test_a_browser_crash_fails_that_render_and_the_crawl_goes_on(workspace: Workspace) -> None:
    killed: list[int] = []
    with JsSite() as site:
        site.on_hit("/api/slow", lambda: killed.append(_kill_browsers_of(workspace)))
        result = workspace.crawl(
            document(workspace, [site.url("/wait/?s=2"), site.url("/app/compromisos/agua")]), "--browser", "always",
            "-s", "EVIDENCE_BROWSER_CONCURRENCY=1", "-s", "CONCURRENT_REQUESTS=1", "-s", "EVIDENCE_PROBE_ENABLED=0",
            "-s", "EVIDENCE_BROWSER_TIMEOUT=10",
        )
        log = [path for _, path, _, _ in site.log]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert killed and killed[0] > 0
    crashed = capture_of(workspace, site.url("/wait/?s=2"))
    assert crashed["render"] == "failed" and crashed["render_error"] == "browser_crashed"
    assert crashed["http_status"] == 200  # the capture itself stands
    after = capture_of(workspace, site.url("/app/compromisos/agua"))
    assert after["render"] == "rendered", after
    # Rendered after the crash, by a fresh browser.
    assert log.index("/api/page?path=%2Fapp%2Fcompromisos%2Fagua") > log.index("/api/slow?s=2")
    (text,) = [r for r in warc_records(workspace) if r.uri == f"urn:text:{site.url('/app/compromisos/agua')}"]
    assert "La meta es publicar los datos de calidad del agua cada mes." in text.body.decode()


@needs_chromium
def test_browser_never_renders_nothing(workspace: Workspace) -> None:
    with JsSite() as site:
        result = workspace.crawl(document(workspace, [site.url("/app/informe")]), "--browser", "never")
        assert result.returncode in (0, 1), result.stderr[-3000:]
        assert site.hits["/static/app.js"] == 0 and site.hits["/api/page"] == 0
    assert capture_of(workspace, site.url("/app/informe"))["render"] is None
    assert not [r for r in warc_records(workspace) if r.type == "resource"]


def test_browser_always_without_the_executable_exits_2_in_one_line(workspace: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-chromium"
    result = workspace.run(
        "crawl", document(workspace, ["http://127.0.0.1:9/"]), "--browser", "always",
        env=workspace.env(EVIDENCE_BROWSER_PATH=str(missing)),
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "apt-get install chromium" in lines[0] and str(missing) in lines[0]
    assert not workspace.db.exists()


def test_browser_auto_without_the_executable_warns_once_and_goes_on(workspace: Workspace) -> None:
    with JsSite() as site:
        result = workspace.crawl(
            document(workspace, [site.url("/app/informe"), site.url("/app/compromisos/agua")]),
            env=workspace.env(EVIDENCE_BROWSER_PATH="/nonexistent/chromium"),
        )
        assert result.returncode in (0, 1), result.stderr[-3000:]
        assert site.hits["/static/app.js"] == 0
    warnings = [line for line in result.stderr.splitlines() if "without rendering" in line]
    assert len(warnings) == 1 and "apt-get install chromium" in warnings[0]
    assert capture_of(workspace, site.url("/app/informe"))["state"]


# -- the ``auto`` heuristic, on shells unlike the test site's --

CRA = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"/><link rel="icon" href="/favicon.ico"/>
<title>Open Data Portal</title><script defer="defer" src="/static/js/main.8f3c1a2b.js"></script>
<link href="/static/css/main.4e2a.css" rel="stylesheet"></head><body><noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root"></div></body></html>"""

ANGULAR = b"""<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Sistema de Solicitudes</title>
<base href="/"><link rel="stylesheet" href="styles.3ff695c00d717f2d.css"></head>
<body><app-root></app-root>
<script src="runtime.3a2d.js" type="module"></script><script src="polyfills.9b1c.js" type="module"></script>
<script src="main.77e1.js" type="module"></script></body></html>"""

VUE = """<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Tablero de obra pública</title>
<script type="module" crossorigin src="/assets/index-4d2f.js"></script></head>
<body><div id="app"><div class="cargando">Cargando…</div></div>
<noscript><strong>Lo sentimos, esta página no funciona correctamente sin JavaScript habilitado.</strong></noscript>
</body></html>""".encode()

NEXT_SSR = ("""<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Compromiso 5</title>
<script src="/_next/static/chunks/webpack-1.js" defer=""></script><script src="/_next/static/chunks/main-2.js" defer=""></script>
</head><body><div id="__next"><header><nav>Inicio · Compromisos</nav></header><main><h1>Compromiso 5: agua limpia</h1>"""
            + "<p>La Comisión Nacional del Agua publicará mensualmente los datos de calidad del agua de 2,500 "
              "puntos de monitoreo, con sus métodos de medición y las observaciones de los comités ciudadanos.</p>" * 4
            + """</main></div><script id="__NEXT_DATA__" type="application/json">{"props":{}}</script></body></html>""").encode()

GOV = ("""<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Secretaría de la Función Pública</title>
<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script><script src="/js/jquery.min.js"></script>
<script src="/js/menu.js"></script></head><body><div id="app-header">Gobierno de México</div>
<h1>Programa de Mejora de la Gestión</h1>"""
       + "<p>El programa establece compromisos para la mejora de trámites y servicios en la Administración Pública "
         "Federal, con indicadores de cumplimiento publicados cada trimestre.</p>" * 3
       + "<noscript>Para ver el mapa interactivo active JavaScript.</noscript></body></html>").encode()

ENGLISH_STATIC = b"""<html><head><title>Annual report</title></head><body><h1>Annual report 2017</h1>
<p>The department met 14 of its 16 commitments. The remaining two were postponed to the next plan.</p></body></html>"""

EMBER_EMPTY_BODY = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Transparency</title>
<script src="/assets/vendor-1a.js"></script><script src="/assets/transparency-2b.js"></script></head><body></body></html>"""


@pytest.mark.parametrize(
    ("name", "html", "expected"),
    [
        ("create-react-app shell", CRA, True),
        ("angular app-root", ANGULAR, True),
        ("vue with a loading placeholder and a Spanish noscript", VUE, True),
        ("ember: scripts and an empty body", EMBER_EMPTY_BODY, True),
        ("next.js rendered on the server", NEXT_SSR, False),
        ("government page with a few scripts and a noscript for its map", GOV, False),
        ("static page without scripts", ENGLISH_STATIC, False),
    ],
)
def test_auto_renders_only_pages_built_by_script(name: str, html: bytes, expected: bool) -> None:
    assert looks_script_built(html) is expected, (name, examine(html))


def test_auto_reads_a_gzipped_shell() -> None:
    import gzip

    assert looks_script_built(gzip.compress(CRA), "gzip")


@needs_chromium
@pytest.mark.parametrize(("setting", "reason"), [
    ("EVIDENCE_BROWSER_PAGES=1", "EVIDENCE_BROWSER_PAGES=1"),
    # No Chromium runs in 64 MB: past the first page, every page gets a fresh browser.
    ("EVIDENCE_BROWSER_MEMORY_MB=64", "more than EVIDENCE_BROWSER_MEMORY_MB=64"),
])
def test_the_browser_is_restarted_past_its_page_count_or_memory(workspace: Workspace, setting: str, reason: str) -> None:
    with JsSite() as site:
        urls = [site.url(path) for path in ("/app/informe", "/app/compromisos/agua", "/rich/")]
        result = workspace.crawl(
            document(workspace, urls), "--browser", "always", "-v",
            "-s", setting, "-s", "EVIDENCE_PROBE_ENABLED=0", "-s", "EVIDENCE_BROWSER_CONCURRENCY=1",
        )
        assert result.returncode in (0, 1), result.stderr[-3000:]
    restarts = [line for line in result.stderr.splitlines() if "restarting the browser after 1 pages" in line]
    assert len(restarts) == 2 and all(reason in line for line in restarts), result.stderr[-3000:]
    for url in urls:
        assert capture_of(workspace, url)["render"] == "rendered"


@needs_chromium
def test_a_rendered_pages_requests_go_before_the_pages_queued_for_its_host(workspace: Workspace) -> None:
    """One host, one request at a time, 0.2 s apart, thirty pages queued behind the app:
    the render's script and JSON are the host's next requests, not the last ones, so the
    page does not hold its render slot for the whole queue (the host's pace is unchanged)."""
    with JsSite() as site:
        plain = [site.url(f"/plain/?i={i}") for i in range(30)]
        result = workspace.crawl(
            document(workspace, [site.url("/app/informe"), *plain]), "--browser", "auto",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "DOWNLOAD_DELAY=0.2", "-s", "AUTOTHROTTLE_ENABLED=0",
            "-s", "EVIDENCE_PROBE_ENABLED=0", "-s", "EVIDENCE_NOISE_REFETCH=0",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        order = [path.split("?")[0] for _, path, _, _ in site.log]
    assert capture_of(workspace, site.url("/app/informe"))["render"] == "rendered"
    before_script = order[:order.index("/static/app.js")].count("/plain/")
    before_data = order[:order.index("/api/page")].count("/plain/")
    assert before_script <= 8 and before_data <= 12, order
