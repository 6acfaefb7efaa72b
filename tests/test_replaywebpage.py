"""An exported WACZ opened in ReplayWeb.page, the viewer most auditors reach for: its own
static files and the package served from one origin on 127.0.0.1, opened in headless
Chromium (Playwright driving Debian's `chromium`), every request off that origin refused."""

from __future__ import annotations

import base64
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Workspace
from tests.mockserver import PDF_BYTES, MockServer
from tests.tools import ROOT

RWP = ROOT / ".tools" / "rwp" / "package"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGE, PDF = "/plan", "/nota.pdf"
PAGE_TEXT = "Compromisos del Tercer Plan de Acción."
# Long enough for ReplayWeb.page to register its service worker, read the package's index
# in ranges and load the page; a broken package fails on the first assertion that waits.
REPLAY_TIMEOUT_MS = 30_000

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (scripts/setup.sh installs the test extra)")


def _need_tools() -> None:
    if not (RWP / "ui.js").exists() or not (RWP / "sw.js").exists():
        pytest.skip("ReplayWeb.page is not installed; `bash scripts/setup.sh` puts it in .tools/rwp/")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/setup.sh does it)")


class _Origin(BaseHTTPRequestHandler):
    """One origin for ReplayWeb.page: its UI at /, its service worker under /replay/ (the
    embed's default scope), packages at /wacz/NAME. Answers Range requests, which
    ReplayWeb.page uses to read a package's index and records without the whole file."""

    files: dict[str, Path]
    seen: list[str]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        self.seen.append(f"{self.command} {path} {self.headers.get('Range', '')}".strip())
        source = self.files.get(path)
        if source is None:
            self.send_error(404)
            return
        data = source.read_bytes()
        status, start, end = 200, 0, len(data) - 1
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and "," not in wanted:
            first, _, last = wanted[len("bytes="):].partition("-")
            if first:
                start, end = int(first), min(int(last) if last else end, end)
            else:  # a suffix: the last N bytes
                start = max(0, len(data) - int(last))
            if start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", _content_type(source.name))
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if body:
            self.wfile.write(data[start:end + 1])


def _content_type(name: str) -> str:
    for suffix, kind in ((".js", "application/javascript"), (".html", "text/html; charset=utf-8"), (".wacz", "application/zip")):
        if name.endswith(suffix):
            return kind
    return "application/octet-stream"


