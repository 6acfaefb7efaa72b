"""The report of rendered captures: a thumbnail of the latest screenshot per footnote,
linking to the whole picture as archived, and the first and latest screenshots side by side
where the evidence changed; the thumbnails show in a real browser under the report's
policy (data: images only). Real crawls of tests/jssite.py in headless Chromium."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import lxml.html
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from crawler.reports.screenshots import THUMB_RATIO, THUMB_WIDTH
from tests.conftest import Workspace, into_next_second
from tests.jssite import JsSite

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

CHANGED, SAME, PLAIN = "/app/informe", "/app/compromisos/agua", "/plain/"


def screenshots_in(archive: Path) -> dict[str, list[bytes]]:
    """Every ``urn:screenshot:`` record's PNG, per URL, in archive order, read with warcio."""
    found: dict[str, list[bytes]] = {}
    for path in sorted(archive.glob("*.warc.gz*")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "resource" and uri.startswith("urn:screenshot:"):
                    found.setdefault(uri.removeprefix("urn:screenshot:"), []).append(record.content_stream().read())
    return found


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace(tmp_path_factory.mktemp("browser-report"))
    with JsSite() as site:
        doc = workspace.path / "informe.md"
        doc.write_text("".join(f"{n} Ver {site.url(p)}\n" for n, p in enumerate((CHANGED, SAME, PLAIN), 1)), encoding="utf-8")
        first = workspace.crawl(str(doc), "--browser", "always")
        assert first.returncode in (0, 1), first.stderr[-3000:]
        site.pages[CHANGED] = {
            "title": "Informe de resultados 2017",
            "paragraphs": ["Se instalaron 40 medidores de agua en comunidades rurales.",
                           "El presupuesto ejercido fue de 3 millones de pesos."],
        }
        into_next_second()
        # `auto` renders the two shells again, not the server-rendered page: its latest
        # screenshot stays the first run's.
        second = workspace.crawl("--browser", "auto")
        assert second.returncode in (0, 1), second.stderr[-3000:]
        yield workspace, site


def _row(root: lxml.html.HtmlElement, url: str) -> lxml.html.HtmlElement:
    return next(r for r in root.xpath("//tr[td]") if r.xpath("td[3]") and r.xpath("td[3]")[0].text_content() == url)


def _thumb(img: lxml.html.HtmlElement) -> Image.Image:
    source = img.get("src")
    assert source.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))


def test_each_footnote_shows_its_latest_screenshot_linking_to_the_picture_as_archived(crawled):
    workspace, site = crawled
    out = workspace.path / "report.html"
    done = workspace.run("report", "-o", str(out))
    assert done.returncode == 0, done.stderr
    root = lxml.html.document_fromstring(out.read_text(encoding="utf-8"))
    archived = screenshots_in(workspace.archive)
    # One screenshot per rendered capture, and on the night CHANGED changed a second one
    # after it: the page rendered once more to learn its noise, not the capture's picture.
    for path, runs, latest in ((CHANGED, 3, 1), (SAME, 2, 1), (PLAIN, 1, 0)):
        url = site.url(path)
        assert len(archived[url]) == runs, path
        figure = _row(root, url).xpath(".//figure[@class='shot latest']")
        assert len(figure) == 1, path
        link, img = figure[0].xpath(".//a")[0], figure[0].xpath(".//img")[0]
        # The whole picture beside the report is the latest capture's screenshot, byte for byte.
        assert (out.parent / link.get("href")).read_bytes() == archived[url][latest]
        thumb = _thumb(img)
        full = Image.open(io.BytesIO(archived[url][latest]))
        assert thumb.width == THUMB_WIDTH
        assert thumb.height == round(min(full.height, full.width * THUMB_RATIO) * THUMB_WIDTH / full.width)
    history = workspace.run("history", site.url(PLAIN), "--json")
    first_run = history.stdout.split('"checked_at": "')[-1][:16].replace("T", " ")
    caption = _row(root, site.url(PLAIN)).xpath(".//figcaption")[0].text_content()
    assert caption == f"screenshot, {first_run}", "the plain page's latest screenshot is the first run's"


