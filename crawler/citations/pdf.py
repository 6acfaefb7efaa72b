"""Citations from a PDF: its text layer, page by page, and its link annotations.

The text is rebuilt line by line (``pdflines.py``), long URLs rejoined, pages separated by a
form feed, and handed to the plain-text extractor, which finds footnotes, markers and citing
sentences. Then the link annotations (``/Annots``, ``/A /URI``) are laid over it:

- an annotation over a visible URL with the same normalized address confirms it;
- an annotation over a visible URL of the same host but another address wins: the citation
  takes the annotation's target (what a reader's click opens) and keeps the text's version
  in ``visible``, so the disagreement is reported;
- an annotation over words ("the report") is a citation of its own, cited from that spot of
  the line, so it gets the footnote label and sentence of the text under it.

``line`` counts lines of that extracted text (form feeds included, as pdftotext writes
them) and ``page`` is the 1-based page the URL starts on.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from crawler.citations.meta import guess_date, guess_title, iso_date, usable_title
from crawler.citations.model import Citation, Document, Problem
from crawler.citations.normalize import normalize_url
from crawler.citations.pdflines import Line, Matrix, Part, Run, page_lines, position, reflow, rejoin
from crawler.citations.text import HiddenLink, extract_located
from crawler.citations.urls import Span, host_of, problem_reason, scan_line
from crawler.exceptions import DocumentError

# An average glyph is about half as wide as the font is high: enough to place a link
# annotation's left edge at a column of its line.
_GLYPH_WIDTH = 0.5


@dataclass(frozen=True)
class Annotation:
    """A link annotation with a URI action."""

    page: int
    url: str
    left: float
    bottom: float
    top: float


def read_pdf(raw: bytes, name: str) -> Document:
    """The citations of the PDF ``raw``; ``name`` names the file in messages."""
    reader = _open(raw, name)
    try:
        pages = [page_lines(list(_runs(page)), number) for number, page in enumerate(reader.pages, start=1)]
        annotations = [link for number, page in enumerate(reader.pages, start=1) for link in _annotations(page, number)]
        info: Any = reader.metadata or {}
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        # Damaged files fail deep inside pypdf with all kinds of errors.
        raise DocumentError(f"{name} is a damaged PDF ({_reason(error)}); open and save it again, or print it to a new PDF") from None
    if not any(line.text.strip() for lines in pages for line in lines):
        if not pages:
            raise DocumentError(f"{name} has no pages; check it is the whole file")
        raise DocumentError(f"{name} has no text layer (scanned?); run OCR first, e.g. ocrmypdf {name} ocr.pdf")

    by_page: dict[int, set[str]] = {}
    for link in annotations:
        by_page.setdefault(link.page, set()).add(link.url)
    lines = reflow(rejoin(pages, lambda page: by_page.get(page, set())))
    text = "\n".join(line.text for line in lines)
    placed, hidden = _place_annotations(lines, annotations)
    located, problems = extract_located(text, hidden)

    citations: list[Citation] = []
    for item in located:
        line = lines[item.citation.line - 1]
        page = line.part_at(item.column).page
        target = placed.get((item.citation.line, item.column))
        citation = item.citation
        if target is not None and normalize_url(target) != citation.normalized:
            citation = replace(citation, url=target, normalized="", visible=citation.url)
        citations.append(replace(citation, page=page))
    plain = [line.text for line in lines]
    return Document(
        title=usable_title(_info(info, "/Title")) or guess_title(plain),
        date=guess_date(plain) or iso_date(_info(info, "/CreationDate")),
        source=name,
        citations=citations,
        problems=[_on_page(problem, lines) for problem in problems],
        kind="pdf",
    )


def _open(raw: bytes, name: str) -> PdfReader:
    # pypdf logs every repair it makes to a damaged file; the error, if any, says enough.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(
                f"{name} is encrypted; decrypt it first, e.g. qpdf --decrypt --password=PASSWORD {name} decrypted.pdf"
            )
        return reader
    except DocumentError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError, NotImplementedError) as error:
        if "decrypt" in str(error).lower() or "crypt" in type(error).__name__.lower():
            raise DocumentError(
                f"{name} is encrypted; decrypt it first, e.g. qpdf --decrypt --password=PASSWORD {name} decrypted.pdf"
            ) from None
        raise DocumentError(f"{name} is not a readable PDF ({_reason(error)}); check that it downloaded completely") from None


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:119] + "…"


def _runs(page: Any) -> Iterator[Run]:
    runs: list[Run] = []

    def visit(text: str, current: Matrix, matrix: Matrix, _font: Any, size: float) -> None:
        if text:
            x, y, scaled = position(tuple(matrix), tuple(current), float(size or 0))  # type: ignore[arg-type]
            runs.append(Run(text, x, y, scaled))

    page.extract_text(visitor_text=visit)
    return iter(runs)


def _annotations(page: Any, number: int) -> Iterator[Annotation]:
    for reference in page.get("/Annots") or []:
        annotation = reference.get_object()
        if annotation.get("/Subtype") != "/Link":
            continue
        action = annotation.get("/A")
        action = action.get_object() if action is not None else None
        if action is None or action.get("/S") != "/URI" or action.get("/URI") is None:
            continue
        url = action["/URI"]
        url = url.decode("utf-8", "replace") if isinstance(url, bytes) else str(url)
        x1, y1, x2, y2 = (float(value) for value in annotation.get("/Rect", [0, 0, 0, 0]))
        yield Annotation(number, url.strip(), min(x1, x2), min(y1, y2), max(y1, y2))


def _info(info: Any, key: str) -> str:
    value = info.get(key)
    return str(value) if value is not None else ""


def _on_page(problem: Problem, lines: list[Line]) -> Problem:
    return replace(problem, page=lines[problem.line - 1].parts[0].page)


# --- annotations over the text -----------------------------------------------------------------


def _place_annotations(lines: list[Line], annotations: list[Annotation]) -> tuple[dict[tuple[int, int], str], list[HiddenLink]]:
    """Which visible URL each annotation is over, as {(line, column): target}, and the
    annotations over no URL, as hidden links of the text."""
    spans = [scan_line(line.text) for line in lines]
    # The printed lines of each page, so that an annotation is only compared with its page.
    printed: dict[int, list[tuple[int, Line, Part]]] = {}
    for index, line in enumerate(lines):
        for part in line.parts:
            if line.text.strip():
                printed.setdefault(part.page, []).append((index + 1, line, part))
    placed: dict[tuple[int, int], str] = {}
    hidden: list[HiddenLink] = []
    for link in annotations:
        covered = _covered(printed.get(link.page, []), spans, link)
        same = [(number, span) for number, span in covered if normalize_url(span.text) == normalize_url(link.url)]
        if same:
            for number, span in same:
                placed.setdefault((number, span.start), link.url)
            continue
        # Two spellings of one host: the text and the link disagree about one address.
        related = [(number, span) for number, span in covered
                   if (number, span.start) not in placed and problem_reason(span.text) is None
                   and _site(span.text) == _site(link.url)]
        if related:
            number, span = max(related, key=lambda item: _common_prefix(item[1].text, link.url))
            placed[(number, span.start)] = link.url
            continue
        if any(placed.get((number, span.start)) == link.url for number, span in covered):
            continue
        hidden.append(_hidden(printed.get(link.page, []), link) or HiddenLink(_page_break(lines, link.page), 0, link.url))
    return placed, hidden


def _covered(printed: list[tuple[int, Line, Part]], spans: list[list[Span]], link: Annotation) -> list[tuple[int, Span]]:
    """The URLs written on the printed lines inside the annotation's rectangle."""
    found: list[tuple[int, Span]] = []
    for number, line, part in printed:
        if _inside(part.y, part.size, link):
            end = line.part_end(part)
            found += [(number, span) for span in spans[number - 1] if span.start < end and span.end > part.start]
    return list(dict.fromkeys(found))