class ReplayOrigin:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        index = folder / "index.html"
        self.files = {"/ui.js": RWP / "ui.js", "/replay/sw.js": RWP / "sw.js", "/": index, "/index.html": index}
        self.seen: list[str] = []

    def add(self, name: str, package: Path) -> str:
        self.files[f"/wacz/{name}"] = package
        return f"/wacz/{name}"

    def embed(self, source: str, url: str, *, ts: str = "") -> None:
        """The index page: one ``<replay-web-page>`` element, as ReplayWeb.page's embedding docs show."""
        (self.folder / "index.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'><script src='/ui.js'></script></head><body>"
            f"<replay-web-page source='{source}' url='{url}' ts='{ts}' embed='replay-with-info' replayBase='/replay/'"
            " style='display:block;width:1200px;height:800px'></replay-web-page></body></html>",
            encoding="utf-8",
        )

    def __enter__(self) -> ReplayOrigin:
        handler = type("Handler", (_Origin,), {"files": self.files, "seen": self.seen})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _need_tools()
    workspace = Workspace(tmp_path_factory.mktemp("rwp"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(f"1 Plan: <{site.url(PAGE)}>\n2 Nota: <{site.url(PDF)}>\n", encoding="utf-8")
        assert workspace.crawl(str(doc)).returncode == 0
        urls = {PAGE: site.url(PAGE), PDF: site.url(PDF)}
    # The site is gone from here on: whatever replays came out of the package.
    package = workspace.path / "evidence.wacz"
    result = workspace.run("export", "--wacz", str(package))
    assert result.returncode == 0, result.stderr
    key = workspace.path / "signer.key"
    made = workspace.run("keys", "create", "--out", str(key))
    assert made.returncode == 0, made.stderr
    signed = workspace.path / "signed.wacz"
    result = workspace.run("export", "--wacz", str(signed), "--sign", str(key))
    assert result.returncode == 0, result.stderr
    yield {"package": package, "urls": urls, "signed": signed, "public_key": made.stdout.strip()}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_tools()
    with playwright_api.sync_playwright() as driver:
        # Debian's Chromium, not a Playwright browser download. The resolver rule is a second
        # wall behind the routing below: a service worker's own fetches are not routed.
        launched = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Replay:
    """One ReplayWeb.page session over one package, with what it tried to reach elsewhere."""

    def __init__(self, browser: Any, origin: ReplayOrigin) -> None:
        self.context = browser.new_context()
        self.origin = origin
        self.refused: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()

    def _route(self, route: Any) -> None:
        if route.request.url.startswith(self.origin.url + "/"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def open(self) -> None:
        self.page.goto(self.origin.url + "/", wait_until="load")

    def frame_of(self, url: str) -> Any:
        """The frame replaying ``url`` (inside the element's shadow DOM and two iframes).

        On a loaded machine the first load can lose the race with the service worker's
        installation (the page is not yet controlled by it, and the embed shows nothing):
        the page is loaded once more, as a reader would, before the test gives up."""
        for attempt in range(2):
            deadline_ms = REPLAY_TIMEOUT_MS // 2 if attempt == 0 else REPLAY_TIMEOUT_MS
            while deadline_ms > 0:
                for frame in self.page.frames:
                    if "mp_/" + url in frame.url:
                        return frame
                self.page.wait_for_timeout(250)
                deadline_ms -= 250
            if attempt == 0:
                self.page.reload(wait_until="load")
        raise AssertionError(f"ReplayWeb.page opened no frame for {url}; frames: {[f.url for f in self.page.frames]}")

    def close(self) -> None:
        self.context.close()


def _replayed_text(browser: Any, folder: Path, package: Path, url: str) -> tuple[str, Replay]:
    origin = ReplayOrigin(folder)
    origin.__enter__()
    origin.embed(origin.add("evidence.wacz", package), url)
    replay = Replay(browser, origin)
    replay.open()
    frame = replay.frame_of(url)
    try:
        frame.wait_for_selector(f"text={PAGE_TEXT}", timeout=REPLAY_TIMEOUT_MS)
    except playwright_api.TimeoutError:
        pass
    return frame.inner_text("body"), replay


def _info_panel(replay: Replay) -> str:
    """What ReplayWeb.page says of who made the package: the info panel of the embed."""
    app = next(f for f in replay.page.frames if "/replay/?source=" in f.url)
    app.locator("button.embed-info").click()
    return str(app.locator(".embed-info-drop-statscontainer").inner_text())


def _signature_checks(replay: Replay) -> list[Any]:
    """wabac.js's own result of checking the package signature (WebCrypto's verify), from the
    IndexedDB store its verification panel reads: the panel shows the key, not this result.
    One ``[expected, matched]`` pair: ``["", False]`` when there is no signature to check."""
    app = next(f for f in replay.page.frames if "/replay/?source=" in f.url)
    return list(app.evaluate(
        """async () => {
            const found = [];
            for (const info of await indexedDB.databases()) {
                const db = await new Promise((ok, no) => {
                    const opening = indexedDB.open(info.name);
                    opening.onsuccess = () => ok(opening.result);
                    opening.onerror = () => no(opening.error);
                });
                if (db.objectStoreNames.contains("verification")) {
                    const all = await new Promise((ok) => {
                        const reading = db.transaction("verification").objectStore("verification").getAll();
                        reading.onsuccess = () => ok(reading.result);
                    });
                    for (const row of all) if (String(row.id).endsWith("signature")) found.push([row.expected, row.matched]);
                }
                db.close();
            }
            return found;
        }"""
    ))


def _with_signature(package: Path, target: Path, change: Any) -> Path:
    import json
    import zipfile

    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "datapackage-digest.json":
                digest = json.loads(data)
                digest["signedData"]["signature"] = change(digest["signedData"]["signature"])
                data = json.dumps(digest).encode("utf-8")
            out.writestr(info, data, compress_type=info.compress_type)
    return target


def test_the_html_page_and_the_pdf_replay_from_the_package(exported, browser, tmp_path):
    page_url = exported["urls"][PAGE]
    text, replay = _replayed_text(browser, tmp_path, exported["package"], page_url)
    try:
        assert PAGE_TEXT in text
        frame = replay.frame_of(page_url)
        # The PDF through the same replay (id_: as archived): the original bytes.
        pdf_url = frame.url.replace("mp_/" + page_url, "id_/" + exported["urls"][PDF])
        fetched = frame.evaluate(
            """async (url) => {
                const answer = await fetch(url);
                const bytes = new Uint8Array(await answer.arrayBuffer());
                let text = "";
                for (const b of bytes) text += String.fromCharCode(b);
                return {status: answer.status, body: btoa(text)};
            }""",
            pdf_url,
        )
        assert fetched["status"] == 200
        assert base64.b64decode(fetched["body"]) == PDF_BYTES
        # The package's index was read in ranges, not downloaded whole.
        assert any(line.startswith("GET /wacz/evidence.wacz bytes=") for line in replay.origin.seen)
        assert replay.refused == [], f"ReplayWeb.page tried to leave 127.0.0.1: {replay.refused}"

        info = _info_panel(replay)
        assert "Validation:" in info and "Archived On:" in info
        # Unsigned: no observer (a signing domain) and no public key is shown.
        assert "Observed By" not in info and "Observer Public Key" not in info
        assert _signature_checks(replay) == [["", False]]
    finally:
        replay.close()
        replay.origin.__exit__()


def test_a_signed_package_shows_its_key_and_replaywebpage_verifies_the_signature(exported, browser, tmp_path):
    page_url = exported["urls"][PAGE]
    text, replay = _replayed_text(browser, tmp_path, exported["signed"], page_url)
    try:
        assert PAGE_TEXT in text
        info = _info_panel(replay)
        assert "Observer Public Key:" in info and exported["public_key"] in info
        assert _signature_checks(replay) == [[True, True]]
    finally:
        replay.close()
        replay.origin.__exit__()


def test_replaywebpage_finds_a_changed_signature_false(exported, browser, tmp_path):
    """The check above can fail: one bit of the signature changed and wabac.js says so
    (its panel still shows the key: only this result tells the two apart)."""
    def flipped(signature: str) -> str:
        raw = bytearray(base64.b64decode(signature))
        raw[10] ^= 0x01
        return base64.b64encode(bytes(raw)).decode("ascii")

    bad = _with_signature(exported["signed"], tmp_path / "badsig.wacz", flipped)
    (tmp_path / "site").mkdir()
    with ReplayOrigin(tmp_path / "site") as origin:
        origin.embed(origin.add("evidence.wacz", bad), exported["urls"][PAGE])
        replay = Replay(browser, origin)
        try:
            replay.open()
            # Only the package's loading is needed here, not the page's replay: wait for its
            # check, loading the page once more if the first load lost the race with the
            # service worker (as Replay.frame_of does).
            checks: list[Any] = []
            for attempt in range(2):
                for _ in range((REPLAY_TIMEOUT_MS // 2 if attempt == 0 else REPLAY_TIMEOUT_MS) // 250):
                    if any("/replay/?source=" in f.url for f in replay.page.frames):
                        try:
                            checks = _signature_checks(replay)
                        except playwright_api.Error:
                            checks = []  # the app navigated while being read: read it again
                        if checks:
                            break
                    replay.page.wait_for_timeout(250)
                if checks:
                    break
                replay.page.reload(wait_until="load")
            assert checks == [[True, False]]
        finally:
            replay.close()
