"""The seed report's footnote section as real PDF, Word, HTML and Markdown files.

The PDF is drawn with reportlab the way word processors print footnotes: smaller type than
the body, superscript markers and labels, long URLs cut at the end of a line, a note number
glued to its URL, link annotations over some URLs, two pages. The .docx is made with
python-docx, and its footnotes part (python-docx has no footnote API) is written here as
Word writes it: separator notes, ``w:footnoteReference`` runs, hyperlinks through
relationships, a ``HYPERLINK`` field, tracked changes, runs split mid-URL and a URL broken
across lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from tests.test_citations import SEED_PAIRS

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
BODY_FONT, NOTE_FONT, MARK_FONT = 10.0, 8.0, 5.5
LEFT = 72.0


def seed_notes() -> dict[str, list[str]]:
    """{footnote label: its URLs} in order, from the hard-coded list of the seed's citations."""
    notes: dict[str, list[str]] = {}
    for label, url in SEED_PAIRS:
        notes.setdefault(label, []).append(url)
    return notes


# --- PDF -----------------------------------------------------------------------------------------


@dataclass
class Piece:
    """Text drawn on one printed line; ``link`` puts a link annotation over it."""

    text: str
    size: float = NOTE_FONT
    rise: float = 0.0
    link: str | None = None


@dataclass
class PdfPage:
    body: list[list[Piece]] = field(default_factory=list)
    notes: list[list[Piece]] = field(default_factory=list)


def superscript(text: str, size: float = MARK_FONT) -> Piece:
    return Piece(text, size=size, rise=size * 0.6)


def draw_pdf(path: Path, pages: Sequence[PdfPage], *, title: str = "", encrypt: str | None = None) -> Path:
    """Draw ``pages`` (body lines from the top, note lines from the bottom third) to ``path``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    pdf.setTitle(title)
    for page in pages:
        y = 770.0
        for line in page.body:
            _draw_line(pdf, y, line)
            y -= BODY_FONT * 1.3
        if page.notes:
            pdf.line(LEFT, 250, LEFT + 150, 250)
        y = 236.0
        for line in page.notes:
            _draw_line(pdf, y, line)
            y -= NOTE_FONT * 1.25
        pdf.setFont("Helvetica", 8)
        pdf.showPage()
    pdf.save()
    return path


def _draw_line(pdf: object, y: float, pieces: list[Piece]) -> None:
    x = LEFT
    for piece in pieces:
        pdf.setFont("Helvetica", piece.size)  # type: ignore[attr-defined]
        pdf.drawString(x, y + piece.rise, piece.text)  # type: ignore[attr-defined]
        width = pdf.stringWidth(piece.text, "Helvetica", piece.size)  # type: ignore[attr-defined]
        if piece.link:
            box = (x, y - piece.size * 0.25, x + width, y + piece.size * 0.95)
            pdf.linkURL(piece.link, box, relative=0, thickness=0)  # type: ignore[attr-defined]
        x += width


def seed_pdf(path: Path, *, encrypt: str | None = None) -> Path:
    """The seed report's footnote section on two pages, each under a little body text."""
    n = seed_notes()
    at = Piece("Available at: ")
    page1 = PdfPage(
        body=[
            [Piece("At a national level, Mexico has co-created three Action Plans: 2012-2013", BODY_FONT), superscript("1"),
             Piece(", 2013-2015", BODY_FONT), superscript("2"), Piece(",", BODY_FONT)],
            [Piece("and 2016-2018", BODY_FONT), superscript("3"), Piece(". The Third Action Plan was co-created with over", BODY_FONT)],
            [Piece("400 participants, and the Core Group left the TTS in May of 2017.", BODY_FONT), superscript("4")],
            [Piece("Surveillance of Civil Society members", BODY_FONT), superscript("5"), Piece(" was reported.", BODY_FONT)],
            [Piece("The digital results board developed by SFP", BODY_FONT), superscript("6"), Piece(" holds documents.", BODY_FONT)],
        ],
        notes=[
            # Cut after a hyphen of the URL, with an annotation over both halves.
            [Piece("1 "), at, Piece("https://www.opengovpartnership.org/documents/mexico-first-", link=n["1"][0])],
            [Piece("national-action-plan-2012-13", link=n["1"][0])],
            [Piece("2 "), at, Piece("<"), Piece(n["2"][0], link=n["2"][0]), Piece(">")],
            # The note number glued to its URL, as extraction leaves a tight superscript.
            [Piece("3" + n["3"][0])],
            # A superscript label, and a URL cut after "/" inside angle brackets.
            [superscript("4"), Piece(" " + "Available at: <https://gobiernoabierto.mx.org/blog/2017/05/23/")],
            [Piece("boletin-de-prensa-salida-nucleo/>")],
            [Piece("5 "), at, Piece("<" + n["5"][0] + ">")],
            [Piece("6 "), at, Piece(n["6"][0], link=n["6"][0])],
            # Cut after a hyphen of a bare URL, no annotation: the hyphen stays, nothing is added.
            [Piece("7 "), at, Piece(n["7"][0][:61])],
            [Piece(n["7"][0][61:])],
            [Piece("8 "), at, Piece(n["8"][0])],
            [Piece("9 "), at, Piece("<" + n["9"][0] + ">")],
        ],
    )
    first, second, third = n["10"]
    page2 = PdfPage(
        body=[
            [Piece("Evidence of end results", BODY_FONT), superscript("10"), Piece(" is scarce; the directory", BODY_FONT),
             superscript("11"), Piece(" is stale.", BODY_FONT)],
            [Piece("Water", BODY_FONT), superscript("12"), Piece(" and health", BODY_FONT), superscript("13"),
             Piece(" results were disclaimed", BODY_FONT), superscript("14"), Piece(".", BODY_FONT)],
            [Piece("A climate website", BODY_FONT), superscript("15"), Piece(" and a guide", BODY_FONT), superscript("16"),
             Piece(" were published.", BODY_FONT)],
        ],
        notes=[
            # A long URL cut mid-escape-sequence run, inside angle brackets.
            [Piece("10 "), at, Piece("<" + first[:62])],
            [Piece(first[62:] + ">, <" + second + "> y")],
            # Cut after "=": the query goes on on the next line; an annotation covers it.
            [Piece("<" + third[:100], link=third)],
            [Piece(third[100:], link=third), Piece(">")],
            [Piece("11 "), at, Piece("<" + n["11"][0] + ">")],
            [Piece("12 "), at, Piece(n["12"][0])],
            [Piece("13 Disclaimer of these results available at:")],
            [Piece("<" + n["13"][0] + ">")],
            # A bare URL cut after "%20": the rest is plainly a URL's.
            [Piece("14 Disclaimer of these results available at: " + n["14"][0][:74])],
            [Piece(n["14"][0][74:])],
            [superscript("15"), Piece(" " + "Available at: <" + n["15"][0] + ">")],
            [superscript("16"), Piece(" " + "Available at: <" + n["16"][0] + ">", link=n["16"][0])],
        ],
    )
    return draw_pdf(path, [page1, page2], title="Civil Society Shadow Report", encrypt=encrypt)