def _inside(baseline: float, size: float, link: Annotation) -> bool:
    # A link rectangle runs from below the baseline (descenders) to above the capitals.
    return link.bottom - 0.35 * size <= baseline <= link.top - 0.1 * size


def _hidden(printed: list[tuple[int, Line, Part]], link: Annotation) -> HiddenLink | None:
    """The annotation as a link written where its rectangle starts: on the printed line it
    covers (or the nearest one of its page), at the column its left edge falls on."""
    best: tuple[float, int, int] | None = None
    for number, line, part in printed:
        distance = 0.0 if _inside(part.y, part.size, link) else abs(part.y - (link.bottom + link.top) / 2)
        if best is None or distance < best[0]:
            width = max(part.size * _GLYPH_WIDTH, 1.0)
            column = part.start + max(0, round((link.left - part.x) / width))
            best = (distance, number, min(column, line.part_end(part)))
    return HiddenLink(best[1], best[2], link.url) if best is not None else None


def _page_break(lines: list[Line], page: int) -> int:
    for index, line in enumerate(lines):
        if line.parts[0].page >= page:
            return index + 1
    return len(lines)


def _site(url: str) -> str:
    host = (host_of(url) or "").lower()
    return host.removeprefix("www.")


def _common_prefix(first: str, second: str) -> int:
    size = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        size += 1
    return size
