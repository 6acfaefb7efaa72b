"""Find the URLs a plain-text or Markdown document cites.

The input is usually text extracted from a PDF, so the extractor is line based and forgiving:
footnotes are lines that start with a number ("1 Available at: ..."), a superscript number
("¹⁵ ...") or a Markdown footnote label ("[^1]: ..."); everything else is body text. A URL
found in a footnote is labelled with that footnote; any other URL is "inline". The citing
sentence is taken from the body text that carries the footnote's marker (¹, [^1], or a digit
glued to a word such as "SFP6", which is how PDF extraction often flattens superscripts).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from crawler.citations.accessdates import dates_for
from crawler.citations.meta import front_matter, guess_date, guess_title
from crawler.citations.model import INLINE, Citation, Document, Problem, proposed_quotes
from crawler.citations.sentences import clip, sentence_at
from crawler.citations.urls import (
    MAX_PROBLEM_TEXT,
    REFERENCE_DEF,
    SUPERSCRIPT_DIGITS,
    TO_DIGITS,
    URL_START_RE,
    Span,
    problem_reason,
    scan_line,
    shorten,
)
from crawler.exceptions import DocumentError

# --- document structure ----------------------------------------------------------------------

_MARKDOWN_FOOTNOTE = re.compile(r"^ {0,3}\[\^(?P<label>[^\]\s]+)\]:[ \t]*")
# One to three digits then a space: "2018 was ..." and "1. Item" are not footnotes.
# A superscript label may touch its text ("¹⁵Available") but not punctuation: "¹⁰, which" is
# body text whose marker landed at the start of a wrapped line.
_PLAIN_FOOTNOTE = re.compile(
    r"^[ \t]{0,3}(?:(?P<digits>[0-9]{1,3})[ \t\u00a0]+(?=\S)"
    rf"|(?P<sup>[{SUPERSCRIPT_DIGITS}]{{1,3}})(?![{SUPERSCRIPT_DIGITS}])[ \t\u00a0]*(?=[^\W_]|[<\"“(\[]))"
)
# Lines that open a new block even without a blank line before them.
_BLOCK_START = re.compile(r"^ {0,3}(?:[-*+•][ \t]|\d{1,3}[.)][ \t]|#{1,6}(?:[ \t]|$)|>|\[[^\]]+\]:)")
_OPEN_LIST = re.compile(r"(?:[,;:&]|\b(?:y|e|o|u|and|or|et|ou|und|oder))$", re.IGNORECASE)
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]*_]*$")

# "[^1]", "¹", and the "<sup>1</sup>" / "^1^" that Word-to-Markdown converters write.
_EXPLICIT_MARKER = re.compile(
    rf"\[\^(?P<markdown>[^\]\s]+)\](?!:)|(?P<sup>[{SUPERSCRIPT_DIGITS}]+)"
    r"|<sup>\s*(?P<html>[^<>\s]+)\s*</sup>|\^(?P<caret>\d{1,3})\^",
    re.IGNORECASE,
)
# PDF extraction often flattens "SFP⁶" to "SFP6": a number glued to the end of a word.
_GLUED_MARKER = re.compile(r"(?<=[^\W\d_])(?P<digits>[0-9]{1,3})(?!\w)")
# "[text][id]", "[id][]" and the shortcut "[id]" (not an inline link, footnote or definition).
_REFERENCE_USE = re.compile(
    r"\[(?P<text>[^\[\]]+)\]\[(?P<full>[^\[\]]*)\]|\[(?P<short>[^\[\]^][^\[\]]*)\](?![:(\[])"
)


@dataclass
class _Block:
    """Consecutive lines read together: a body paragraph or one footnote."""

    lines: list[tuple[int, str]]
    label: str | None = None  # footnote label; None for body text
    text: str = ""
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        offset = 0
        for _, line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1
        self.text = "\n".join(line for _, line in self.lines)

    def line_at(self, offset: int) -> int:
        return self.lines[bisect.bisect_right(self.starts, offset) - 1][0]


# --- public API ------------------------------------------------------------------------------


def extract_citations(text: str) -> tuple[list[Citation], list[Problem]]:
    """Return the http(s) URLs ``text`` cites, in order, and the URL-like things it skipped."""
    located, problems = extract_located(text)
    return [item.citation for item in located], problems


@dataclass(frozen=True)
class HiddenLink:
    """A link the text does not show, such as a PDF link annotation over the words "the
    report": it is cited from ``column`` of ``line`` as if its URL were written there."""

    line: int
    column: int
    url: str


