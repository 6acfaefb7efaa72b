"""The text layer of a PDF as lines, with long URLs put back together.

pypdf hands out the text of a page as it draws it, in runs, each with a position and a font
size. From those runs this module rebuilds the lines a reader sees:

- a run raised above the line in a smaller font is a superscript: "SFP" + "6" + " contains"
  is one line, "SFP⁶ contains", and a note number drawn that way opens its footnote ("¹⁵
  Available at...");
- a note number glued to its URL ("3https://...") is split from it;
- a URL cut at the end of a line, or of a page, goes on with the next line when that line
  starts with what can only be the rest of a URL (see ``cuts.continues``).

A hyphen at a cut is kept: typesetters break URLs after a hyphen they contain without adding
one, so deleting it would invent an address. Only a link annotation whose target shows the
URL without it overrides that (in ``pdf.py``, which prefers annotation targets).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from crawler.citations.cuts import continues, open_url
from crawler.citations.urls import SUPERSCRIPT_DIGITS, TO_SUPERSCRIPT

Matrix = tuple[float, float, float, float, float, float]

_GLUED_LABEL = re.compile(rf"^(\s*(?:[0-9]{{1,3}}|[{SUPERSCRIPT_DIGITS}]{{1,3}}))(?=https?://)", re.IGNORECASE)
_NUMBER_LABEL = re.compile(r"^[ \t]{0,3}[0-9]{1,3}[ \t\u00a0]+\S")
_NOTE_START = re.compile(rf"^[ \t]{{0,3}}(?:[0-9]{{1,3}}[ \t\u00a0]+\S|[{SUPERSCRIPT_DIGITS}])")
# The gap pypdf leaves after a superscript: "2013¹ , 2014" -> "2013¹, 2014".
_AFTER_SUPERSCRIPT = re.compile(rf"(?<=[{SUPERSCRIPT_DIGITS}]) (?= |[,.;:!?)])")
_DIGITS = re.compile(r"\s*[0-9]{1,3}\s*")
_PAGE_FURNITURE = re.compile(r"^\s*(?:[0-9]{1,4}|[ivxlcdm]{1,7}|page\s+[0-9]+(?:\s+of\s+[0-9]+)?|[0-9]+\s*/\s*[0-9]+)\s*$", re.IGNORECASE)
# Lines are about 1.2 font sizes apart; a run less than 0.6 away is on the same line.
_SAME_LINE = 0.6
_SUPERSCRIPT = 0.85


@dataclass
class Run:
    """Text pypdf drew in one go, where and how big (in default user space)."""

    text: str
    x: float
    y: float
    size: float


@dataclass
class Part:
    """One printed line of a page, as part of a ``Line``: it starts at column ``start``."""

    page: int
    x: float
    y: float
    size: float
    start: int


@dataclass
class Line:
    """A line of the extracted text: one printed line, or several joined by a cut URL."""

    text: str
    parts: list[Part] = field(default_factory=list)
    small: bool = False  # set in a smaller size than the page's body text: a footnote's

    def part_at(self, column: int) -> Part:
        found = self.parts[0]
        for part in self.parts:
            if part.start <= column:
                found = part
        return found

    def part_end(self, part: Part) -> int:
        later = [p.start for p in self.parts if p.start > part.start]
        return min(later) if later else len(self.text)


def position(text_matrix: Matrix, current_matrix: Matrix, size: float) -> tuple[float, float, float]:
    """Where text drawn with these matrices starts on the page, and its size there."""
    a, b, c, d, e, f = text_matrix
    ca, cb, cc, cd, ce, cf = current_matrix
    x = e * ca + f * cc + ce
    y = e * cb + f * cd + cf
    scale = math.sqrt(abs((a * ca + b * cc) * (c * cb + d * cd) - (a * cb + b * cd) * (c * ca + d * cc)))
    return x, y, abs(size) * (scale or 1.0)


def page_lines(runs: list[Run], page: int) -> list[Line]:
    """The printed lines of one page, superscripts put back on the line they belong to."""
    rows: list[list[Run]] = [[]]
    for run in runs:
        pieces = run.text.split("\n")
        for index, piece in enumerate(pieces):
            if index:
                rows.append([])
            if piece:
                rows[-1].append(Run(piece, run.x, run.y, run.size))
    merged: list[list[Run]] = []
    for row in rows:
        if not row:
            continue
        if merged and _same_line(merged[-1], row):
            merged[-1].extend(row)
        else:
            merged.append(row)
    lines = [_render(row, page) for row in merged]
    return _mark_body_numbers(lines)


def _positioned(row: list[Run]) -> list[Run]:
    return [run for run in row if run.text.strip()]


def _same_line(before: list[Run], after: list[Run]) -> bool:
    previous, following = _positioned(before), _positioned(after)
    if not previous or not following:
        return False
    main = max(previous, key=lambda run: run.size)
    first = following[0]
    near = abs(first.y - main.y) <= _SAME_LINE * max(main.size, first.size)
    return near and first.x >= previous[-1].x


def _render(row: list[Run], page: int) -> Line:
    positioned = _positioned(row) or row
    main = max(positioned, key=lambda run: run.size)
    text = ""
    for run in row:
        piece = run.text
        # A note number set smaller than its line is a superscript marker or label.
        if _DIGITS.fullmatch(piece) and run.size < _SUPERSCRIPT * main.size:
            piece = piece.strip().translate(TO_SUPERSCRIPT)
        text += piece
    text = _GLUED_LABEL.sub(r"\1 ", _AFTER_SUPERSCRIPT.sub("", text.rstrip()))
    first = positioned[0]
    return Line(text, [Part(page, first.x, main.y, main.size, 0)])


def _mark_body_numbers(lines: list[Line]) -> list[Line]:
    """Tell footnote lines from body lines by their size, where the page sets footnotes
    smaller than its body text (pages without that contrast are left alone).

    text.py takes a line opening with a number for a footnote: a body line that merely
    starts with one ("400 participants...") is indented past the three spaces text.py allows
    before a label. Footnote lines are marked ``small`` so ``reflow`` can join a wrapped
    footnote into one line.
    """
    # The size notes are set in: the usual size of the lines that open with a note number.
    openers = Counter(round(line.parts[0].size, 1) for line in lines if _NOTE_START.match(line.text))
    if not openers:
        return lines
    note = openers.most_common(1)[0][0]
    # Body text is several lines in a larger size, not just a heading.
    if sum(line.parts[0].size * _SUPERSCRIPT >= note and len(line.text.strip()) > 20 for line in lines) < 2:
        return lines
    for line in lines:
        line.small = line.parts[0].size * _SUPERSCRIPT < note
        if _NUMBER_LABEL.match(line.text) and not line.small:
            line.text = "    " + line.text
    return lines


def reflow(lines: list[Line]) -> list[Line]:
    """Join the printed lines of each footnote into one line: text.py ends a footnote at the
    first line after its URL, which cuts off the second URL of "10 See <A>, <B> y" / "<C>"."""
    out: list[Line] = []
    for line in lines:
        before = out[-1] if out else None
        if (before is not None and before.small and line.small and line.parts[0].page == before.parts[-1].page
                and not _NOTE_START.match(line.text) and not is_furniture(line)):
            _append(before, line, separator=" ")
        else:
            out.append(line)
    return out


def is_furniture(line: Line) -> bool:
    """A page number or "Page 3 of 9" at the top or bottom of a page."""
    return bool(_PAGE_FURNITURE.match(line.text))


def rejoin(pages: list[list[Line]], targets: Callable[[int], Iterable[str]]) -> list[Line]:
    """Every page's lines in order, lines ending inside a URL joined with their rest.

    ``targets(page)`` gives the link-annotation targets of a page: where one says where a URL
    ends, it decides (see ``cuts.continues``). Pages are separated by a line holding a form feed,
    as pdftotext does, which also ends the paragraph for text.py.
    """
    flat: list[Line] = []
    for number, lines in enumerate(pages, start=1):
        if number > 1:
            flat.append(Line("\f", [Part(number, 0.0, 0.0, 0.0, 0)]))
        flat.extend(lines)
    out: list[Line] = []
    index = 0
    while index < len(flat):
        line = flat[index]
        index += 1
        passed: list[Line] = []
        while (opened := open_url(line.text)) is not None:
            found, between = _next_line(flat, index)
            if found is None:
                break
            following = flat[found]
            page_targets = set(targets(line.parts[-1].page)) | set(targets(following.parts[0].page))
            if not continues(opened[0], opened[1], following.text, page_targets):
                break
            _append(line, following)
            passed.extend(between)
            index = found + 1
        out.append(line)
        # Page numbers and the page break a URL was joined across come after it.
        out.extend(passed)
    return out


def _next_line(flat: list[Line], index: int) -> tuple[int | None, list[Line]]:
    """Where a URL cut at the end of the line before ``index`` can go on: the next line, or at
    the foot of a page the first line of the next page, past page numbers (returned too)."""
    position = index
    while position < len(flat) and (flat[position].text == "\f" or is_furniture(flat[position])):
        position += 1
    # A lone number in mid-page may be the rest of a URL ("…2012-" / "13"); at the foot of a
    # page, or of the document, it is a page number.
    crossed = position == len(flat) or any(line.text == "\f" for line in flat[index:position])
    if not crossed:
        return (index if index < len(flat) else None), []
    return (position if position < len(flat) else None), flat[index:position]


def _append(line: Line, following: Line, separator: str = "") -> None:
    line.text += separator
    rest = following.text.lstrip()
    shift = len(line.text) - (len(following.text) - len(rest))
    for part in following.parts:
        line.parts.append(Part(part.page, part.x, part.y, part.size, part.start + shift))
    line.text += rest
