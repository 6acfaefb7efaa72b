"""The soft-404 probe's cost: one probe per URL shape and host, whatever dots a page's
name has, and probes answered 404 pace their slot like a page's 200 does."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from crawler.verdicts.soft404 import probe_key, probe_url
from tests.conftest import Workspace
from tests.mockserver import html
from tests.pdfs import make_pdf

# Names whose last dot starts no extension: an address, a version, a date.
DOTTED = ["127.0.0.2-8", "v1.2-final", "informe.2017.final", "10.0.0.1-3"]
EXTENSIONS = {"report.pdf": ".pdf", "page.aspx": ".aspx", "x.html": ".html", "datos.xlsx": ".xlsx", "NOTA.PDF": ".PDF"}


@pytest.mark.parametrize("name", DOTTED)
def test_dots_in_a_name_make_no_extension(name: str) -> None:
    url = f"http://127.0.0.1/publicaciones/{name}"
    probe = urlsplit(probe_url(url) or "").path.rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-z]{25}", probe), probe
    # Every such name of a folder is one shape: one probe for all of them.
    assert probe_key(url) == "http://127.0.0.1/publicaciones/*"


@pytest.mark.parametrize(("name", "suffix"), EXTENSIONS.items())
def test_a_short_alphanumeric_suffix_is_an_extension(name: str, suffix: str) -> None:
    url = f"http://127.0.0.1/publicaciones/{name}"
    probe = urlsplit(probe_url(url) or "").path.rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-z]{25}" + re.escape(suffix), probe), probe
    assert probe_key(url) == f"http://127.0.0.1/publicaciones/*{suffix.lower()}"


# A site of pages in five folders (shapes), each answering after 20 ms; any other path
# answers 404 at once after the same wait, as a site that reports missing pages does.
PDF = make_pdf(["Informe anual", "Cifras del programa."])
PAGES = {
    "/informes/127.0.0.2-8": "text/html", "/informes/127.0.0.2-9": "text/html", "/informes/10.0.0.1-3": "text/html",
    "/docs/v1.2-final": "text/html", "/docs/v1.3-final": "text/html", "/docs/informe.2017.final": "text/html",
    "/aspx/consulta.aspx": "text/html", "/aspx/detalle.aspx": "text/html",
    "/html/x.html": "text/html", "/html/y.html": "text/html",
    "/pdf/report.pdf": "application/pdf",
}
SHAPES = {"/informes/", "/docs/", "/aspx/", "/html/", "/pdf/"}


class _Site(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(0.02)
        kind = PAGES.get(self.path)
        if kind == "application/pdf":
            status, body = 200, PDF
        elif kind is not None:
            status, body = 200, html(f"Publicación {self.path}", f"Contenido propio de {self.path} en este sitio.")
            kind = "text/html; charset=utf-8"
        else:
            status, body, kind = 404, html("No encontrado", "La página solicitada no existe."), "text/html; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def _serving(address: str) -> Iterator[str]:
    server = ThreadingHTTPServer((address, 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_DEBUG_LINE = re.compile(r"slot: (?P<slot>\S+(?: \(probes\))?) \| conc:\s*\d+ \| delay:\s*(?P<delay>\d+) ms")


def test_probes_answered_404_do_not_slow_their_host(workspace: Workspace) -> None:
    with _serving("127.0.0.1") as first, _serving("127.0.0.2") as second:
        urls = [base + path for path in PAGES for base in (first, second)]
        report = workspace.path / "informe.md"
        report.write_text("".join(f"{n}. Ver {url}\n" for n, url in enumerate(urls, 1)), encoding="utf-8")
        # Not workspace.crawl: the probes' slot must start at the shipped 1 s start delay.
        result = workspace.run(
            "crawl", str(report), "--timeout", "5",
            "-s", "AUTOTHROTTLE_DEBUG=True", "-s", "LOG_LEVEL=INFO",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(workspace.db) as connection:
        probes = connection.execute("SELECT url, http_status FROM probes").fetchall()
    # One probe per shape and host: dotted names are not a shape each.
    per_host = Counter(urlsplit(url).hostname for url, _ in probes)
    assert per_host == {"127.0.0.1": len(SHAPES), "127.0.0.2": len(SHAPES)}, probes
    assert {status for _, status in probes} == {404}
    # Each probe answer leaves its slot at the server's pace (20 ms here), not at the
    # 1 s start delay that a 404 taken for an error never lowers.
    delays: dict[str, list[int]] = {}
    for line in (result.stdout + result.stderr).splitlines():
        if match := _DEBUG_LINE.search(line):
            delays.setdefault(match["slot"], []).append(int(match["delay"]))
    for host in ("127.0.0.1", "127.0.0.2"):
        probe_slot = delays[f"{host} (probes)"]
        assert len(probe_slot) == len(SHAPES)
        assert max(probe_slot) < 500, delays
        # The pages' own slot: measured on its 200s and untouched by the probes.
        assert max(delays[host]) < 500, delays