@dataclass(frozen=True)
class Located:
    """A citation and the column (0-based) of its URL in its line."""

    citation: Citation
    column: int


def extract_located(text: str, hidden: Iterable[HiddenLink] = ()) -> tuple[list[Located], list[Problem]]:
    """``extract_citations`` that also says where on its line each URL is, and cites the
    ``hidden`` links from their places in the text."""
    lines = _split_lines(text)
    blocks = _segment(lines)
    unseen: dict[int, list[Span]] = defaultdict(list)
    for link in hidden:
        column = max(0, min(link.column, len(lines[link.line - 1]) if 0 < link.line <= len(lines) else 0))
        unseen[link.line].append(Span(column, column, link.url))
    spans = [
        [(index, span) for index, (number, line) in enumerate(b.lines) for span in _spans(line, unseen.pop(number, []))]
        for b in blocks
    ]
    # A hidden link on a blank line still belongs to the document; it is cited as inline text.
    for number, orphans in sorted(unseen.items()):
        blocks.append(_Block([(number, "")]))
        spans.append([(0, span) for span in orphans])
    body = _BodyIndex([(b, _mask(b, found)) for b, found in zip(blocks, spans, strict=True) if b.label is None])

    located: list[Located] = []
    problems: list[Problem] = []
    for block, found in zip(blocks, spans, strict=True):
        cited: list[tuple[int, Span]] = []
        for index, span in found:
            number = block.lines[index][0]
            reason = problem_reason(span.text)
            if reason is not None:
                problems.append(Problem(number, shorten(span.text, MAX_PROBLEM_TEXT), reason))
                continue
            cited.append((index, span))
        # The block is the note: a footnote, or the paragraph around a URL in body text.
        places = [(block.starts[index] + span.start, block.starts[index] + span.end) for index, span in cited]
        accessed = dates_for(block.text, places) if cited else []
        for (index, span), (offset, _), day in zip(cited, places, accessed, strict=True):
            context = _context(block, offset, span, body)
            citation = Citation(
                block.label or INLINE, span.text, context, block.lines[index][0], accessed=_iso(day),
                quotes=proposed_quotes(context, block.text),
            )
            located.append(Located(citation, span.start))
    return located, problems


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _spans(line: str, hidden: list[Span]) -> list[Span]:
    found = scan_line(line)
    return sorted(found + hidden, key=lambda span: span.start) if hidden else found


def parse_document(text: str, source: str) -> Document:
    """Build a ``Document`` from text already in memory; ``source`` names it in messages."""
    if not text.strip():
        raise DocumentError(f"{source} is empty; give a document that holds text")
    lines = _split_lines(text)
    front = front_matter(lines)
    citations, problems = extract_citations(text)
    return Document(
        title=front.get("title") or guess_title(lines),
        date=front.get("date") or guess_date(lines),
        source=source,
        citations=citations,
        problems=problems,
    )


# --- segmentation ----------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    # Split on "\n" only: PDF extractions keep form feeds at page breaks and editors do not
    # count those as lines, so str.splitlines() would shift every line number after them.
    return [line.removesuffix("\r") for line in text.split("\n")]


def _footnote_label(line: str) -> tuple[str, bool] | None:
    """The footnote label a line opens, and whether it is Markdown, or None."""
    if match := _MARKDOWN_FOOTNOTE.match(line):
        return match["label"], True
    if match := _PLAIN_FOOTNOTE.match(line):
        return (match["digits"] or match["sup"].translate(TO_DIGITS)), False
    return None


