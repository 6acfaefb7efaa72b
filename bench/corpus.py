"""The benchmark's local web: N hosts on distinct loopback addresses, served by nginx.

Each host is one address (127.0.0.2, 127.0.0.3, ...) so that per-host politeness in every
contender sees 100 different hosts, as a crawl of real citations does. nginx serves the
files straight from disk with ETag and Last-Modified (so a re-check can get 304s); the
latency shape delays each answer with the echo module's ``echo_sleep`` before handing the
request to the static file handler, which costs nginx no CPU while it waits.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

WORDS = (
    "gobierno abierto plan de accion compromiso transparencia rendicion cuentas agua "
    "clima cambio datos publicos secretaria funcion publica informe avance indicador "
    "meta programa social evaluacion participacion ciudadana sociedad civil resultados "
    "tablero consulta documento anexo reglamento presupuesto federal estatal municipal"
).split()

NGINX_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"


@dataclass(frozen=True)
class Corpus:
    root: Path
    urls: list[str]
    bytes_total: int


def _html(rng: random.Random, size: int, title: str) -> bytes:
    paragraphs: list[str] = []
    length = 0
    while length < size:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120)))
        paragraph = f"<p>{text}.</p>\n"
        paragraphs.append(paragraph)
        length += len(paragraph)
    head = (
        f"<!doctype html><html lang=es><head><meta charset=utf-8><title>{title}</title>"
        "<link rel=stylesheet href=/s.css></head><body><nav><a href=/>Inicio</a> "
        "<a href=/transparencia>Transparencia</a></nav><main>"
    )
    return (head + f"<h1>{title}</h1>\n" + "".join(paragraphs) + "</main></body></html>\n").encode()


def _pdf_templates(rng: random.Random, count: int) -> list[bytes]:
    """Real PDFs with text (the verdict extracts it), made with reportlab."""
    from io import BytesIO

    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    templates = []
    for number in range(count):
        out = BytesIO()
        page = canvas.Canvas(out, pagesize=letter)
        for _ in range(rng.randint(1, 6)):
            y = 740
            for _ in range(40):
                page.drawString(40, y, " ".join(rng.choice(WORDS) for _ in range(12)))
                y -= 17
            page.showPage()
        page.setTitle(f"Informe {number}")
        page.save()
        templates.append(out.getvalue())
    return templates


def build(root: Path, hosts: int, pages_per_host: int, port: int, seed: int = 8) -> Corpus:
    """Write the corpus under ``root/<address>/`` and return its URLs in crawl order."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    pdfs = _pdf_templates(rng, 12)
    urls: list[str] = []
    total = 0
    big_left = 10  # a few large files over the whole corpus, as reports cite datasets
    for h in range(hosts):
        address = f"127.0.0.{h + 2}"
        folder = root / address / "docs"
        folder.mkdir(parents=True)
        for p in range(pages_per_host):
            roll = rng.random()
            if big_left and p == pages_per_host - 1 and h % (hosts // 10 or 1) == 0:
                name, body = f"datos-{p}.zip", os.urandom(8 * 1024 * 1024)
                big_left -= 1
            elif roll < 0.04:
                # A distinct PDF per URL: a template plus a trailing comment after %%EOF.
                body = rng.choice(pdfs) + f"\n%{h}-{p}\n".encode()
                name = f"informe-{p}.pdf"
            else:
                size = int(rng.choice((2, 4, 8, 12, 20, 30, 50, 80)) * 1024 * rng.uniform(0.7, 1.3))
                name, body = f"pagina-{p}.html", _html(rng, size, f"Pagina {p} de {address}")
            (folder / name).write_bytes(body)
            total += len(body)
            urls.append(f"http://{address}:{port}/docs/{name}")
    # Interleave hosts as citations in many reports would (not 100 in a row from one host).
    urls.sort(key=lambda url: (int(url.rsplit("-", 1)[1].split(".")[0]), url))
    return Corpus(root=root, urls=urls, bytes_total=total)


def build_pages(root: Path, hosts: int, pages_per_host: int, port: int, seed: int = 8) -> Corpus:
    """HTML pages only, under last path segments with dots that are not extensions, as
    sites cite them: ``/page/127.0.0.2-8`` and ``/docs/v1.8-final``, half each per host.
    nginx serves them as text/html (its ``default_type``). URLs in crawl order, hosts
    taking turns."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    urls: list[str] = []
    total = 0
    for p in range(pages_per_host):
        for h in range(hosts):
            address = f"127.0.0.{h + 2}"
            path = f"page/{address}-{p}" if p % 2 == 0 else f"docs/v1.{p}-final"
            size = int(rng.choice((2, 4, 8, 12, 20, 30)) * 1024 * rng.uniform(0.7, 1.3))
            body = _html(rng, size, f"Pagina {p} de {address}")
            (root / address / path).parent.mkdir(parents=True, exist_ok=True)
            (root / address / path).write_bytes(body)
            total += len(body)
            urls.append(f"http://{address}:{port}/{path}")
    return Corpus(root=root, urls=urls, bytes_total=total)


def nginx_config(root: Path, workdir: Path, hosts: int, port: int, latency_ms: int) -> str:
    listens = "\n".join(f"        listen 127.0.0.{h + 2}:{port};" for h in range(hosts))
    if latency_ms:
        location = (
            f"        location / {{ echo_sleep {latency_ms / 1000:.3f}; echo_exec @file; }}\n"
            "        location @file { }\n"
        )
    else:
        location = "        location / { }\n"
    return f"""load_module {NGINX_MODULE};
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ text/html html; application/pdf pdf; application/zip zip; }}
    # Names without an extension (build_pages) are pages; every other file has its type above.
    default_type text/html;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
{listens}
        root {root}/$server_addr;
{location}    }}
}}
"""


class Nginx:
    """nginx on every host address; ``with Nginx(...)`` starts it and stops it."""

    def __init__(self, root: Path, workdir: Path, hosts: int, port: int, latency_ms: int) -> None:
        self.workdir = workdir
        self.port = port
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "nginx.conf"
        self.config.write_text(nginx_config(root, workdir, hosts, port, latency_ms))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self.process = subprocess.Popen(
            ["nginx", "-c", str(self.config), "-p", str(self.workdir), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.2:{self.port}/", timeout=1)  # noqa: S310
            except urllib.error.HTTPError:
                return self  # a 403/404 answer: it is up
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"nginx did not start: see {self.workdir}/error.log") from None
                time.sleep(0.05)
            else:
                return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def require_nginx() -> None:
    if shutil.which("nginx") is None or not Path(NGINX_MODULE).exists():
        raise SystemExit(
            "bench needs Debian's nginx and its echo module: "
            "apt-get install nginx-light libnginx-mod-http-echo"
        )
