"""Time-stamping authorities on 127.0.0.1 for the tests: OpenSSL's own TSA
(``openssl ts -reply``) behind a small HTTP endpoint, with a CA and a TSA certificate
made here; one that answers garbage; and the address of one that is down."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.tools import free_port

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
certs = $dir/tsa.pem
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class Authority:
    """A CA and the TSA certificate it signed, on disk in ``folder``."""

    folder: Path
    name: str

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def config(self) -> Path:
        return self.folder / "tsa.cnf"


def make_authority(folder: Path, name: str) -> Authority:
    """A CA and a TSA certificate (critical extendedKeyUsage timeStamping) it signed."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
            "-subj", f"/CN={name} test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", f"/CN={name} TSA")
    (folder / "tsa.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=critical,timeStamping\n"
                                    "keyUsage=critical,digitalSignature\n")
    openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tsa.pem", "-days", "30", "-extfile", "tsa.ext")
    (folder / "serial").write_text("01\n")
    authority = Authority(folder, name)
    authority.config.write_text(_CONFIG.format(dir=folder))
    return authority


class TsaServer:
    """An HTTP TSA on 127.0.0.1: each POSTed query is answered by ``openssl ts -reply``
    (``garbage``: by bytes that are no reply). ``queries`` counts what it was asked."""

    def __init__(self, authority: Authority | None, *, garbage: bool = False) -> None:
        self.authority = authority
        self.garbage = garbage
        self.queries = 0
        self.port = free_port()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with server._lock:
                    server.queries += 1
                    answer = server._answer(body, self.headers.get("Content-Type", ""))
                self.send_response(200 if answer is not None else 400)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer or b"")))
                self.end_headers()
                self.wfile.write(answer or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    def _answer(self, query: bytes, content_type: str) -> bytes | None:
        if content_type != "application/timestamp-query":
            return None
        if self.garbage or self.authority is None:
            return b"<html>this is not a time-stamp reply</html>"
        folder = self.authority.folder
        (folder / "query.tsq").write_bytes(query)
        subprocess.run(["openssl", "ts", "-reply", "-config", str(self.authority.config), "-queryfile", "query.tsq",
                        "-out", "reply.tsr"], cwd=folder, check=True, capture_output=True)
        return (folder / "reply.tsr").read_bytes()

    def __enter__(self) -> TsaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