def test_changed_evidence_shows_first_and_latest_screenshots_side_by_side(crawled):
    workspace, site = crawled
    out = workspace.path / "side.html"
    assert workspace.run("report", "-o", str(out)).returncode == 0
    root = lxml.html.document_fromstring(out.read_text(encoding="utf-8"))
    row = _row(root, site.url(CHANGED))
    pair = row.getnext()
    assert pair.get("class") == "shots"
    figures = pair.xpath(".//figure")
    assert [f.xpath(".//figcaption")[0].text_content().split(",")[0] for f in figures] == ["first capture", "latest capture"]
    archived = screenshots_in(workspace.archive)[site.url(CHANGED)]
    hrefs = [(out.parent / f.xpath(".//a")[0].get("href")).read_bytes() for f in figures]
    # (the third is the latest night's second render, to learn its noise)
    assert hrefs == archived[:2], "the first capture's picture, then the latest's"
    assert hrefs[0] != hrefs[1]
    thumbs = [_thumb(f.xpath(".//img")[0]).convert("L").tobytes() for f in figures]
    assert thumbs[0] != thumbs[1], "the change shows in the thumbnails"
    # Unchanged evidence has no pair.
    assert _row(root, site.url(SAME)).getnext() is None or _row(root, site.url(SAME)).getnext().get("class") != "shots"


def test_the_thumbnails_show_in_a_browser_under_the_report_policy(crawled, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    workspace, site = crawled
    out = workspace.path / "shown.html"
    assert workspace.run("report", "-o", str(out)).returncode == 0
    before = sum(site.hits.values())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            blocked: list[str] = []
            page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            sizes = page.eval_on_selector_all("figure.shot img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
            shown = page.eval_on_selector_all("figure.latest img", "imgs => imgs.map(i => i.clientWidth)")
        finally:
            browser.close()
    assert len(sizes) == 5, "three footnotes' latest and the changed page's pair"
    assert all(done and width == THUMB_WIDTH for done, width in sizes), sizes
    assert shown == [160, 160, 160], "in the table, the latest thumbnail is drawn smaller"
    assert not blocked, blocked
    assert sum(site.hits.values()) == before, "showing the report fetched nothing from the site"


def test_the_markdown_report_links_thumbnails_and_pictures(crawled):
    workspace, site = crawled
    out = workspace.path / "report.md"
    assert workspace.run("report", "--format", "md", "-o", str(out)).returncode == 0
    text = out.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if site.url(SAME) in line and line.startswith("|"))
    thumb, full = row.split("[![")[1].split("](", 1)[1].split(")](")
    full = full.split(")")[0]
    assert (out.parent / thumb).read_bytes()[:3] == b"\xff\xd8\xff"
    assert (out.parent / full).read_bytes() == screenshots_in(workspace.archive)[site.url(SAME)][-1]
    assert "the page as a person saw it" in text


def test_a_pair_with_an_unrendered_capture_and_an_unreadable_picture_say_so():
    """Evidence first captured before browser capture (no screenshot), then rendered; and a
    screenshot the archive could not give: the report says each, and shows no empty image."""
    from datetime import datetime

    from crawler.reports.collect import Entry, ReportData, Section
    from crawler.reports.html import render_html
    from crawler.reports.markdown import render_markdown
    from crawler.reports.screenshots import Picture, Shot

    first, later = datetime(2025, 1, 10, 9, 0), datetime(2026, 3, 2, 9, 0)
    latest = Shot(7, later, "changed", "capped", "a.warc.gz", 0)
    lost = Shot(9, later, "ok", "rendered", "b.warc.gz", 0)
    changed = Entry("3", "https://datos.example.gob/tablero", "changed", "text_changed", shot=latest,
                    shot_pair=[("first capture", first, None), ("latest capture", later, latest)])
    unreadable = Entry("4", "https://portal.example.gob/consulta", "ok", "same_text", shot=lost)
    data = ReportData(later, "evidence.db", [Section("informe.docx", "", [changed, unreadable])], [])
    pictures: dict[int, Picture | str] = {
        7: Picture(7, "report_files/7.screenshot.png", b"\xff\xd8\xffthumb", "report_files/7.thumb.jpg", 1234),
        9: "screenshot of capture 9 unavailable: WARC file b.warc.gz is missing",
    }
    root = lxml.html.document_fromstring(render_html(data, {}, pictures))
    rows = root.xpath("//tr[@class='shots']")
    assert len(rows) == 1
    captions = [c.text_content() for c in rows[0].xpath(".//figcaption")]
    assert captions == ["first capture, 2025-01-10 09:00: not rendered, no screenshot",
                        "latest capture, 2026-03-02 09:00 (capped: its network never went idle)"]
    assert len(rows[0].xpath(".//img")) == 1
    problem = root.xpath("//figure[@class='shot latest']/figcaption[@class='problem']")
    assert [p.text_content() for p in problem] == [pictures[9]]
    markdown = render_markdown(data, {}, None, pictures)
    assert "(first capture, 2025-01-10 09:00: not rendered, no screenshot)" in markdown
    assert r"[![latest capture, 2026-03-02 09:00 \(capped\)](report_files/7.thumb.jpg)](report_files/7.screenshot.png)" in markdown
