"""The HTML report in a real browser (headless Chromium, installed by .ci/run): it renders,
its chart is drawn, and an archived page's script neither runs nor loads anything, in the
report or in the sandboxed view of the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import lxml.html
import png
import pytest

from crawler.reports.timeline import COLOURS
from tests.conftest import Workspace
from tests.mockserver import MockServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install chromium; .ci/run does it)",
)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
            f"--user-data-dir={profile}", *args,
        ],
        capture_output=True, text=True, timeout=120,
    )


def dom(profile: Path, page: Path) -> lxml.html.HtmlElement:
    result = chromium(profile, "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    return lxml.html.document_fromstring(result.stdout)


def pixels_of(shot: Path, colour: str) -> int:
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    width, height, rows, info = png.Reader(filename=str(shot)).asRGBA8()
    count = 0
    for row in rows:
        for x in range(0, width * 4, 4):
            if all(abs(row[x + i] - wanted[i]) <= 6 for i in range(3)):
                count += 1
    return count


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace(tmp_path_factory.mktemp("browser"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(f"1 {site.url('/pwned')}\n2 {site.url('/plan')}\n3 {site.url('/nota')}\n", encoding="utf-8")
        workspace.crawl(str(doc))
        site.set_version(2)
        workspace.crawl()
        out = workspace.path / "report.html"
        assert workspace.run("report", "-o", str(out)).returncode == 0
        before = site.hits()
        yield workspace, site, out, before


def test_report_renders_with_a_visible_chart(report, tmp_path: Path):
    workspace, _, out, _ = report
    root = dom(tmp_path / "profile", out)
    assert root.findtext(".//title") == "Evidence report"
    assert root.xpath("//*[local-name()='svg' and @id='timeline']//*[local-name()='rect' and @class='state-ok']")
    shot = tmp_path / "report.png"
    result = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2000", out.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    # The bars are drawn in their state colours: ok (two runs) and gone (the second).
    assert pixels_of(shot, COLOURS["ok"]) > 2000
    assert pixels_of(shot, COLOURS["gone"]) > 500


def test_an_archived_script_does_not_run_in_the_report_or_the_view(report, tmp_path: Path):
    workspace, site, out, before = report
    root = dom(tmp_path / "profile", out)
    assert root.findtext(".//title") == "Evidence report"
    assert not root.xpath("//*[@id='pwned']")
    # The page's literal "<script>" text, shown in the diff as text.
    assert any("<script>document.title='PWNED'</script>" in pre.text_content() for pre in root.xpath("//pre"))

    row = next(r for r in root.xpath("//tr[td]") if r.xpath("td[3]")[0].text_content() == site.url("/pwned"))
    view = out.parent / row.xpath("td[8]//a")[0].get("href")
    viewed = dom(tmp_path / "profile", view)
    assert viewed.findtext(".//title").startswith("Archived copy of "), "the script did not retitle the view"
    assert not viewed.xpath("//*[@id='pwned']")
    shot = tmp_path / "view.png"
    assert chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=900,600", view.as_uri()).returncode == 0
    # Nothing reached the site: no image beacon, no request at all, from report or view.
    assert site.hits() == before
    # (The crawl's own render of the page, under `--browser auto`, may have archived it.)
    assert site.hits().get("/beacon.png") == before.get("/beacon.png")
