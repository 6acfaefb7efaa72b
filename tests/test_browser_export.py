"""A WACZ of rendered captures holds every exchange the page made and its screenshot,
text and DOM records, validates, and replays in pywb WITH its scripts: the replayed page,
opened in headless Chromium from pywb on 127.0.0.1 after the site is gone, builds its text
from the archived JSON as it did live."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import Workspace, into_next_second
from tests.jssite import JsSite
from tests.tools import Wayback, tool

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

APP, RICH = "/app/informe", "/rich/"
LATEST_TEXT = "Se instalaron 40 medidores de agua en comunidades rurales."


def stamp(checked_at: str) -> str:
    return checked_at.replace("-", "").replace(":", "").replace("T", "").rstrip("Z")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    tool("wayback")
    workspace = Workspace(tmp_path_factory.mktemp("browser-export"))
    with JsSite() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(f"1 {site.url(APP)}\n2 {site.url(RICH)}\n", encoding="utf-8")
        first = workspace.crawl(str(doc), "--browser", "always")
        assert first.returncode in (0, 1), first.stderr[-3000:]
        site.pages[APP] = {"title": "Informe de resultados 2017", "paragraphs": [LATEST_TEXT]}
        into_next_second()
        second = workspace.crawl("--browser", "always")
        assert second.returncode in (0, 1), second.stderr[-3000:]
        urls = {path: site.url(path) for path in (APP, RICH)}
        origin = site.url("")
    latest = json.loads(workspace.run("history", urls[APP], "--json").stdout)[0]["checked_at"]
    package = workspace.path / "rendered.wacz"
    # Only the second run: its scripts, unchanged since the first, are revisits whose
    # originals the package must carry for the page to run.
    done = workspace.run("export", "--wacz", str(package), "--since", latest)
    assert done.returncode == 0, done.stderr
    yield workspace, package, urls, origin, latest


def records_of(package: Path) -> list[tuple[str, str, str, bytes]]:
    """(type, target URI, WARC-Profile, payload) of every record in the package's WARC."""
    with zipfile.ZipFile(package) as archive:
        data = archive.read("archive/data.warc.gz")
    out = []
    for record in ArchiveIterator(BytesIO(data)):
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        out.append((record.rec_type, uri, record.rec_headers.get_header("WARC-Profile") or "", record.content_stream().read()))
    return out


def test_the_package_holds_every_subresource_and_the_resource_records(exported):
    workspace, package, urls, origin, _ = exported
    records = records_of(package)
    replayable = {uri for kind, uri, _, body in records if kind == "response"}
    revisits = {uri for kind, uri, _, _ in records if kind == "revisit"}
    # Each sub-resource of both pages, with its answer in full (a revisit's original came along).
    for path in ("/static/app.js", "/api/page?path=%2Fapp%2Finforme", "/static/rich.js", "/static/rich.css",
                 "/static/fondo.png", "/static/logo.png", "/static/second.js", "/static/moved.png"):
        assert origin + path in replayable, f"{path} has its full response in the package"
    assert revisits, "the second run's unchanged scripts are revisits"
    assert revisits <= replayable, "every revisit's original is in the package"
    requests = {uri for kind, uri, _, _ in records if kind == "request"}
    assert origin + "/api/echo" in requests and origin + "/static/logo.png?via=moved" in replayable
    for url in urls.values():
        kinds = {uri.split(":", 2)[1]: body for kind, uri, _, body in records
                 if kind == "resource" and uri.endswith(":" + url)}
        assert set(kinds) >= {"screenshot", "text", "dom"}, url
        assert kinds["screenshot"].startswith(b"\x89PNG\r\n\x1a\n")
    text = next(body for kind, uri, _, body in records if kind == "resource" and uri == f"urn:text:{urls[APP]}")
    assert LATEST_TEXT in text.decode("utf-8")
    with zipfile.ZipFile(package) as archive:
        pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert sorted(page["url"] for page in pages) == sorted(urls.values()), "the cited pages only, no urn: record"
    validation = subprocess.run([tool("wacz"), "validate", "-f", str(package)], capture_output=True, text=True)
    assert validation.returncode == 0 and "Validation succeeded" in validation.stdout, validation.stdout + validation.stderr


def replayed(page, url: str):  # type: ignore[no-untyped-def]
    """The frame in which pywb replays ``url`` (its ``mp_`` URL), once it is there."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "mp_/" in frame.url and frame.url.endswith(url):
                return frame
        page.wait_for_timeout(100)
    raise AssertionError(f"pywb never framed {url}: {[f.url for f in page.frames]}")


def test_the_package_replays_in_pywb_with_its_scripts(exported, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    workspace, package, urls, _, latest = exported
    subprocess.run([tool("wb-manager"), "init", "wacz"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([tool("wb-manager"), "add", "--unpack-wacz", "wacz", str(package)], cwd=tmp_path, check=True, capture_output=True)
    with Wayback(tmp_path) as pywb:
        replay = f"http://127.0.0.1:{pywb.port}/"
        # The screenshot comes back from the replay server as archived.
        shot = pywb.original("wacz", stamp(latest), f"urn:screenshot:{urls[APP]}")
        assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            elsewhere: list[str] = []

            def only_pywb(route, request) -> None:  # type: ignore[no-untyped-def]
                if request.url.startswith(replay):
                    route.continue_()
                else:
                    elsewhere.append(request.url)
                    route.abort()

            try:
                context = browser.new_context(service_workers="block")
                context.route("**/*", only_pywb)
                page = context.new_page()
                # As a reader opens it: pywb's frame, the archived page inside it.
                page.goto(f"{replay}wacz/{stamp(latest)}/{urls[APP]}")
                replayed(page, urls[APP]).wait_for_function(
                    "t => document.body && document.body.innerText.includes(t)", arg=LATEST_TEXT, timeout=20_000)
                page.goto(f"{replay}wacz/{stamp(latest)}/{urls[RICH]}")
                frame = replayed(page, urls[RICH])
                # Both scripts ran: the second was loaded by the first.
                frame.wait_for_selector("#second", timeout=20_000)
                assert "Resultados del programa de agua potable." in frame.inner_text("body")
            finally:
                browser.close()
    assert not elsewhere, f"the replayed page reached past pywb: {elsewhere}"
