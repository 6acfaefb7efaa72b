"""Citations from documents that say their structure: HTML and Word.

Those formats state which text is a footnote, where its marker sits and where a link goes,
so nothing has to be guessed from line shapes as for plain text. Their readers turn a file
into ``Passage``s (a paragraph of body text or of a note, with its links and note markers);
``cite`` turns passages into citations:

- every link target is cited, and every URL written in the text that is not a link's text;
- a link whose text is a different URL keeps that URL in ``visible``;
- a URL in a note gets the note's label and, as its context, the body sentence that carries
  the note's first marker (or the note's own sentence when nothing in the body marks it).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from crawler.citations.accessdates import dates_for
from crawler.citations.cuts import continues, open_url
from crawler.citations.model import INLINE, Citation, Problem, proposed_quotes
from crawler.citations.normalize import normalize_url
from crawler.citations.sentences import clip, sentence_at
from crawler.citations.urls import MAX_PROBLEM_TEXT, TO_SUPERSCRIPT, problem_reason, scan_line, shorten

# A link text that a site shortened for display ("https://example.org/a-long-pa…") is not a
# second address.
_ELLIPSES = ("…", "...")


@dataclass
class Link:
    """A link over ``text[start:end]`` of its passage, to ``url``."""

    start: int
    end: int
    url: str


@dataclass
class Passage:
    """A paragraph: its visible text, links and note markers, and where it is in the file."""

    note: str | None = None  # label of the footnote or endnote it belongs to, else body text
    text: str = ""
    links: list[Link] = field(default_factory=list)
    markers: list[tuple[int, str]] = field(default_factory=list)  # (offset, note label)
    lines: list[tuple[int, int]] = field(default_factory=list)  # (offset, line) checkpoints

    def add(self, text: str, line: int | None = None) -> None:
        """Append ``text``, which starts on ``line`` of the file (if known)."""
        if line is not None and text and (not self.lines or self.lines[-1][1] != line):
            self.lines.append((len(self.text), line))
        self.text += text

    def mark(self, label: str) -> None:
        """A marker of note ``label`` here, shown as a superscript number where it is one."""
        self.markers.append((len(self.text), label))
        self.text += label.translate(TO_SUPERSCRIPT) if label.isdigit() else f"[{label}]"

    def line_at(self, offset: int) -> int:
        if not self.lines:
            return 1
        index = bisect.bisect_right([start for start, _ in self.lines], offset) - 1
        return self.lines[max(index, 0)][1]


def marker_label(text: str) -> str:
    """The label a note marker shows: "[12]", "(iv)", "¹²" -> "12", "iv", "12"."""
    return text.strip().strip("[]()").strip().translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789"))


def cite(passages: list[Passage]) -> tuple[list[Citation], list[Problem]]:
    """The citations and skipped URLs of ``passages``, in their order."""
    first_marker: dict[str, tuple[Passage, int]] = {}
    for passage in passages:
        if passage.note is None:
            for offset, label in passage.markers:
                first_marker.setdefault(label, (passage, offset))
    citations: list[Citation] = []
    problems: list[Problem] = []
    for group in _notes(passages):
        # A note of several paragraphs is read as one text, so that "consultado el ..." in
        # its last paragraph dates a URL in its first.
        note = "\n".join(passage.text for passage in group)
        cited: list[tuple[Passage, int, str, str, int]] = []
        base = 0
        for passage in group:
            for offset, url, visible in _urls(passage):
                reason = problem_reason(url)
                if reason is not None:
                    problems.append(Problem(passage.line_at(offset), shorten(url, MAX_PROBLEM_TEXT), reason))
                    continue
                cited.append((passage, offset, url, visible, base + offset))
            base += len(passage.text) + 1
        places = [_place(note, start, url) for _, _, url, _, start in cited]
        accessed = dates_for(note, places) if cited else []
        for (passage, offset, url, visible, _), day in zip(cited, accessed, strict=True):
            context = _context(passage, offset, first_marker)
            citations.append(
                Citation(
                    passage.note or INLINE, url, context, passage.line_at(offset), visible=visible,
                    accessed=day.isoformat() if day else "", quotes=proposed_quotes(context, note),
                )
            )
    return citations, problems


def _place(note: str, start: int, url: str) -> tuple[int, int]:
    """Where a URL is in its note. A link's text may be words rather than its URL ("the
    report"): then only where it starts is known, which is near enough to tell which date
    follows it."""
    end = start + len(url)
    return (start, end) if note[start:end] == url else (start, start)


def _notes(passages: list[Passage]) -> list[list[Passage]]:
    """The passages in groups: each body paragraph alone, the paragraphs of one note together."""
    groups: list[list[Passage]] = []
    for passage in passages:
        if passage.note is not None and groups and groups[-1][-1].note == passage.note:
            groups[-1].append(passage)
        else:
            groups.append([passage])
    return groups


def _urls(passage: Passage) -> list[tuple[int, str, str]]:
    """(offset, URL, visible URL if it differs) for the links and the written URLs."""
    found: list[tuple[int, str, str]] = []
    written = _written(passage.text, {link.url for link in passage.links})
    for link in passage.links:
        inside = [span for start, span in written if link.start <= start < link.end]
        visible = ""
        if inside and not inside[0].endswith(_ELLIPSES) and normalize_url(inside[0]) != normalize_url(link.url):
            visible = inside[0]
        found.append((link.start, link.url, visible))
    for start, text in written:
        # A URL written as a link's text is that link, not a second citation.
        if not any(link.start <= start < link.end for link in passage.links):
            found.append((start, text, ""))
    return sorted(found, key=lambda item: item[0])


def _written(text: str, targets: set[str]) -> list[tuple[int, str]]:
    """(offset, URL) of the URLs written in ``text``. A URL broken by a line break (Word
    documents converted from PDF keep them) is read whole where ``cuts.continues`` allows."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found: list[tuple[int, str]] = []
    index = 0
    while index < len(lines):
        joined = lines[index]
        origin = list(range(starts[index], starts[index] + len(joined)))
        index += 1
        while index < len(lines) and (opened := open_url(joined)) and continues(*opened, lines[index], targets):
            rest = lines[index].lstrip()
            origin += range(starts[index + 1] - 1 - len(rest), starts[index + 1] - 1)
            joined += rest
            index += 1
        found += [(origin[span.start], span.text) for span in scan_line(joined)]
    return found


def _context(passage: Passage, offset: int, first_marker: dict[str, tuple[Passage, int]]) -> str:
    if passage.note is None:
        return sentence_at(passage.text, offset)
    marker = first_marker.get(passage.note)
    if marker is not None:
        return sentence_at(marker[0].text, marker[1])
    return clip(passage.text, offset)
