"""A site written by each test, unlike the scripted government site of mockserver.py: an
HTTP/1.0 server that sends no Content-Length and ends every body by closing the
connection, with pages the test sets as functions of how often they were fetched, so a
page can change on every request (a rotating promotion) or between runs (an edit)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from socketserver import StreamRequestHandler, ThreadingTCPServer

#: a page: (status, content type, body) for the n-th fetch of its path (1, 2, ...)
Page = Callable[[int], tuple[int, str, bytes]]
#: a page that sends its body itself: ``write`` takes bytes (for trickling servers)
Stream = Callable[[int, Callable[[bytes], None]], None]


class OpenSite:
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.streams: dict[str, tuple[str, Stream]] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        site = self

        class Handler(StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(65536).decode("latin-1")
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                parts = line.split()
                path = parts[1] if len(parts) >= 2 else "/"
                with site._lock:
                    site.hits[path] += 1
                    count = site.hits[path]
                if path in site.streams:
                    content_type, stream = site.streams[path]
                    self.wfile.write(f"HTTP/1.0 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode())
                    self.wfile.flush()
                    try:
                        stream(count, self._write)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                page = site.pages.get(path)
                status, content_type, body = page(count) if page else (404, "text/html", b"<html><body>no</body></html>")
                reason = {200: "OK", 404: "Not Found"}.get(status, "Whatever")
                head = f"HTTP/1.0 {status} {reason}\r\nServer: OpenSite\r\nContent-Type: {content_type}\r\n\r\n"
                self.wfile.write(head.encode("latin-1") + body)

            def _write(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()

        ThreadingTCPServer.allow_reuse_address = True
        self.server = ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page(self, path: str, page: Page) -> None:
        self.pages[path] = page

    def html(self, path: str, make: Callable[[int], str]) -> None:
        """An HTML page whose text is ``make(n)`` for the n-th fetch."""
        self.pages[path] = lambda n: (200, "text/html; charset=utf-8", make(n).encode("utf-8"))

    def stream(self, path: str, content_type: str, stream: Stream) -> None:
        self.streams[path] = (content_type, stream)

    def __enter__(self) -> OpenSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(port: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
