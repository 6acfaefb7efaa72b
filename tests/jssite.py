"""A site built by JavaScript for the browser-capture tests, served in the test's own
process on 127.0.0.1 (random ports), so a test can change its content between two crawls
and count what reached it.

- ``/app/<anything>``: one HTML shell, byte-identical for every path (an empty
  ``<div id="root">``, ``/static/app.js`` and a ``<noscript>`` asking for JavaScript).
  app.js asks ``/api/page?path=<location.pathname>`` and writes the title and paragraphs
  into the root; a path missing from ``JsSite.pages`` gets ``{"found": false}``, which the
  script renders as "Página no encontrada" (the app's own 404, answered 200).
- ``/leak/``: a shell whose script fetches ``JsSite.other_url("/secreto")`` (127.0.0.1 on a
  second listener, whose hits are ``JsSite.other_hits``) and ``http://169.254.169.254/...``;
  both must be refused before any connection. It still renders its own text.
- ``/busy/``: a shell whose script polls ``/api/poll`` every 200 ms for ever: network idle
  never comes.
- ``/plain/``: a server-rendered page with real text and one small script.
- ``/rich/``: a shell with an image, a stylesheet (whose background image is another
  sub-resource), a script that loads a second script, an image behind a 302
  (``/static/moved.png`` -> ``/static/logo.png``) and a POST to ``/api/echo`` whose answer
  (the body the server received) is rendered.
- ``/wait/?s=N``: a shell whose text arrives from ``/api/slow?s=N`` after N seconds (a
  render long enough for a test to kill the browser in the middle of it).

``hits`` counts every path (query left out) of the main listener; ``on_hit`` runs a
test's callback (in the server's thread) when a path is first asked for.
"""

from __future__ import annotations

import hashlib

import json
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

#: What a crawl must never reach: a link-local metadata address (nothing listens there).
METADATA_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


