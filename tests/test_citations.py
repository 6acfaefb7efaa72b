"""Citation extraction: the seed report, the embedded seed, edge cases and unreadable files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.citations import (
    Citation,
    Document,
    Problem,
    extract_citations,
    load_seed,
    read_document,
)
from crawler.exceptions import DocumentError

SEED_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "seed"
SEED_FILE = SEED_DIR / "000_e90c2cd9959efa83.txt"

SEED_PAIRS = [
    ("1", "https://www.opengovpartnership.org/documents/mexico-first-national-action-plan-2012-13"),
    ("2", "https://www.opengovpartnership.org/documents/mexico-action-plan-2013-2015"),
    ("3", "https://www.opengovpartnership.org/sites/default/files/Mexico_Plan-de-Accion-2016-2018.pdf"),
    ("4", "https://gobiernoabierto.mx.org/blog/2017/05/23/boletin-de-prensa-salida-nucleo/"),
    ("5", "https://gobiernoabierto.mx.org/blog/2017/02/17/carta-al-stt-sobre-espionaje/"),
    ("6", "http://aga.funcionpublica.gob.mx/aga/Home/Index"),
    ("7", "https://www.opengovpartnership.org/documents/mexico-mid-term-self-assessment-2016-2018"),
    ("8", "https://www.gob.mx/lobuenocuenta/"),
    ("9", "https://sisi.sedesol.gob.mx/"),
    ("10", "http://aga.funcionpublica.gob.mx/aga/Home/Documento?doc=1.%20Nota%20T%C3%A9cnica%20Programa%20Nacional%20de%20Exhumaciones.pdf"),
    ("10", "https://suii.segob.gob.mx/busqueda"),
    ("10", "https://aplicaciones.pgr.gob.mx/normatecasustantiva/Paginas/NSDetalle.aspx?IDItem=2334&st=2&term=protocolo%20homo&page=1&filter=&sort="),
    ("11", "http://perfilestoic.funcionpublica.gob.mx/directorio/"),
    ("12", "https://app.conagua.gob.mx/gobiernoabierto/Contenido.aspx?n1=10"),
    ("13", "http://aga.funcionpublica.gob.mx/aga/AdmCompromiso/Documento?doc=Nota%20aclaratoria%20COFEPRIS.pdf"),
    ("14", "http://aga.funcionpublica.gob.mx/aga/Home/Documento?doc=Nota%20Aclaratoria_%20compromiso%20Instancia%20tripartita%20Salud%203PA_VF.pdf"),
    ("15", "http://cambioclimatico.gob.mx/"),
    ("16", "http://aga.funcionpublica.gob.mx/aga/Home/Documento?doc=Guion%20comentado.pdf"),
]
SEED_TITLE = "Civil Society Shadow Report on the Third Mexican Open Government Action Plan (2016 - 2018)"

needs_seed = pytest.mark.skipif(
    not SEED_FILE.is_file(), reason=f"seed report not present at {SEED_FILE} (only shipped where CI runs)"
)


def pairs(citations: list[Citation]) -> list[tuple[str, str]]:
    return [(c.footnote, c.url) for c in citations]


def urls(text: str) -> list[str]:
    return [c.url for c in extract_citations(text)[0]]


# --- the seed report -------------------------------------------------------------------------


@needs_seed
def test_seed_file_yields_the_18_citations() -> None:
    document = read_document(SEED_FILE)
    assert pairs(document.citations) == SEED_PAIRS
    assert len({c.footnote for c in document.citations}) == 16
    assert document.problems == []


@needs_seed
def test_seed_file_metadata_and_lines() -> None:
    document = read_document(str(SEED_FILE))
    assert document.title == SEED_TITLE
    assert document.date == "2018-11"
    assert document.source == str(SEED_FILE)
    lines = SEED_FILE.read_text(encoding="utf-8").split("\n")
    for citation in document.citations:
        assert citation.url in lines[citation.line - 1]


@needs_seed
def test_seed_file_context_is_the_body_sentence_with_the_marker() -> None:
    by_label = {c.footnote: c.context for c in read_document(SEED_FILE).citations}
    assert by_label["1"].startswith("At a national level, Mexico has co-created")
    assert "end results¹⁰" in by_label["10"]
    assert by_label["6"].startswith("The **digital results board developed by SFP6**")


@needs_seed
def test_embedded_seed_matches_the_seed_file() -> None:
    assert load_seed().citations == read_document(SEED_FILE).citations


def test_load_seed_without_the_seed_folder() -> None:
    document = load_seed()
    assert isinstance(document, Document)
    assert pairs(document.citations) == SEED_PAIRS
    assert document.source == "embedded:seed"
    assert document.date == "2018-11"
    assert document.title == SEED_TITLE
    assert document.problems == []
    assert all(c.context and 0 < len(c.context) <= 310 and c.line > 0 for c in document.citations)


# --- URL edges -------------------------------------------------------------------------------


def test_angle_brackets_and_bare_urls() -> None:
    text = "1 Available at: <https://a.gob.mx/x>, <https://b.gob.mx/> y https://c.gob.mx/?a=&b=\n"
    assert pairs(extract_citations(text)[0]) == [
        ("1", "https://a.gob.mx/x"),
        ("1", "https://b.gob.mx/"),
        ("1", "https://c.gob.mx/?a=&b="),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(see https://a.gob.mx/x).", "https://a.gob.mx/x"),
        ("Query https://a.gob.mx/x?a=1&b=.", "https://a.gob.mx/x?a=1&b="),
        ("Page https://a.gob.mx/C.aspx?n1=10.", "https://a.gob.mx/C.aspx?n1=10"),
        ("Home https://a.gob.mx/, then", "https://a.gob.mx/"),
        ("Quoted “https://a.gob.mx/q”; done", "https://a.gob.mx/q"),
        ("Really https://a.gob.mx/r?!", "https://a.gob.mx/r"),
        ("(https://x.org/a_(b))", "https://x.org/a_(b)"),
        ("[see https://x.org/list]", "https://x.org/list"),
        ("https://a.gob.mx/%C3%A9%20x?q=%2F", "https://a.gob.mx/%C3%A9%20x?q=%2F"),
        ("a marker https://a.gob.mx/m¹ after", "https://a.gob.mx/m"),
    ],
)
def test_bare_url_boundaries(text: str, expected: str) -> None:
    assert urls(text) == [expected]


def test_url_cited_twice_stays_twice() -> None:
    assert urls("https://x.org/a and again https://x.org/a") == ["https://x.org/a", "https://x.org/a"]


def test_markdown_inline_link_and_image() -> None:
    text = 'A [report](https://x.org/r "Title") and ![chart](<https://x.org/c.png>) [notes](#notes).'
    assert urls(text) == ["https://x.org/r", "https://x.org/c.png"]


def test_markdown_link_with_parentheses_in_destination() -> None:
    assert urls("[wiki](https://en.wikipedia.org/wiki/A_(b)).") == ["https://en.wikipedia.org/wiki/A_(b)"]


def test_markdown_reference_link_context_is_the_using_sentence() -> None:
    text = "Intro. See [the plan][plan] for details.\n\n[plan]: <https://x.org/plan>\n"
    (citation,), problems = extract_citations(text)
    assert citation == Citation("inline", "https://x.org/plan", "See [the plan][plan] for details.", 3)
    assert problems == []


def test_markdown_footnotes() -> None:
    text = (
        "# Report\n\nThe plan was cut[^3]. Nothing else.\n\n"
        "[^3]: Available at https://x.org/three.\n"
        "[^note]: Also <https://x.org/note>\n"
    )
    citations, _ = extract_citations(text)
    assert pairs(citations) == [("3", "https://x.org/three"), ("note", "https://x.org/note")]
    assert citations[0].context == "The plan was cut[^3]."
    assert citations[0].line == 5
    assert citations[1].context == "Also <https://x.org/note>"


def test_plain_footnotes_with_superscript_labels_and_wrapped_url() -> None:
    text = (
        "A website¹⁵ was published. A list² too.\n\n"
        "¹⁵ Available at: <http://a.gob.mx/>\n"
        "2 Disclaimer available at:\n"
        "http://b.gob.mx/doc?x=1\n"
        "body text resumes at https://c.gob.mx/\n"
    )
    citations, _ = extract_citations(text)
    assert [(c.footnote, c.url, c.line) for c in citations] == [
        ("15", "http://a.gob.mx/", 3),
        ("2", "http://b.gob.mx/doc?x=1", 5),
        ("inline", "https://c.gob.mx/", 6),
    ]
    assert citations[0].context == "A website¹⁵ was published."
    assert citations[1].context == "A list² too."


def test_pdf_extracted_report_with_flattened_markers() -> None:
    text = (
        "**Informe de\nSeguimiento**\n\nMarzo 2020\n\n"
        "The audit report7 was late. The agency page<sup>8</sup> is empty. Costs rose in\n"
        "⁹, which nobody expected.\n\n"
        "7 Available at: <https://auditoria.gob.cl/informe?id=7&v=>\n"
        "8 Available at: http://agencia.gob.ar/pagina.\n"
        "⁹ See https://datos.gob.es/costos\n"
    )
    citations, problems = extract_citations(text)
    assert [(c.footnote, c.url, c.context) for c in citations] == [
        ("7", "https://auditoria.gob.cl/informe?id=7&v=", "The audit report7 was late."),
        ("8", "http://agencia.gob.ar/pagina", "The agency page<sup>8</sup> is empty."),
        ("9", "https://datos.gob.es/costos", "Costs rose in ⁹, which nobody expected."),
    ]
    assert problems == []


def test_title_and_date_from_a_split_bold_block(tmp_path: Path) -> None:
    path = tmp_path / "informe.txt"
    path.write_text("\u00a0\n\n**Informe de\nSeguimiento\n(2019 - 2020)**\n\nMarzo 2020\n\nText.\n", encoding="utf-8")
    document = read_document(path)
    assert (document.title, document.date) == ("Informe de Seguimiento (2019 - 2020)", "2020-03")
    assert document.citations == []


def test_footnote_without_marker_uses_its_own_text() -> None:
    (citation,), _ = extract_citations("Body.\n\n7 Report available at: <https://x.org/r>\n")
    assert citation.context == "Report available at: <https://x.org/r>"


def test_numbered_list_is_not_a_footnote() -> None:
    (citation,), _ = extract_citations("1. Read https://x.org/a first.\n")
    assert citation.footnote == "inline"


def test_context_is_one_short_sentence() -> None:
    text = "First sentence. " + "word " * 200 + "https://x.org/long " + "word " * 200 + ". Next one."
    (citation,), _ = extract_citations(text)
    assert len(citation.context) <= 310
    assert "https://x.org/long" in citation.context
    assert "First sentence" not in citation.context


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("Intro\nget ftp://files.x.org/a.zip now", 2, "ftp://files.x.org/a.zip"),
        ("Intro\n\nopen file:///etc/passwd", 3, "file:///etc/passwd"),
        ("write to mailto:someone@x.org.", 1, "mailto:someone@x.org"),
        ("x\ny\nz <javascript:alert(1)>", 3, "javascript:alert(1)"),
        ("img data:image/png;base64,AAAA", 1, "data:image/png;base64,AAAA"),
    ],
)
def test_other_schemes_are_problems(text: str, line: int, problem: str) -> None:
    citations, problems = extract_citations(text)
    assert citations == []
    assert problems == [Problem(line, problem, "scheme")]


@pytest.mark.parametrize(
    "bad",
    ["http://", "http:///x", "https://exa mple.com", "http://exa!mple.com/", "http://host.org:99999/",
     "http://host.org:port/", "http:/one-slash.org", "http://a..b.org/", "http://[zz/"],
)
def test_malformed_http_urls_are_problems(bad: str) -> None:
    citations, problems = extract_citations(f"Intro.\nsee {bad} here")
    assert citations == []
    assert problems == [Problem(2, bad, "malformed")]


def test_valid_and_invalid_mixed_in_order() -> None:
    citations, problems = extract_citations("ftp://a.org/x https://b.org/y http:// https://c.org/z")
    assert [c.url for c in citations] == ["https://b.org/y", "https://c.org/z"]
    assert [(p.text, p.reason) for p in problems] == [("ftp://a.org/x", "scheme"), ("http://", "malformed")]


def test_crlf_and_form_feeds_keep_line_numbers() -> None:
    citations, _ = extract_citations("a\r\n\fb\r\nc https://x.org/\r\n")
    assert citations[0].line == 3
    assert citations[0].url == "https://x.org/"


# --- reading documents -----------------------------------------------------------------------


def test_read_markdown_document(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text("# The *Report* Title\n\n15 March 2021\n\nSee https://x.org/a.\n", encoding="utf-8")
    document = read_document(path)
    assert document.title == "The Report Title"
    assert document.date == "2021-03-15"
    assert document.source == str(path)
    assert pairs(document.citations) == [("inline", "https://x.org/a")]


def test_read_cp1252_document(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Informe técnico\n\nVéase https://x.gob.mx/a\n".encode("cp1252"))
    document = read_document(path)
    assert document.title == "Informe técnico"
    assert urls("Véase https://x.gob.mx/a") == [c.url for c in document.citations]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=re.escape("nothere.txt")):
        read_document(tmp_path / "nothere.txt")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="is a directory"):
        read_document(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_text(" \n\n\t\n", encoding="utf-8")
    with pytest.raises(DocumentError, match=re.escape("empty.md")) as caught:
        read_document(path)
    assert "empty" in str(caught.value)


def test_damaged_pdf_file(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\x00\x01\x02endobj\n")
    with pytest.raises(DocumentError, match=re.escape("report.pdf")) as caught:
        read_document(path)
    message = str(caught.value)
    assert "report.pdf is not a readable PDF (" in message
    assert message.endswith("; check that it downloaded completely")
    assert "\n" not in message


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DocumentError, match=re.escape("blob.txt")):
        read_document(path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("https://x.org/", encoding="utf-8")

    # chmod cannot make a file unreadable for root, which CI containers often run as.
    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(DocumentError, match=re.escape("secret.txt")) as caught:
        read_document(path)
    assert "permission denied" in str(caught.value)


def test_a_url_in_a_very_long_list_gets_its_own_neighbourhood_as_context() -> None:
    from crawler.citations.sentences import MAX_CONTEXT, sentence_at

    urls = [f"http://127.0.0.{n % 200 + 2}/docs/pagina-{n}.html" for n in range(3000)]
    text = "\n".join(urls)
    for n in (0, 1500, 2999):
        offset = text.index(urls[n] + "\n") if n < 2999 else text.index(urls[n])
        context = sentence_at(text, offset + 5)
        assert urls[n] in context
        assert len(context) <= MAX_CONTEXT + 2
        assert context.startswith("…") == (n > 0) and context.endswith("…") == (n < 2999)
