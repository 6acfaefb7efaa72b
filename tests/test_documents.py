"""Citations from real documents: PDF, Word, HTML and Markdown files built here, read back
through ``read_document`` (no parser is mocked)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from crawler.citations import Citation, read_document
from crawler.exceptions import DocumentError
from tests.reports import (
    BODY_FONT,
    Docx,
    PdfPage,
    Piece,
    draw_pdf,
    note_reference,
    run,
    seed_docx,
    seed_html,
    seed_markdown,
    seed_notes,
    seed_pdf,
    superscript,
)
from tests.test_citations import SEED_FILE, SEED_PAIRS, needs_seed


def pairs(citations: list[Citation]) -> list[tuple[str, str]]:
    return [(c.footnote, c.url) for c in citations]


# --- PDF ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_pdf_document(tmp_path_factory: pytest.TempPathFactory):
    return read_document(seed_pdf(tmp_path_factory.mktemp("pdf") / "informe.pdf"))


def test_pdf_yields_the_18_urls_with_their_footnotes(seed_pdf_document) -> None:
    assert pairs(seed_pdf_document.citations) == SEED_PAIRS
    assert seed_pdf_document.problems == []
    assert seed_pdf_document.kind == "pdf"
    assert seed_pdf_document.title == "Civil Society Shadow Report"


def test_pdf_pages_and_citing_sentences(seed_pdf_document) -> None:
    by_label = {c.footnote: c for c in seed_pdf_document.citations}
    assert {label: c.page for label, c in by_label.items()} == {str(n): 1 if n <= 9 else 2 for n in range(1, 17)}
    # Superscript markers drawn small and raised come back as superscripts in the body text.
    assert by_label["1"].context.startswith("At a national level, Mexico has co-created three Action Plans: 2012-2013¹, 2013-2015²")
    assert by_label["6"].context == "The digital results board developed by SFP⁶ holds documents."
    assert by_label["14"].context == "Water¹² and health¹³ results were disclaimed¹⁴."
    # A body line that starts with a number is body text, not footnote 400.
    assert "400 participants" in by_label["4"].context


def test_pdf_urls_are_normalized_and_unannotated_ones_are_kept_as_written(seed_pdf_document) -> None:
    for citation in seed_pdf_document.citations:
        assert citation.visible == ""
        assert citation.normalized == citation.url  # the seed's URLs are already normal
    lines = [c.line for c in seed_pdf_document.citations]
    assert lines == sorted(lines)


def draw(tmp_path: Path, pages: list[PdfPage], name: str = "doc.pdf") -> Path:
    return draw_pdf(tmp_path / name, pages)


def test_pdf_annotation_wins_over_the_visible_text_and_the_difference_is_kept(tmp_path: Path) -> None:
    path = draw(tmp_path, [PdfPage(
        body=[[Piece("The plan was published", BODY_FONT), superscript("1"), Piece(".", BODY_FONT)]],
        notes=[[Piece("1 See https://www.example.org/old-report", link="https://www.example.org/new-report")]],
    )])
    (citation,) = read_document(path).citations
    assert (citation.footnote, citation.url, citation.visible) == ("1", "https://www.example.org/new-report",
                                                                  "https://www.example.org/old-report")
    assert citation.context == "The plan was published¹."


def test_pdf_hyphen_at_a_cut_is_kept_unless_an_annotation_says_otherwise(tmp_path: Path) -> None:
    path = draw(tmp_path, [PdfPage(
        body=[[Piece("Body text.", BODY_FONT)]],
        notes=[
            [Piece("1 See https://x.example.org/long-", link="https://x.example.org/longreport")],
            [Piece("report", link="https://x.example.org/longreport")],
            [Piece("2 See https://y.example.org/plan-de-")],
            [Piece("accion-2016")],
        ],
    )])
    first, second = read_document(path).citations
    assert (first.url, first.visible) == ("https://x.example.org/longreport", "https://x.example.org/long-report")
    assert (second.footnote, second.url, second.visible) == ("2", "https://y.example.org/plan-de-accion-2016", "")


def test_pdf_prose_after_a_url_is_not_joined_to_it(tmp_path: Path) -> None:
    path = draw(tmp_path, [PdfPage(body=[
        [Piece("Read https://x.example.org/some-", BODY_FONT)],
        [Piece("thing else entirely, the author said.", BODY_FONT)],
        [Piece("And https://x.example.org/page.", BODY_FONT)],
        [Piece("Next sentence here.", BODY_FONT)],
    ])])
    assert [c.url for c in read_document(path).citations] == ["https://x.example.org/some-", "https://x.example.org/page"]


def test_pdf_url_cut_at_a_page_break_goes_on_past_the_page_numbers(tmp_path: Path) -> None:
    path = draw(tmp_path, [
        PdfPage(body=[[Piece("Systems", BODY_FONT), superscript("9"), Piece(" exist.", BODY_FONT)]],
                notes=[[Piece("9 Available at: <https://sisi.")], [Piece("1")]]),
        PdfPage(body=[[Piece("2", BODY_FONT)], [Piece("sedesol.gob.mx/>", 8)], [Piece("Body text of page two.", BODY_FONT)]]),
    ])
    (citation,) = read_document(path).citations
    assert (citation.footnote, citation.url, citation.page) == ("9", "https://sisi.sedesol.gob.mx/", 1)


def test_pdf_url_cut_inside_its_scheme_host_or_path_is_read_whole(tmp_path: Path) -> None:
    # Word and LibreOffice cut a long URL at any character of a justified line: in the
    # scheme, in the host, inside angle brackets. Spanish footnotes, English body text.
    path = draw(tmp_path, [PdfPage(
        body=[[Piece("The attorney general", BODY_FONT), superscript("1"), Piece(" and the ministry", BODY_FONT),
               superscript("2"), Piece(" published the reports; see https:", BODY_FONT)],
              [Piece("//www.gob.mx/salud/documentos/plan-2019 for the plan.", BODY_FONT)]],
        notes=[
            [Piece("1 Disponible en: <htt")],
            [Piece("ps://aplicaciones.pgr.gob.mx/informes/2019/anual.pdf>, consultado en 2020.")],
            [Piece("2 Véase https:/")],
            [Piece("/www.cndh.org.mx/documento/recomendacion-2018 y el anexo https://www.")],
            [Piece("gob.mx/sfp/acciones-y-programas y también https://aplicaciones.")],
            [Piece("pgr.gob.mx para los datos, o <https://a.gob.mx/x/")],
            [Piece("y/z.pdf> y https://www.gob.")],
            [Piece("mx es el portal, y el programa está en https://www.gob.mx/salud/documentos/")],
            [Piece("programa-sectorial-de-salud y https://www.gob.mx/informes/anual.")],
            [Piece("pdf con sus anexos.")],
        ],
    )])
    document = read_document(path)
    assert [(c.footnote, c.url) for c in document.citations] == [
        ("inline", "https://www.gob.mx/salud/documentos/plan-2019"),
        ("1", "https://aplicaciones.pgr.gob.mx/informes/2019/anual.pdf"),
        ("2", "https://www.cndh.org.mx/documento/recomendacion-2018"),
        ("2", "https://www.gob.mx/sfp/acciones-y-programas"),
        ("2", "https://aplicaciones.pgr.gob.mx"),
        ("2", "https://a.gob.mx/x/y/z.pdf"),
        ("2", "https://www.gob.mx"),
        ("2", "https://www.gob.mx/salud/documentos/programa-sectorial-de-salud"),
        ("2", "https://www.gob.mx/informes/anual.pdf"),
    ]
    assert document.problems == []
    assert document.citations[1].context.startswith("The attorney general¹")


def test_pdf_line_ending_in_a_url_or_the_word_http_is_not_joined_to_prose(tmp_path: Path) -> None:
    path = draw(tmp_path, [PdfPage(body=[
        [Piece("Todo el tráfico usaba el protocolo http", BODY_FONT)],
        [Piece("es decir, sin cifrar; la auditoría lo señaló.", BODY_FONT)],
        [Piece("Véase https://www.gob.mx/sfp.", BODY_FONT)],
        [Piece("El sitio tiene los datos abiertos.", BODY_FONT)],
        [Piece("The test server ran at http://localhost.", BODY_FONT)],
        [Piece("Later it moved to https://datos.gob.mx", BODY_FONT)],
        [Piece("and stayed there; the old plain https", BODY_FONT)],
        [Piece("servers were shut down, as <https://www.gob.mx/x", BODY_FONT)],
        [Piece("Said nothing more about it.", BODY_FONT)],
    ])])
    document = read_document(path)
    # An angle bracket never closed: the URL is read as written, not run into the next line.
    assert [c.url for c in document.citations] == ["https://www.gob.mx/sfp", "https://datos.gob.mx", "https://www.gob.mx/x"]
    assert [(p.text, p.reason) for p in document.problems] == [("http://localhost", "malformed")]


def justified(tmp_path: Path, text: str, width: float) -> Path:
    """``text`` as one justified paragraph ``width`` points wide, laid out by reportlab, which
    cuts a word longer than the room left on a line at whatever character the line ends."""
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    path = tmp_path / f"justified-{width:.0f}.pdf"
    style = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13, alignment=TA_JUSTIFY, splitLongWords=1)
    page = SimpleDocTemplate(str(path), pagesize=(width + 144, 300), leftMargin=72, rightMargin=72, topMargin=20, bottomMargin=20)
    page.build([Paragraph(escape(text), style)])
    return path


@pytest.mark.parametrize(("text", "url"), [
    ("La Procuraduría publicó su informe anual de actividades, que puede consultarse en <URL>, junto con los anexos del año.",
     "https://aplicaciones.pgr.gob.mx/informes/2019/anual.pdf"),
    ("The ministry kept the report at URL for two years. Its annexes were removed later.",
     "https://transparencia.aplicaciones.gob.mx/consultas/detalle/respuesta.html"),
    ("El programa se publicó en URL y fue retirado en 2019.", "https://www.gob.mx/salud/documentos/programa_sectorial.pdf"),
])
def test_pdf_justified_paragraph_cut_at_every_character_of_the_url(tmp_path: Path, text: str, url: str) -> None:
    kinds: set[str] = set()
    unsure = 0
    # Each width moves the line ends by a character or so: between them the cuts fall in the
    # scheme ("ht" / "tps://"), the host ("aplicaciones." / "pgr.gob.mx") and the path.
    for width in range(150, 420, 3):
        path = justified(tmp_path, text.replace("URL", url), width)
        document = read_document(path)
        (found,) = [c.url for c in document.citations]
        assert document.problems == [], width
        cuts = _cuts(path, url)
        kinds |= {_part(url, cut) for cut in cuts}
        # Only a bare URL cut after its last punctuation ("respuesta.ht" / "ml for two years")
        # reads like a URL ending before a word; it is kept as written, never run into the word.
        last = max(url.rfind(char) for char in "/._-")
        if "<" not in text and any(cut > last + 1 for cut in cuts):
            unsure += 1
            assert url.startswith(found), width
        else:
            assert found == url, width
    assert {"scheme", "host", "path"} <= kinds
    assert unsure <= 15


def _cuts(path: Path, url: str) -> list[int]:
    """Where the text layer of ``path`` breaks ``url`` across lines, as offsets into ``url``."""
    from pypdf import PdfReader

    text = PdfReader(path).pages[0].extract_text()
    match = re.search("\n?".join(re.escape(char) for char in url), text)
    assert match is not None
    written = match.group()
    return [index - number for number, index in enumerate(i for i, char in enumerate(written) if char == "\n")]


def _part(url: str, cut: int) -> str:
    scheme_end = url.index("//") + 2
    return "scheme" if cut < scheme_end else "host" if cut <= url.index("/", scheme_end) else "path"


def test_pdf_link_over_words_is_a_citation_of_its_own(tmp_path: Path) -> None:
    path = draw(tmp_path, [PdfPage(
        body=[[Piece("The ", BODY_FONT), Piece("annual report", BODY_FONT, link="https://example.org/annual.pdf"),
               Piece(" was late.", BODY_FONT)]],
        notes=[[Piece("3 Also "), Piece("the annex", link="https://example.org/annex.pdf"), Piece(" and <mailto:x@example.org>")]],
    )])
    document = read_document(path)
    assert [(c.footnote, c.url, c.page) for c in document.citations] == [
        ("inline", "https://example.org/annual.pdf", 1),
        ("3", "https://example.org/annex.pdf", 1),
    ]
    assert document.citations[0].context == "The annual report was late."
    assert [(p.text, p.reason, p.page) for p in document.problems] == [("mailto:x@example.org", "scheme", 1)]


def test_pdf_type_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    source = seed_pdf(tmp_path / "informe.pdf")
    disguised = tmp_path / "report.txt"
    disguised.write_bytes(source.read_bytes())
    document = read_document(disguised)
    assert document.kind == "pdf"
    assert pairs(document.citations) == SEED_PAIRS


def test_encrypted_pdf_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = seed_pdf(tmp_path / "locked.pdf", encrypt="secret")
    with pytest.raises(DocumentError) as caught:
        read_document(path)
    assert str(caught.value) == (
        f"{path} is encrypted; decrypt it first, e.g. qpdf --decrypt --password=PASSWORD {path} decrypted.pdf"
    )


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(100, 100, 300, 400, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(DocumentError) as caught:
        read_document(path)
    assert str(caught.value) == f"{path} has no text layer (scanned?); run OCR first, e.g. ocrmypdf {path} ocr.pdf"


@needs_seed
def test_pdf_of_the_seed_files_own_footnote_lines(tmp_path: Path) -> None:
    """The seed report's footnote lines as printed, one per line and in the body's size:
    what a simple export of the report gives, with no superscripts and no annotations."""
    footnotes = [line for line in SEED_FILE.read_text(encoding="utf-8").split("\n") if re.match(r"^(\d{1,2}|[⁰¹²³⁴⁵⁶⁷⁸⁹]+) ", line)]
    # Helvetica has no superscript digits: "¹⁵ Available" is printed "15 Available".
    plain = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
    lines = [[Piece(text.translate(plain), BODY_FONT)] for text in footnotes]
    path = draw(tmp_path, [PdfPage(body=lines[:9]), PdfPage(body=lines[9:])])
    document = read_document(path)
    assert pairs(document.citations) == SEED_PAIRS
    assert [c.page for c in document.citations] == [1] * 9 + [2] * 9


# --- Word --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_docx_document(tmp_path_factory: pytest.TempPathFactory):
    return read_document(seed_docx(tmp_path_factory.mktemp("docx") / "informe.docx"))


def test_docx_yields_the_18_urls_with_their_footnotes(seed_docx_document) -> None:
    footnoted = [c for c in seed_docx_document.citations if c.footnote != "inline"]
    assert pairs(footnoted) == SEED_PAIRS
    assert pairs([c for c in seed_docx_document.citations if c.footnote == "inline"]) == [
        ("inline", "https://www.gob.mx/lobuenocuenta/")
    ]
    assert seed_docx_document.problems == []
    assert (seed_docx_document.kind, seed_docx_document.title, seed_docx_document.date) == (
        "docx", "Civil Society Shadow Report", "2018-11")


def test_docx_context_is_the_body_sentence_with_the_reference(seed_docx_document) -> None:
    by_label = {c.footnote: c.context for c in seed_docx_document.citations}
    assert by_label["4"] == "The Core Group left in May of 2017.⁴"
    assert by_label["10"] == "hold few end results¹⁰."
    assert all(c.page is None for c in seed_docx_document.citations)


def test_docx_endnotes_custom_marks_and_links_that_disagree(tmp_path: Path) -> None:
    doc = Docx()
    doc.paragraph(run("A claim") + note_reference(1) + run(" and another") + note_reference(2, "endnote") + run("."))
    doc.paragraph(run("Marked") + '<w:r><w:footnoteReference w:customMarkFollows="1" w:id="2"/><w:t>*</w:t></w:r>'
                  + run(" and ") + doc.hyperlink("https://example.org/target", "https://example.org/shown") + run("."))
    doc.note(1, run(" See https://example.org/foot"))
    doc.note(2, run(" Starred https://example.org/star"))
    doc.note(2, run(" See ") + doc.hyperlink("https://example.org/end", "the end", part="endnote"), kind="endnote")
    document = read_document(doc.save(tmp_path / "notes.docx"))
    assert [(c.footnote, c.url, c.visible) for c in document.citations] == [
        ("inline", "https://example.org/target", "https://example.org/shown"),
        ("1", "https://example.org/foot", ""),
        ("*", "https://example.org/star", ""),
        ("i", "https://example.org/end", ""),
    ]
    assert document.citations[3].context == "A claim¹ and another[i]."


def test_docx_url_broken_by_a_line_break(tmp_path: Path) -> None:
    doc = Docx()
    doc.paragraph(run("See https://example.org/informes/") + "<w:r><w:br/></w:r>" + run("2018/anual.pdf for it."))
    doc.paragraph(run("And https://example.org/datos/") + "<w:r><w:br/></w:r>" + run("Next sentence here."))
    document = read_document(doc.save(tmp_path / "broken.docx"))
    assert [c.url for c in document.citations] == ["https://example.org/informes/2018/anual.pdf", "https://example.org/datos/"]


def test_damaged_docx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DocumentError, match=r"^.*broken\.docx is a damaged Word document \(.*\); open it in Word and save it again$"):
        read_document(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le"),
         "is a password-protected Office document; open it in Word, remove the password"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "is an old Office file (.doc/.xls); save it as .docx or PDF first"),
        (b"PK\x03\x04 cut short", "is a damaged ZIP file"),
        (b"{\\rtf1\\ansi hello}", "is an RTF file; save it as .docx or PDF first"),
    ],
)
def test_unreadable_office_files_say_what_to_do(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=re.escape(message)) as caught:
        read_document(path)
    assert str(caught.value).startswith(str(path))


def test_zip_that_is_not_a_word_document(tmp_path: Path) -> None:
    path = tmp_path / "files.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    with pytest.raises(DocumentError, match=re.escape("is an OpenDocument text (.odt); save it as .docx or PDF first")):
        read_document(path)


# --- HTML and Markdown -------------------------------------------------------------------------


def test_html_page_with_a_footnote_list(tmp_path: Path) -> None:
    path = tmp_path / "informe.html"
    path.write_text(seed_html(), encoding="utf-8")
    document = read_document(path)
    assert document.kind == "html"
    assert document.title == "Civil Society Shadow Report"
    # Navigation is not cited; the relative link is resolved against <base href>.
    assert pairs(document.citations) == [("inline", "https://gobiernoabierto.mx.org/informe/anexo.pdf")] + SEED_PAIRS
    assert [(p.text, p.reason) for p in document.problems] == [("mailto:nucleo@example.org", "scheme")]
    by_label = {c.footnote: c for c in document.citations}
    assert by_label["10"].context == "Claim 10¹⁰."
    source = path.read_text(encoding="utf-8").split("\n")
    assert all(c.url.replace("&", "&amp;") in source[c.line - 1] for c in document.citations if c.footnote != "inline")


def test_html_word_export_notes_and_relative_links_without_base(tmp_path: Path) -> None:
    path = tmp_path / "export.htm"
    path.write_bytes(
        "<html><head><meta http-equiv=Content-Type content='text/html; charset=windows-1252'></head><body>\n"
        "<p>Informe técnico<a href='#_ftn1' name='_ftnref1'><sup>[1]</sup></a> and <a href='anexo.pdf'>annex</a>.</p>\n"
        "<div id=ftn1><p><a href='#_ftnref1' name='_ftn1'>[1]</a> Véase <a href='https://x.gob.mx/a'>https://x.gob.mx/b</a></p></div>\n"
        "</body></html>\n".encode("cp1252")
    )
    document = read_document(path)
    assert [(c.footnote, c.url, c.visible, c.context) for c in document.citations] == [
        ("1", "https://x.gob.mx/a", "https://x.gob.mx/b", "Informe técnico¹ and annex."),
    ]
    assert [(p.line, p.text, p.reason) for p in document.problems] == [(2, "anexo.pdf", "relative")]


def test_markdown_file_with_reference_links_and_footnotes(tmp_path: Path) -> None:
    path = tmp_path / "informe.md"
    path.write_text(seed_markdown(), encoding="utf-8")
    document = read_document(path)
    assert document.kind == "text"
    notes = seed_notes()
    expected = [("inline", notes["1"][0]), ("inline", notes["2"][0])] + SEED_PAIRS[2:]
    assert pairs(document.citations) == expected
    assert document.citations[0].context == "The [first plan][plan-1] and the [second plan][Plan-2] were co-created[^3]."
    assert document.citations[2].context == document.citations[0].context
