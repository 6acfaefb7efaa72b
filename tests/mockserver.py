"""A scripted government-like web site for the tests, served on 127.0.0.1 (random port).

Run as a subprocess (``python tests/mockserver.py``): it binds port 0, prints its base
URL on the first line of stdout and serves until killed, as Scrapy's own test suite
does with its mock server. ``MockServer`` wraps that for the tests.

The site has two versions: ``POST /_control/version/N`` switches it, and some pages
change, vanish or move between versions, as government pages do between two runs.
"""

from __future__ import annotations

import gzip
import json
import random
import secrets
import socket
import zlib
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

try:
    from tests.pdfs import make_pdf
except ImportError:  # run as a script: tests/ is the script's own folder
    from pdfs import make_pdf  # type: ignore[no-redef]

# A one-page PDF with a text layer; served gzip-encoded to test that `show` returns
# these exact bytes.
PDF_BYTES = make_pdf(["Nota técnica", "Programa Nacional de Exhumaciones."])


def html(title: str, body: str) -> bytes:
    return (
        f"<!DOCTYPE html><html lang='es'><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{body}</p></body></html>"
    ).encode("utf-8")


class State:
    def __init__(self) -> None:
        self.version = 1
        self.hits: dict[str, int] = {}
        #: (time.time(), path) of every request, in arrival order
        self.log: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.log.append((time.time(), path))
            return self.hits[path]


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockGov/1.0"

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def send(self, status: int, body: bytes, headers: list[tuple[str, str]] = (), reason: str | None = None) -> None:  # type: ignore[assignment]
        self.send_response(status, reason)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        if parts[:2] == ["_control", "version"]:
            STATE.version = int(parts[2])
            self.send(200, b"ok", [("Content-Type", "text/plain")])
        else:
            self.send(404, b"no such control")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query, keep_blank_values=True)
        if path == "/_control/hits":
            self.send(200, json.dumps(STATE.hits).encode(), [("Content-Type", "application/json")])
            return
        if path == "/_control/log":
            self.send(200, json.dumps(STATE.log).encode(), [("Content-Type", "application/json")])
            return
        count = STATE.hit(path)
        version = STATE.version
        route = ROUTES.get(path)
        if route is None and path.startswith("/aspx/pagina"):
            route = _unchanged
        elif route is None and path.startswith("/soft/"):
            route = _soft_any
        elif route is None and path.startswith("/lazy/"):
            route = _lazy_pdf
        elif route is None and path.startswith("/pdfsoft/"):
            route = _pdf_soft_404
        if route is not None:
            route(self, version, count, query)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.send(code, html(f"Error {code}", "Esta página no existe."))
        else:
            self.send(404, html("Página no encontrada", "Error 404"))