def png(width: int, height: int, rgb: tuple[int, int, int] = (30, 90, 160)) -> bytes:
    """A valid, solid-colour PNG (written by hand: the tests need no imaging library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


SHELL = """<!DOCTYPE html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plataforma de Transparencia</title>
<link rel="icon" href="data:,">
</head>
<body>
<noscript>Necesita habilitar JavaScript para usar esta aplicación.</noscript>
<div id="root"></div>
<script src="/static/{bundle}"></script>
</body>
</html>
"""

APP_JS = r"""
(function () {
  var root = document.getElementById('root');
  function show(page) {
    var h1 = document.createElement('h1');
    h1.textContent = page.found ? page.title : 'Página no encontrada';
    document.title = h1.textContent;
    root.appendChild(h1);
    var paragraphs = page.found ? page.paragraphs : ['La página que busca no existe o fue movida.'];
    paragraphs.forEach(function (text) {
      var p = document.createElement('p');
      p.textContent = text;
      root.appendChild(p);
    });
  }
  fetch('/api/page?path=' + encodeURIComponent(location.pathname), {headers: {'Accept': 'application/json'}})
    .then(function (r) { return r.json(); })
    .then(show)
    .catch(function (e) { root.textContent = 'Error: ' + e; });
})();
"""

LEAK_JS = r"""
(function () {
  var root = document.getElementById('root');
  root.innerHTML = '<h1>Datos abiertos</h1><p>Conjuntos de datos del gobierno federal.</p>';
  function tryFetch(url, id) {
    fetch(url).then(function (r) { return r.text(); })
      .then(function (t) { root.insertAdjacentHTML('beforeend', '<p id="' + id + '">leído: ' + t.length + '</p>'); })
      .catch(function () { root.insertAdjacentHTML('beforeend', '<p id="' + id + '">bloqueado</p>'); });
  }
  tryFetch(OTHER_URL, 'other');
  tryFetch(METADATA_URL, 'metadata');
  var img = new Image();
  img.src = OTHER_URL + '.png';
  document.body.appendChild(img);
})();
"""

BUSY_JS = r"""
(function () {
  var root = document.getElementById('root');
  root.innerHTML = '<h1>Tablero de indicadores</h1><p id="n">Actualizando en vivo.</p>';
  var n = 0;
  setInterval(function () {
    fetch('/api/poll?n=' + (n++)).then(function (r) { return r.text(); })
      .then(function (t) { document.getElementById('n').textContent = 'Actualizando en vivo: ' + t; });
  }, 200);
})();
"""

RICH_JS = r"""
(function () {
  var root = document.getElementById('root');
  root.innerHTML = '<h1>Informe anual</h1><p>Resultados del programa de agua potable.</p>'
    + '<img src="/static/logo.png" alt="logo"> <img src="/static/moved.png" alt="movida">';
  var s = document.createElement('script');
  s.src = '/static/second.js';
  document.body.appendChild(s);
  fetch('/api/echo', {method: 'POST', headers: {'Content-Type': 'application/json'},
                      body: JSON.stringify({consulta: 'agua', pagina: 2})})
    .then(function (r) { return r.json(); })
    .then(function (j) {
      var p = document.createElement('p');
      p.id = 'echo';
      p.textContent = 'El servidor recibió: ' + j.body;
      root.appendChild(p);
    });
})();
"""

SECOND_JS = r"""
(function () {
  var p = document.createElement('p');
  p.id = 'second';
  p.textContent = 'Segundo guion cargado.';
  document.getElementById('root').appendChild(p);
})();
"""

WAIT_JS = r"""
(function () {
  var root = document.getElementById('root');
  fetch('/api/slow' + location.search).then(function (r) { return r.text(); })
    .then(function (t) { root.innerHTML = '<h1>Consulta lenta</h1><p>' + t + '</p>'; });
})();
"""

RICH_CSS = "body { font-family: sans-serif; background: url('/static/fondo.png') repeat-x; } h1 { color: #036; }\n"

PLAIN = """<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>Programa Nacional de Agua</title>
<script src="/static/analytics.js"></script></head>
<body><header><nav><a href="/">Inicio</a> | <a href="/plain/">Programas</a></nav></header>
<main><h1>Programa Nacional de Agua</h1>
<p>El programa atiende a 1,200 comunidades rurales con sistemas de captación de agua de lluvia,
instalados entre 2016 y 2018 con participación de los comités comunitarios.</p>
<p>Las metas del compromiso incluyen la publicación trimestral de avances y la evaluación
independiente de los resultados por una institución académica.</p>
</main><footer>Gobierno de México</footer></body></html>
"""


class JsSite:
    def __init__(self) -> None:
        #: path -> {"title": ..., "paragraphs": [...]}: what app.js renders; change it
        #: between crawls (the shell stays byte-identical)
        self.pages: dict[str, dict[str, object]] = {
            "/app/informe": {
                "title": "Informe de resultados 2017",
                "paragraphs": [
                    "Se instalaron 100 medidores de agua en comunidades rurales.",
                    "El presupuesto ejercido fue de 12 millones de pesos.",
                ],
            },
            "/app/compromisos/agua": {
                "title": "Compromiso 5: agua limpia",
                "paragraphs": ["La meta es publicar los datos de calidad del agua cada mes."],
            },
        }
        self.hits: Counter[str] = Counter()
        #: per path of /api/page, how many times it was answered (for a page's "rotating" notice)
        self.served: Counter[str] = Counter()
        #: every request's (method, path with query, headers, body), in arrival order
        self.log: list[tuple[str, str, dict[str, str], bytes]] = []
        self.other_hits: Counter[str] = Counter()
        self.hooks: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.other = _Server(("127.0.0.1", 0), self._other_handler())
        self.port = self.server.server_address[1]
        self.other_port = self.other.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def other_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.other_port}{path}"

    def on_hit(self, path: str, hook: Callable[[], None]) -> None:
        """Run ``hook`` (in the server's thread, before answering) when ``path`` is first asked for."""
        self.hooks[path] = hook

    def __enter__(self) -> JsSite:
        for server in (self.server, self.other):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in (self.server, self.other):
            server.shutdown()
            server.server_close()

    # -- the pages --

    def _answer(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        path, query = url.path, parse_qs(url.query)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._lock:
            self.hits[path] += 1
            first = self.hits[path] == 1
            self.log.append((h.command, h.path, dict(h.headers.items()), body))
        hook = self.hooks.get(path) if first else None
        if hook is not None:
            hook()
        js = "application/javascript; charset=utf-8"
        if path.startswith("/app/"):
            # As a static host (nginx, a CDN) serves an application's shell: with a validator,
            # and 304 to a request that holds it. The shell never changes; the page does.
            shell = SHELL.format(bundle="app.js").encode()
            etag = '"' + hashlib.sha256(shell).hexdigest()[:16] + '"'
            if h.headers.get("If-None-Match") == etag:
                h.send(304, b"", headers=[("ETag", etag)])
            else:
                h.send(200, shell, headers=[("ETag", etag)])
        elif path == "/leak/":
            h.send(200, SHELL.format(bundle="leak.js").encode())
        elif path == "/busy/":
            h.send(200, SHELL.format(bundle="busy.js").encode())
        elif path == "/rich/":
            shell = SHELL.format(bundle="rich.js").replace("</head>", '<link rel="stylesheet" href="/static/rich.css">\n</head>')
            h.send(200, shell.encode())
        elif path == "/wait/":
            h.send(200, SHELL.format(bundle="wait.js").encode())
        elif path == "/plain/":
            h.send(200, PLAIN.encode())
        elif path == "/static/app.js":
            h.send(200, APP_JS.encode(), js)
        elif path == "/static/leak.js":
            prelude = f"var OTHER_URL = {json.dumps(self.other_url('/secreto'))}; var METADATA_URL = {json.dumps(METADATA_URL)};\n"
            h.send(200, (prelude + LEAK_JS).encode(), js)
        elif path == "/static/busy.js":
            h.send(200, BUSY_JS.encode(), js)
        elif path == "/static/rich.js":
            h.send(200, RICH_JS.encode(), js)
        elif path == "/static/second.js":
            h.send(200, SECOND_JS.encode(), js)
        elif path == "/static/wait.js":
            h.send(200, WAIT_JS.encode(), js)
        elif path == "/static/analytics.js":
            h.send(200, b"window.dataLayer = window.dataLayer || [];\n", js)
        elif path == "/static/rich.css":
            h.send(200, RICH_CSS.encode(), "text/css; charset=utf-8")
        elif path == "/static/logo.png":
            h.send(200, png(40, 20), "image/png")
        elif path == "/static/fondo.png":
            h.send(200, png(4, 4, (240, 240, 250)), "image/png")
        elif path == "/static/moved.png":
            h.send(302, b"", "text/plain", [("Location", "/static/logo.png?via=moved")])
        elif path == "/api/page":
            wanted = query.get("path", [""])[0]
            page = self.pages.get(wanted)
            payload = {"found": True, **page} if page is not None else {"found": False, "error": "not found"}
            if page is not None and page.get("rotating"):
                # A notice the application changes on every request (today's tip, a promo).
                with self._lock:
                    self.served[wanted] += 1
                    turn = self.served[wanted]
                rotating = list(page["rotating"])  # type: ignore[arg-type]
                payload["paragraphs"] = [*payload["paragraphs"], rotating[turn % len(rotating)]]  # type: ignore[list-item]
                del payload["rotating"]
            h.send(200, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8")
        elif path == "/api/poll":
            h.send(200, str(time.time()).encode(), "text/plain")
        elif path == "/api/echo":
            h.send(200, json.dumps({"method": h.command, "body": body.decode("utf-8", "replace")}).encode(), "application/json")
        elif path == "/api/slow":
            time.sleep(min(float(query.get("s", ["3"])[0]), 30.0))
            h.send(200, "Resultados de la consulta.".encode(), "text/plain; charset=utf-8")
        else:
            h.send(404, b"<!DOCTYPE html><html><body><h1>404</h1></body></html>")

    def _handler(self) -> type[_Handler]:
        site = self

        class Handler(_Handler):
            def do_GET(self) -> None:
                site._answer(self)

            do_POST = do_GET
            do_HEAD = do_GET

        return Handler

    def _other_handler(self) -> type[_Handler]:
        site = self

        class Handler(_Handler):
            def do_GET(self) -> None:
                with site._lock:
                    site.other_hits[urlsplit(self.path).path] += 1
                self.send(200, b"secreto interno", "text/plain")

            do_POST = do_GET

        return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "JsGov/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
             headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A render cut off at its cap drops connections mid-answer: part of the script.
        pass