def _segment(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[tuple[int, str]] = []
    label: str | None = None
    markdown = False

    def close() -> None:
        nonlocal current, label
        if current:
            blocks.append(_Block(current, label))
        current, label = [], None

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            close()
            continue
        opened = _footnote_label(line)
        if opened is not None:
            close()
            label, markdown = opened
        elif label is not None and not _continues_footnote(current, line, markdown):
            close()
        elif label is None and _BLOCK_START.match(line):
            close()
        current.append((number, line))
    close()
    return blocks


def _continues_footnote(lines: list[tuple[int, str]], line: str, markdown: bool) -> bool:
    """Whether ``line`` wraps the footnote in ``lines`` rather than resuming body text.

    PDF extraction wraps long footnotes ("14 Disclaimer ... available at:" / "http://...") but
    also runs body text straight after a footnote at a page break. A footnote that already
    has its URL, or that ended its sentence, is taken as complete.
    """
    if markdown and line[:1] in (" ", "\t"):
        return True
    if _BLOCK_START.match(line):
        return False
    # "10 Available at: <A>, <B> y" goes on: a list of URLs is not over after "y" or ",".
    if _OPEN_LIST.search(lines[-1][1].rstrip()) and URL_START_RE.match(line.lstrip("<( ")):
        return True
    if any(URL_START_RE.search(text) for _, text in lines):
        return False
    return not _ENDS_SENTENCE.search(lines[-1][1].rstrip())


# --- context ---------------------------------------------------------------------------------


def _context(block: _Block, offset: int, span: Span, body: _BodyIndex) -> str:
    if block.label is not None:
        marker = body.marker(block.label, block.lines[0][0])
        if marker is not None:
            return sentence_at(marker.block.text, marker.offset)
        label_end = _footnote_text_start(block.lines[0][1])
        return clip(block.text[label_end:], offset - label_end)
    if span.reference is not None:
        usage = body.reference_use(span.reference)
        if usage is not None:
            return sentence_at(usage.block.text, usage.offset)
    return sentence_at(block.text, offset)


def _footnote_text_start(line: str) -> int:
    match = _MARKDOWN_FOOTNOTE.match(line) or _PLAIN_FOOTNOTE.match(line)
    return match.end() if match else 0


def _mask(block: _Block, found: list[tuple[int, Span]]) -> str:
    """The block's text with URLs blanked, so "page6" inside a URL is not a marker."""
    chars = list(block.text)
    for index, span in found:
        base = block.starts[index]
        chars[base + span.start : base + span.end] = " " * (span.end - span.start)
    return "".join(chars)


@dataclass(frozen=True)
class _Place:
    """A spot in the body text: a footnote marker or a use of a reference link."""

    line: int
    block: _Block
    offset: int


class _BodyIndex:
    """Footnote markers and reference-link uses in the body, indexed once so that a document
    with a thousand footnotes is not rescanned a thousand times."""

    def __init__(self, body: list[tuple[_Block, str]]) -> None:
        self._explicit: dict[str, list[_Place]] = defaultdict(list)
        self._glued: dict[str, list[_Place]] = defaultdict(list)
        self._references: dict[str, _Place] = {}
        for block, masked in body:
            for match in _EXPLICIT_MARKER.finditer(masked):
                label = match["markdown"] or match["html"] or match["caret"] or match["sup"].translate(TO_DIGITS)
                self._explicit[label].append(self._place(block, match.start()))
            for match in _GLUED_MARKER.finditer(masked):
                self._glued[match["digits"]].append(self._place(block, match.start()))
            if REFERENCE_DEF.match(block.text):
                continue
            for match in _REFERENCE_USE.finditer(masked):
                name = _reference_key(match["full"] or match["text"] or match["short"])
                self._references.setdefault(name, self._place(block, match.start()))

    @staticmethod
    def _place(block: _Block, offset: int) -> _Place:
        return _Place(block.line_at(offset), block, offset)

    def marker(self, label: str, footnote_line: int) -> _Place | None:
        """Where the body cites footnote ``label``: the nearest marker before the footnote
        (labels restart per chapter in some reports), else the first explicit one after it.
        Explicit markers (¹, [^1]) win over numbers glued to a word ("SFP6"), which PDF
        extraction leaves where a superscript was flattened but which can also be noise."""
        for places, explicit in ((self._explicit.get(label, []), True), (self._glued.get(label, []), False)):
            before = bisect.bisect_left(places, footnote_line, key=lambda place: place.line)
            if before > 0:
                return places[before - 1]
            if explicit and places:
                return places[0]
        return None

    def reference_use(self, reference: str) -> _Place | None:
        return self._references.get(_reference_key(reference))


def _reference_key(name: str) -> str:
    # Markdown matches reference labels case-insensitively and ignoring inner whitespace.
    return " ".join(name.split()).casefold()