def _stable(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(
        200,
        html("Plan de Acción 2016-2018", "Compromisos del Tercer Plan de Acción."),
        [("Set-Cookie", "ASP.NET_SessionId=abc; path=/"), ("X-Powered-By", "ASP.NET"), ("Set-Cookie", "lang=es; path=/")],
        reason="Everything Fine",
    )


def _changing(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    text = "Meta: 100 medidores instalados." if version == 1 else "Meta: 40 medidores instalados."
    h.send(200, html("Avance del compromiso", text))


def _vanishing(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, html("Nota técnica", "Programa Nacional de Exhumaciones."))
    else:
        h.send(404, html("Página no encontrada", "Error 404"))


def _withdrawn(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, html("Directorio", "Titulares de los Órganos Internos de Control."))
    else:
        h.send(410, html("Gone", "Retirado."))


def _relocated(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, html("Gobierno abierto", "Contenido del compromiso de agua."))
    else:
        h.send(301, b"", [("Location", "/nuevo/gobierno-abierto")])


def _relocated_target(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(200, html("Gobierno abierto (nuevo sitio)", "Contenido del compromiso de agua."))


def _slash(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(301, b"", [("Location", "/dir/")])


def _dir(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(200, html("Índice", "Documentos."))


def _pdf(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(
        200,
        gzip.compress(PDF_BYTES, mtime=0),
        [("Content-Type", "application/pdf"), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
    )


def _flaky(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if count == 1:
        h.send(503, html("Servicio no disponible", "Intente más tarde."), [("Retry-After", "0")])
    else:
        h.send(200, html("Portal", "De vuelta."))


def _down(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(503, html("Servicio no disponible", "Mantenimiento."))


def _slow(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    try:
        delay = min(float(query.get("s", ["5"])[0]), 30.0)
    except ValueError:
        delay = 0.0
    # ?until=N: slow before version N only. A test that stops a crawl needs it slow; the
    # run after, which only has to finish, need not wait a second per URL.
    if "until" in query and version >= int(query["until"][0]):
        delay = 0.0
    time.sleep(delay)
    h.send(200, html("Lento", "Por fin."))


def _echo(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    # Without Cookie: whether /plan's cookies are already in the jar when /echo is asked
    # for depends on timing, and the page would change between identical runs.
    headers = [(name, value) for name, value in h.headers.items() if name.lower() != "cookie"]
    h.send(200, json.dumps({"path": h.path, "headers": headers}).encode(), [("Content-Type", "application/json")])


def _chunked(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for part in (b"primera parte, ", b"segunda parte"):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
    h.wfile.write(b"0\r\n\r\n")


def _big(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    size = int(query.get("n", ["1000000"])[0])
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Content-Length", str(size))
    h.end_headers()
    # Pseudo-random bytes (fixed seed): they do not compress, so sizes on disk are real.
    block = random.Random(size).randbytes(1 << 16)
    sent = 0
    try:
        while sent < size:
            part = block[: min(len(block), size - sent)]
            h.wfile.write(part)
            sent += len(part)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client stopped reading at its cap, as it should


def _trickle(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """A slow loris: one byte at a time, each well within any per-read timeout."""
    size, every = int(query.get("n", ["100"])[0]), float(query.get("every", ["1"])[0])
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", str(size))
    h.end_headers()
    for _ in range(size):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(every)


def _short(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """Promises 1000 bytes, sends 100, hangs up."""
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b"y" * 100)
    h.wfile.flush()
    h.close_connection = True
    h.connection.shutdown(socket.SHUT_RDWR)


def _gzip_cut(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """A complete HTTP message whose gzip stream stops halfway."""
    whole = gzip.compress(html("Informe completo", "Primera mitad. " * 200 + "Segunda mitad."), mtime=0)
    h.send(200, whole[: len(whole) // 2], [("Content-Encoding", "gzip")])


def _odd(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """Bodies that trip naive readers: invalid UTF-8, binary as HTML, empty, 204."""
    kind = query.get("kind", ["utf8"])[0]
    if kind == "utf8":
        h.send(200, b"<html><head><meta charset='utf-8'><title>Inv\xe1lido</title></head><body>\xff\xfe caf\xe9</body></html>")
    elif kind == "binary":
        h.send(200, bytes(range(256)) * 8, [("Content-Type", "text/html; charset=utf-8")])
    elif kind == "charset":
        h.send(200, "<html><body>Acción</body></html>".encode("cp1252"), [("Content-Type", "text/html; charset=shift_jis")])
    elif kind == "empty":
        h.send(200, b"")
    else:
        h.send_response(204)
        h.end_headers()


_BOMBS: dict[str, bytes] = {}


def bomb(coding: str, size: int = 1 << 30) -> bytes:
    """``size`` bytes of zeros in ``coding``: a few kilobytes to megabytes on the wire."""
    if coding not in _BOMBS:
        zeros = bytes(1 << 20)
        if coding == "gzip":
            packer = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS + 16)
            parts = [packer.compress(zeros) for _ in range(size >> 20)] + [packer.flush()]
        elif coding == "br":
            import brotli

            compressor = brotli.Compressor(quality=1)
            parts = [compressor.process(zeros) for _ in range(size >> 20)] + [compressor.finish()]
        else:
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd  # type: ignore[no-redef]
            compressor = zstd.ZstdCompressor(level=1)
            parts = [compressor.compress(zeros) for _ in range(size >> 20)] + [compressor.flush()]
        _BOMBS[coding] = b"".join(parts)
    return _BOMBS[coding]


def _bomb(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    coding = query.get("coding", ["gzip"])[0]
    h.send(200, bomb(coding), [("Content-Encoding", coding), ("Content-Type", "text/html")])


def _reset(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """Promises 1000 bytes, sends 100, then resets the connection (RST, not FIN)."""
    import struct

    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b"z" * 100)
    h.wfile.flush()
    time.sleep(0.2)
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def _etag(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """Honours If-None-Match and If-Modified-Since, as well-run servers do."""
    tag, modified = f'"v{version}"', "Wed, 21 Nov 2018 10:00:00 GMT"
    if h.headers.get("If-None-Match") == tag:
        h.send_response(304)
        h.send_header("ETag", tag)
        h.end_headers()
        return
    h.send(200, html("Informe de autoevaluación", f"Versión {version}."), [("ETag", tag), ("Last-Modified", modified)])


def _to_file(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(302, b"", [("Location", "file:///etc/passwd")])


def _cookie_check(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    # A portal that first sets a session cookie and sends the visitor back to the page.
    if "visitante=1" in (h.headers.get("Cookie") or ""):
        h.send(200, html("Con sesión", "Contenido para visitantes con sesión."))
    else:
        h.send(302, b"", [("Location", "/cookie-check"), ("Set-Cookie", "visitante=1; path=/")])


def _loop(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(302, b"", [("Location", "/loop")])


# --- a government-like site with per-request noise, for the verdict tests -----------

BANNERS = ("Consulta el nuevo portal", "Aviso de privacidad actualizado", "Horario de atención")


def noisy(title: str, content: str) -> bytes:
    """An ASP.NET-style page whose bytes differ on every request while its text does not."""
    token = secrets.token_urlsafe(48)
    now = time.strftime("%d/%m/%Y %H:%M:%S")
    return (
        "<!DOCTYPE html><html lang='es'><head><meta charset='utf-8'>"
        f"<title>{title}</title><meta name='csrf-token' content='{secrets.token_hex(16)}'>"
        f"<script nonce='{secrets.token_hex(8)}'>var t = {time.time()}; var sid = '{secrets.token_hex(12)}';</script>"
        "<style>.b{color:#333}</style></head><body>"
        f"<header><div class='banner'>{random.choice(BANNERS)}</div>"
        f"<nav><a href='/?ASP.NET_SessionId={secrets.token_hex(12)}'>Inicio</a> | <a href='/transparencia'>Transparencia</a></nav></header>"
        f"<form method='post'><input type='hidden' name='__VIEWSTATE' value='{token}'>"
        f"<input type='hidden' name='__EVENTVALIDATION' value='{secrets.token_urlsafe(24)}'></form>"
        f"<!-- served by node {secrets.randbelow(64)} rid {secrets.token_hex(6)} -->"
        f"<main><h1>{title}</h1>{content}"
        f"<p class='consulta'>Fecha de consulta: {now} hrs. Folio de consulta {secrets.randbelow(10**10):010d}</p></main>"
        f"<footer>Última actualización del portal {now}. Visitas: {secrets.randbelow(10**7)}</footer>"
        "</body></html>"
    ).encode("utf-8")


SOFT_NOT_FOUND = "<p>El contenido que busca ya no está disponible en este portal.</p><p>Regrese al inicio.</p>"


def _home(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(200, noisy("Portal de Gobierno Abierto", "<p>Bienvenida al portal.</p>"))


def _robots(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    h.send(200, b"User-agent: *\nDisallow: /cerrado/\n", [("Content-Type", "text/plain")])


def _unchanged(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    number = h.path.rsplit("pagina", 1)[1].split(".")[0]
    content = f"<p>Compromiso {number}: informe de avance trimestral.</p><p>Meta {number}: {int(number) * 7} acciones.</p>"
    h.send(200, noisy(f"Compromiso {number}", content))


def _edited(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    goal = "100 medidores instalados" if version == 1 else "40 medidores instalados"
    h.send(200, noisy("Agua", f"<p>Meta comprometida: {goal}.</p>"))


def _gzip_restamped(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    # Same text, gzipped with a new timestamp each time: only the bytes change.
    body = gzip.compress(html("Datos abiertos", "Catálogo de datos."), mtime=int(time.time()) + count)
    h.send(200, body, [("Content-Encoding", "gzip")])


def _soft_any(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """Under /soft/ every unknown path answers 200 with a friendly page."""
    path = urlsplit(h.path).path
    real = {
        "/soft/directorio": ("Directorio", "<p>Titulares de los Órganos Internos de Control 2018.</p>"),
        "/soft/contacto": ("Contacto", "<p>Teléfono 55 1234.</p>"),
    }
    if version == 1:
        real["/soft/retirado"] = ("Protocolo", "<p>Protocolo homologado de búsqueda, versión 2017.</p>")
    if path in real:
        title, content = real[path]
        h.send(200, noisy(title, content))
    else:
        h.send(200, noisy("Portal", SOFT_NOT_FOUND))


def _error_title(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, noisy("Guion comentado", "<p>Índice comentado del documento final.</p>"))
    else:
        h.send(200, noisy("Error 404 - Página no encontrada", "<p>Lo sentimos.</p>"))


def _section(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, noisy("Lo bueno cuenta", "<p>Informe de gobierno.</p>"))
    else:
        h.send(302, b"", [("Location", "/")])


def _report_pdf(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, PDF_BYTES, [("Content-Type", "application/pdf")])
    else:
        h.send(200, noisy("Documentos", "<p>Consulte la sección de documentos.</p>"))


def _down_from_v2(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, noisy("Resultados", "<p>Tablero de resultados.</p>"))
    else:
        h.send(503, html("Servicio no disponible", "Intente más tarde."))


def _forbidden_from_v2(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 1:
        h.send(200, noisy("Normateca", "<p>Normateca sustantiva.</p>"))
    else:
        h.send(403, html("Acceso denegado", "No autorizado."))


def _down_in_v2(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 2:
        h.send(503, html("Servicio no disponible", "Mantenimiento."))
    else:
        h.send(200, noisy("Padrón", "<p>Padrón único de beneficiarios.</p>"))


def _back_in_v3(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 2:
        h.send(404, html("Página no encontrada", "Error 404"))
    else:
        h.send(200, noisy("Exhumaciones", "<p>Programa Nacional de Exhumaciones.</p>"))


def _maintenance(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    if version == 2:
        h.send(200, noisy("Sitio en mantenimiento", "<p>Volvemos pronto.</p>"))
    else:
        h.send(200, noisy("Cambio climático", "<p>Inventario de emisiones.</p>"))


def _flap(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """Present, gone, down, gone again, then back with other text: for acknowledgements."""
    if version in (2, 4):
        h.send(404, html("Página no encontrada", "Error 404"))
    elif version == 3:
        h.send(503, html("Servicio no disponible", "Intente más tarde."))
    else:
        h.send(200, html("Padrón", "Padrón de beneficiarios, versión uno." if version == 1 else "Padrón corregido."))


# PDFs over versions, for deferred text extraction (tests/test_lazy_pdf.py): each version
# is (lines, producer); a different producer alone gives other bytes and the same text.
LAZY_PDFS: dict[str, dict[int, tuple[list[str], str]]] = {
    # The same bytes every time.
    "/lazy/fijo.pdf": {1: (["Padrón de beneficiarios 2019."], "v1")},
    # Re-generated: other bytes, the same text.
    "/lazy/regenerado.pdf": {1: (["Informe anual.", "Meta: 100 medidores."], "v1"),
                             2: (["Informe anual.", "Meta: 100 medidores."], "v2")},
    # Edited in version 2, re-generated with the edit in version 3.
    "/lazy/editado.pdf": {1: (["Informe anual.", "Meta: 100 medidores."], "v1"),
                          2: (["Informe anual.", "Meta: 40 medidores."], "v2"),
                          3: (["Informe anual.", "Meta: 40 medidores."], "v3")},
    # Edited in version 2, back to the cited text (other bytes) in version 3.
    "/lazy/vuelta.pdf": {1: (["Programa de agua.", "Plazo: 2019."], "v1"),
                         2: (["Programa de agua.", "Plazo: 2021."], "v2"),
                         3: (["Programa de agua.", "Plazo: 2019."], "v3")},
}


def _lazy_pdf(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    path = urlsplit(h.path).path
    versions = LAZY_PDFS.get(path)
    if versions is None:
        h.send(404, html("Página no encontrada", "Error 404"))
        return
    lines, producer = versions[max(v for v in versions if v <= version)]
    h.send(200, make_pdf(lines, producer=producer), [("Content-Type", "application/pdf")])


def _pdf_soft_404(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """A host that answers every missing document with a "not found" PDF and 200."""
    if urlsplit(h.path).path == "/pdfsoft/real.pdf":
        h.send(200, make_pdf(["Lineamientos de transparencia.", "Capítulo uno."]), [("Content-Type", "application/pdf")])
    else:
        h.send(200, make_pdf(["Documento no encontrado."]), [("Content-Type", "application/pdf")])


# Reaches for the page around it too: a report that framed the copy without a sandbox would show it.
PWNED_SCRIPT = (
    "<script>for (const d of new Set([document, parent.document])) "
    "{d.title='PWNED'; d.body.insertAdjacentHTML('beforeend','<p id=pwned>PWNED</p>')}</script>"
)


def _pwned(h: Handler, version: int, count: int, query: dict[str, list[str]]) -> None:
    """A page whose script, image and (from version 2) visible text would act if a report let them."""
    text = "Meta: 10 acciones." if version == 1 else "Meta: 4 acciones. &lt;script&gt;document.title='PWNED'&lt;/script&gt;"
    beacon = f"<img src='http://{h.headers.get('Host')}/beacon.png' alt=''>"
    head = "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Avance</title></head>"
    body = f"{head}<body><p>{text}</p>{PWNED_SCRIPT}{beacon}</body></html>"
    h.send(200, body.encode("utf-8"))


ROUTES = {
    "/flap": _flap,
    "/pwned": _pwned,
    "/": _home,
    "/aspx/editado.aspx": _edited,
    "/aspx/datos": _gzip_restamped,
    "/clean/guion": _error_title,
    "/seccion/lobuenocuenta/": _section,
    "/docs/informe.pdf": _report_pdf,
    "/caido": _down_from_v2,
    "/prohibido": _forbidden_from_v2,
    "/intermitente": _down_in_v2,
    "/vuelve": _back_in_v3,
    "/mantenimiento": _maintenance,
    "/plan": _stable,
    "/avance": _changing,
    "/nota": _vanishing,
    "/directorio": _withdrawn,
    "/gobiernoabierto": _relocated,
    "/nuevo/gobierno-abierto": _relocated_target,
    "/dir": _slash,
    "/dir/": _dir,
    "/nota.pdf": _pdf,
    "/flaky": _flaky,
    "/down": _down,
    "/slow": _slow,
    "/echo": _echo,
    "/chunked": _chunked,
    "/big": _big,
    "/to-file": _to_file,
    "/etag": _etag,
    "/gzip-cut": _gzip_cut,
    "/bomb": _bomb,
    "/odd": _odd,
    "/trickle": _trickle,
    "/short": _short,
    "/reset": _reset,
    "/loop": _loop,
    "/cookie-check": _cookie_check,
    "/robots.txt": _robots,
}


class ProxyHandler(BaseHTTPRequestHandler):
    """A forward proxy that never forwards: every plain-HTTP URL gets a small page
    naming it, every CONNECT (HTTPS) is refused. Tests that crawl real-world URLs,
    such as the embedded seed's, point http_proxy/https_proxy here so that no
    request leaves the machine."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/_control/seen":
            self._answer(200, json.dumps(self.seen).encode(), "application/json")
            return
        self.seen.append(self.path)
        self._answer(200, html("Copia local", f"Página solicitada: {self.path}"))

    def do_CONNECT(self) -> None:
        self.seen.append(f"CONNECT {self.path}")
        self.send_response(403, "Tunnel refused by the test proxy")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True


class MockServer:
    """The site in a subprocess; ``url(path)`` gives an absolute URL on it."""

    def __init__(self, *, proxy: bool = False, tls: bool | str = False, address: str = "127.0.0.1") -> None:
        """``address``: another loopback address (127.0.0.2...) makes the site another host."""
        self.flags = (["--proxy"] if proxy else []) + ([f"--tls={tls if isinstance(tls, str) else ''}"] if tls else [])
        self.flags += [f"--bind={address}"]
        self.address = address

    def seen(self) -> list[str]:
        """What the proxy was asked for (proxy mode only)."""
        response = requests.get(self.url("/_control/seen"), timeout=5)
        response.raise_for_status()
        return list(response.json())

    def __enter__(self) -> MockServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *self.flags],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith((f"http://{self.address}:", f"https://{self.address}:")):
            self.proc.kill()
            raise RuntimeError(f"mock server did not start: {self.base!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.proc.kill()
        self.proc.wait()

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self) -> dict[str, int]:
        """How often each path was asked for (this question not counted)."""
        response = requests.get(self.url("/_control/hits"), timeout=5, verify=False)
        response.raise_for_status()
        return dict(response.json())

    def log(self) -> list[tuple[float, str]]:
        """When each path was asked for (server clock), in arrival order."""
        response = requests.get(self.url("/_control/log"), timeout=5, verify=False)
        response.raise_for_status()
        return [(float(when), str(path)) for when, path in response.json()]

    def set_version(self, version: int) -> None:
        requests.post(self.url(f"/_control/version/{version}"), timeout=5, verify=False).raise_for_status()


def self_signed_context(kind: str = "self-signed") -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1; ``expired``
    makes it a year out of date, ``wrong-host`` issues it for another name."""
    import datetime as dt
    import ipaddress
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400 if kind == "expired" else 1))
        .not_valid_after(now - dt.timedelta(days=35) if kind == "expired" else now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("portal.example.invalid")]
                if kind == "wrong-host"
                else [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp())
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (timeout, body cap) is part of the script, not an error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def main() -> None:
    handler = ProxyHandler if "--proxy" in sys.argv[1:] else Handler
    bind = [arg.partition("=")[2] for arg in sys.argv[1:] if arg.startswith("--bind=")]
    address = bind[0] if bind else "127.0.0.1"
    if not address.startswith("127."):
        raise SystemExit("the mock server only binds loopback addresses (127.x.y.z)")
    server = QuietServer((address, 0), handler)
    scheme = "http"
    tls = [arg for arg in sys.argv[1:] if arg.startswith("--tls")]
    if tls:
        kind = tls[0].partition("=")[2] or "self-signed"
        server.socket = self_signed_context(kind).wrap_socket(server.socket, server_side=True)
        scheme = "https"
    print(f"{scheme}://{address}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
