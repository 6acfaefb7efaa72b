"""`evidence report` and `evidence annotate` over a site crawled twice: rows, archived copies
beside the report, diffs, acknowledgements, escaping; Markdown and HTML documents annotated."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import lxml.html
import pytest

from tests.conftest import Workspace
from tests.mockserver import PDF_BYTES, PWNED_SCRIPT, MockServer

PAGES = ["/plan", "/avance", "/nota", "/nota.pdf", "/pwned", "/gobiernoabierto"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace(tmp_path_factory.mktemp("report"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        lines = ["# Informe sombra", ""] + [f"{n} Disponible en: <{site.url(page)}>" for n, page in enumerate(PAGES, 1)]
        lines.append(f"7 Véase [el plan]({site.url('/plan')} \"Plan\") y {site.url('/nota')}.")
        doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert workspace.crawl(str(doc)).returncode == 0
        site.set_version(2)
        assert workspace.crawl().returncode == 1
        assert workspace.run("ack", site.url("/nota"), "--note", "<b>pedido</b> de aclaración").returncode == 0
        yield workspace, site, doc


def test_html_report_rows_copies_and_diffs(crawled):
    workspace, site, _ = crawled
    out = workspace.path / "informe.html"
    result = workspace.run("report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}: 8 citations, 6 archived copies in {workspace.path / 'informe_files'}/\n"
    assert result.stderr == ""
    page = out.read_text(encoding="utf-8")
    root = lxml.html.document_fromstring(page)

    csp = root.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert not root.xpath("//script | //iframe | //object | //embed | //link"), "nothing active in the report"
    # The only images are the thumbnails evidence made of rendered pages' screenshots (/pwned
    # is script-built enough for `--browser auto`), inside the file.
    assert all(src.startswith("data:image/jpeg;base64,") for src in root.xpath("//img/@src"))
    assert root.xpath("//svg[@id='timeline']"), "the chart is inline"

    counts = [c.text_content() for c in root.xpath("//section[@id='counts']//tr[1]/th")]
    assert counts == ["ok", "changed", "moved", "gone"]
    assert [c.text_content() for c in root.xpath("//section[@id='counts']//tr[2]/td")] == ["3", "2", "1", "2"]

    rows = {r.xpath("td[3]")[0].text_content(): r for r in root.xpath("//section[@class='document']//tr[not(@class)][td]")}
    assert set(rows) == {site.url(p) for p in PAGES}
    nota = rows[site.url("/nota")]
    assert nota.xpath("td[4]")[0].text_content() == "gone http_404"
    assert nota.xpath("td[9]")[0].text_content().endswith(": <b>pedido</b> de aclaración"), "the note is shown as text"
    assert "news, not reviewed" in rows[site.url("/avance")].xpath("td[9]")[0].text_content()

    pdf_link = rows[site.url("/nota.pdf")].xpath("td[8]//a")[0]
    assert pdf_link.get("download", "").endswith(".pdf")
    assert (out.parent / pdf_link.get("href")).read_bytes() == PDF_BYTES
    view, source = rows[site.url("/plan")].xpath("td[8]//a")
    assert view.get("href").endswith(".view.html") and source.get("download") == ""
    assert (out.parent / source.get("href")).name.endswith(".html.txt")

    diff = root.xpath("//tr[@class='diff']//pre")
    assert len(diff) == 2
    texts = "\n".join(d.text_content() for d in diff)
    assert "-Meta: 100 medidores instalados." in texts and "+Meta: 40 medidores instalados." in texts
    # Archived text is escaped: the page's literal "<script>" is text in the report, never a tag.
    assert "+Meta: 4 acciones. <script>document.title='PWNED'</script>" in texts
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in page
    assert PWNED_SCRIPT not in page


def test_the_sandboxed_view_of_an_html_copy(crawled):
    workspace, site, _ = crawled
    out = workspace.path / "view.html"
    assert workspace.run("report", "-o", str(out)).returncode == 0
    root = lxml.html.document_fromstring(out.read_text(encoding="utf-8"))
    row = next(r for r in root.xpath("//tr[td]") if r.xpath("td[3]") and r.xpath("td[3]")[0].text_content() == site.url("/pwned"))
    viewer = lxml.html.document_fromstring((out.parent / row.xpath("td[8]//a")[0].get("href")).read_text(encoding="utf-8"))
    (frame,) = viewer.xpath("//iframe")
    assert frame.get("sandbox") == "", "an empty sandbox: no scripts, no same origin, no forms, no pop-ups"
    assert "<script>for (const d of" in frame.get("srcdoc"), "the page's own script is kept: the sandbox stops it"
    assert viewer.xpath("//meta[@http-equiv='Content-Security-Policy']/@content") == [
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    ]
    assert not viewer.xpath("//script")


def test_markdown_report(crawled):
    workspace, site, _ = crawled
    out = workspace.path / "informe.md.out" / "report.md"
    out.parent.mkdir()
    result = workspace.run("report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Evidence report\n")
    assert "![States of the cited URLs in each run](report_files/timeline.svg)" in text
    assert (out.parent / "report_files" / "timeline.svg").read_text().startswith("<svg")
    assert f"| 3 |  | `{site.url('/nota')}` | **gone** http\\_404 |" in text
    assert "acknowledged " in text and "\\<b\\>pedido\\</b\\> de aclaración" in text
    assert "```diff\n" in text and "+Meta: 40 medidores instalados." in text
    links = re.findall(r"\]\((report_files/[^)]+)\)", text)
    assert links and all((out.parent / link).exists() for link in links)


def test_report_of_one_document_and_of_an_unknown_one(crawled):
    workspace, _, _ = crawled
    out = workspace.path / "one.html"
    assert workspace.run("report", "--document", "informe.md", "-o", str(out)).returncode == 0
    unknown = workspace.run("report", "--document", "nada.md", "-o", str(out))
    assert unknown.returncode == 2
    assert unknown.stderr == "Error: no document named 'nada.md' in the database; `evidence status` lists them\n"


def test_annotate_markdown(crawled):
    workspace, site, doc = crawled
    out = workspace.path / "anotado.md"
    result = workspace.run("annotate", str(doc), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}: 8 links annotated, archived copies in {workspace.path / 'anotado_files'}/\n"
    lines = out.read_text(encoding="utf-8").splitlines()
    note = r" \(archived on \d{4}-\d\d-\d\d: anotado_files/\d+\.(view\.html|pdf)\)"
    assert re.fullmatch(rf"1 Disponible en: <{re.escape(site.url('/plan'))}>{note}", lines[2])
    assert re.fullmatch(rf"4 Disponible en: <{re.escape(site.url('/nota.pdf'))}>{note}", lines[5])
    assert re.fullmatch(
        rf"7 Véase \[el plan\]\({re.escape(site.url('/plan'))} \"Plan\"\){note} y {re.escape(site.url('/nota'))}{note}\.", lines[8]
    )
    for href in re.findall(r"anotado_files/\S+?(?=\))", "\n".join(lines)):
        assert (workspace.path / href).exists()
    # The first capture is the one linked: the text as cited, before the edit.
    avance = re.search(rf"{re.escape(site.url('/avance'))}> \(archived on [\d-]+: (\S+)\)", "\n".join(lines))
    assert avance and "100 medidores" in (workspace.path / avance.group(1)).with_suffix("").with_suffix(".html.txt").read_text()


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def test_annotate_html_adds_robust_links_and_changes_nothing_else(crawled):
    workspace, site, _ = crawled
    source = workspace.path / "informe.html"
    original = (
        "<!DOCTYPE html>\n<html><body>\n<p>Ver <a class='x' href=\"" + site.url("/plan") + "\">el plan</a>,\n"
        f"<A HREF='{site.url('/nota.pdf')}'\n   title=\"nota\">la nota</A> y <a href=\"https://other.example.org/\">otro</a>.</p>\n"
        f"<a href=\"{site.url('/plan')}\"/>\n</body></html>\n"
    )
    source.write_text(original, encoding="utf-8")
    out = workspace.path / "anotado.html"
    result = workspace.run("annotate", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "3 links annotated" in result.stdout
    annotated = out.read_text(encoding="utf-8")
    parser = _Anchors()
    parser.feed(annotated)
    plan, pdf, other, plan_again = parser.anchors
    assert plan["class"] == "x" and plan["data-versionurl"].endswith(".view.html")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", plan["data-versiondate"] or "")
    assert pdf["data-versionurl"].endswith(".pdf") and pdf["title"] == "nota"
    assert "data-versionurl" not in other
    assert plan_again["data-versionurl"] == plan["data-versionurl"]
    stripped = re.sub(r' data-version(url|date)="[^"]*"', "", annotated)
    assert stripped == original, "only the two attributes were added"


def test_annotate_refuses_to_overwrite_the_document(crawled):
    workspace, _, doc = crawled
    result = workspace.run("annotate", str(doc), "-o", str(doc))
    assert result.returncode == 2
    assert Path(doc).read_text(encoding="utf-8").startswith("# Informe sombra")