# --- DOCX ----------------------------------------------------------------------------------------


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def note_reference(note_id: int, kind: str = "footnote") -> str:
    style = "FootnoteReference" if kind == "footnote" else "EndnoteReference"
    return f'<w:r><w:rPr><w:rStyle w:val="{style}"/><w:vertAlign w:val="superscript"/></w:rPr><w:{kind}Reference w:id="{note_id}"/></w:r>'


def field_link(url: str, text: str) -> str:
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> HYPERLINK {quoteattr(url).replace(chr(39), chr(34))} \\o "open" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"{run(text)}"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


class Docx:
    """A python-docx document with footnotes and endnotes parts written as Word writes them."""

    def __init__(self) -> None:
        import docx

        self.document = docx.Document()
        self.document.core_properties.title = "Civil Society Shadow Report"
        self.notes: dict[str, list[tuple[int, str]]] = {"footnote": [], "endnote": []}
        self.parts: dict[str, object] = {}

    def paragraph(self, xml: str) -> None:
        from docx.oxml import parse_xml

        paragraph = parse_xml(f'<w:p xmlns:w="{W}" xmlns:r="{R}">{xml}</w:p>')
        self.document.element.body.insert(len(self.document.element.body) - 1, paragraph)

    def hyperlink(self, url: str, text: str, *, part: str = "document") -> str:
        from docx.opc.constants import RELATIONSHIP_TYPE as RT

        owner = self.document.part if part == "document" else self._part(part)
        rel_id = owner.relate_to(url, RT.HYPERLINK, is_external=True)  # type: ignore[attr-defined]
        styled = f'<w:r><w:rPr><w:rStyle w:val="Hyperlink"/></w:rPr><w:t>{escape(text)}</w:t></w:r>'
        return f'<w:hyperlink r:id="{rel_id}" w:history="1">{styled}</w:hyperlink>'

    def note(self, note_id: int, xml: str, kind: str = "footnote") -> None:
        self._part(kind)
        self.notes[kind].append((note_id, xml))

    def _part(self, kind: str) -> object:
        from docx.opc.constants import CONTENT_TYPE as CT
        from docx.opc.constants import RELATIONSHIP_TYPE as RT
        from docx.opc.packuri import PackURI
        from docx.opc.part import Part

        if kind not in self.parts:
            content_type, rel_type = (CT.WML_FOOTNOTES, RT.FOOTNOTES) if kind == "footnote" else (CT.WML_ENDNOTES, RT.ENDNOTES)
            part = Part(PackURI(f"/word/{kind}s.xml"), content_type, b"", self.document.part.package)
            self.document.part.relate_to(part, rel_type)
            self.parts[kind] = part
        return self.parts[kind]

    def save(self, path: Path) -> Path:
        for kind, part in self.parts.items():
            ref = "footnoteRef" if kind == "footnote" else "endnoteRef"
            notes = [
                f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>',
                f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:{kind}>',
            ]
            for note_id, xml in self.notes[kind]:
                notes.append(
                    f'<w:{kind} w:id="{note_id}"><w:p><w:pPr><w:pStyle w:val="{kind.title()}Text"/></w:pPr>'
                    f'<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:{ref}/></w:r>{xml}</w:p></w:{kind}>'
                )
            xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   f'<w:{kind}s xmlns:w="{W}" xmlns:r="{R}">{"".join(notes)}</w:{kind}s>')
            part._blob = xml.encode("utf-8")  # type: ignore[attr-defined]
        self.document.save(str(path))
        return path


def seed_docx(path: Path) -> Path:
    """The seed's 16 footnotes in a .docx whose note ids are not its display numbers."""
    n = seed_notes()
    doc = Docx()
    doc.paragraph(run("Civil Society Shadow Report on the Third Mexican Open Government Action Plan"))
    doc.paragraph(run("November 2018"))
    # Word numbers notes by where the body refers to them; ids are whatever the editor left.
    ids = {label: 100 + 7 * int(label) for label in n}
    sentences = {
        "1": "Mexico has co-created Action Plans in 2012-2013", "2": ", 2013-2015", "3": " and 2016-2018",
        "4": ". The Core Group left in May of 2017.", "5": " Surveillance was reported",
        "6": ". The digital results board developed by SFP", "7": " was assessed", "8": ". A website",
        "9": " and a system", "10": " hold few end results", "11": ". The directory", "12": " and water data",
        "13": " were disclaimed", "14": " twice", "15": ". A climate website", "16": " and a guide were published.",
    }
    body = []
    for label in n:
        body.append(run(sentences[label]) + note_reference(ids[label]))
        if label in ("4", "9", "14"):
            doc.paragraph("".join(body))
            body = []
    doc.paragraph("".join(body) + run(" See also https://www.gob.mx/lobuenocuenta/ for the board."))
    for label, urls in n.items():
        parts = [run(" Available at: ")]
        for index, url in enumerate(urls):
            if index:
                parts.append(run(", " if index < len(urls) - 1 else " y "))
            number = int(label)
            if number % 3 == 0:
                parts.append(doc.hyperlink(url, url, part="footnote"))
            elif number % 3 == 1 and index == 0:
                parts.append(field_link(url, url))
            elif number == 5:
                # Split over runs, with a tracked deletion inside that Word does not show.
                cut = url.index("/blog/") + 6
                parts.append(run(url[:cut]) + '<w:del w:id="9" w:author="x"><w:r><w:delText>2016/</w:delText></w:r></w:del>'
                             + f'<w:ins w:id="10" w:author="x">{run(url[cut:cut + 8])}</w:ins>' + run(url[cut + 8:]))
            elif number == 11:
                # Broken across lines, as Word keeps a URL converted from a PDF's text.
                cut = url.index("/directorio")
                parts.append(run(url[:cut + 1]) + "<w:r><w:br/></w:r>" + run(url[cut + 1:]))
            else:
                parts.append(run(url))
        doc.note(ids[label], "".join(parts))
    return doc.save(path)


# --- HTML and Markdown ---------------------------------------------------------------------------


def seed_html() -> str:
    """A page with Pandoc's footnote markup: markers in <sup>, an <ol> of notes at the end."""
    n = seed_notes()
    markers = "".join(
        f'Claim {label}<sup><a href="#fn{label}" id="fnref{label}" role="doc-noteref">{label}</a></sup>. ' for label in n
    )
    items = []
    for label, urls in n.items():
        links = ", ".join(f'<a href="{escape(url)}">{escape(url)}</a>' for url in urls)
        items.append(f'<li id="fn{label}"><p>Available at: {links} <a href="#fnref{label}" role="doc-backlink">↩︎</a></p></li>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Civil Society Shadow Report</title>\n'
        '<base href="https://gobiernoabierto.mx.org/informe/">\n</head>\n<body>\n'
        '<nav><a href="/">Home</a> <a href="https://twitter.com/x">Follow</a></nav>\n'
        f"<h1>Civil Society Shadow Report</h1>\n<p>{markers}</p>\n"
        '<p>The <a href="anexo.pdf">annex</a> and the <a href="mailto:nucleo@example.org">core group</a>.</p>\n'
        '<section id="footnotes" class="footnotes footnotes-end-of-document" role="doc-endnotes">\n<hr>\n<ol>\n'
        + "\n".join(items)
        + "\n</ol>\n</section>\n</body>\n</html>\n"
    )


def seed_markdown() -> str:
    """Reference links in the body, their definitions at the end, and Markdown footnotes."""
    n = seed_notes()
    lines = ["# Civil Society Shadow Report", "", "November 2018", ""]
    lines.append("The [first plan][plan-1] and the [second plan][Plan-2] were co-created[^3].")
    lines.append("")
    for label in list(n)[3:]:
        lines.append(f"Claim {label}[^{label}].")
    lines.append("")
    lines.append(f"[plan-1]: <{n['1'][0]}>")
    lines.append(f'[plan-2]: {n["2"][0]} "The second plan"')
    lines.append("")
    for label, urls in list(n.items())[2:]:
        lines.append(f"[^{label}]: Available at: " + ", ".join(f"<{url}>" for url in urls))
    return "\n".join(lines) + "\n"
