"""Plain data carried from the citation extractor to the rest of the project.

Frozen where the value is a fact about the text (a citation, a skipped URL), so they can be
hashed, de-duplicated and compared in tests; ``Document`` is a mutable container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime
from typing import Any

from crawler.citations.normalize import normalize_url

INLINE = "inline"
"""Footnote label used for a URL that is not inside a footnote."""


@dataclass(frozen=True)
class Citation:
    """One URL as cited by the document.

    ``url`` is exactly as written (angle brackets removed, nothing decoded or normalised) so
    the archive can always be traced back to the text; where a link carries its own target
    (a PDF link annotation, an HTML ``href``, a Word hyperlink) it is that target, and
    ``visible`` holds the different URL the text shows, if any. ``normalized`` is the form
    used to tell that two spellings are one address (see ``normalize.py``); it is computed
    when not given. ``line`` is 1-based and points at the line holding the URL, which for a
    wrapped footnote may follow the line with its label; for a PDF it counts lines of the
    extracted text, for HTML lines of the source, for Word paragraphs (body, then footnotes,
    then endnotes). ``page`` is the 1-based page of a PDF, else None. ``accessed`` is the
    access date its note states ("consultado el 12 de marzo de 2017"), as YYYY-MM-DD, else ""
    (see ``accessdates.py``): the note is the footnote holding the URL, or for a URL in body
    text its paragraph; ``context`` is not it, since for a footnote that is the body sentence
    carrying the marker. ``quotes`` are the passages the citing sentence and the note put
    in quotation marks (``crawler.claims.quotes``), proposed as pins; they take no part in
    comparing citations.
    """

    footnote: str
    url: str
    context: str
    line: int
    page: int | None = None
    normalized: str = ""
    visible: str = ""
    accessed: str = ""
    quotes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.normalized:
            # Frozen: the computed default has to be set behind the dataclass's back.
            object.__setattr__(self, "normalized", normalize_url(self.url))


@dataclass(frozen=True)
class Problem:
    """Something URL-like that was not turned into a citation.

    ``reason`` is ``"scheme"`` (not http/https), ``"malformed"`` (http/https but unusable)
    or ``"relative"`` (a link target without a scheme and no base URL to resolve it against).
    """

    line: int
    text: str
    reason: str
    page: int | None = None


@dataclass
class Document:
    """A cited document: where it came from and what it cites."""

    title: str
    date: str
    source: str
    citations: list[Citation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    kind: str = "text"  # what the content was read as: pdf, docx, html or text (Markdown included)

    @property
    def distinct_urls(self) -> int:
        """The URLs it cites, each counted once however it is written."""
        return len({c.normalized for c in self.citations})

    def as_dict(self, *, recorded: bool, given: datetime.date | None = None) -> dict[str, Any]:
        """The document for machines (``evidence import --json``); ``recorded`` says
        whether its citations were recorded in a database, ``given`` is the day all its
        citations were made where the person importing it said so (``cited_at``)."""
        dates = [cited_at(c, self.date, given) for c in self.citations]
        return {
            "source": self.source,
            "type": self.kind,
            "title": self.title,
            "date": self.date,
            "recorded": recorded,
            "citations": [
                {
                    "footnote": c.footnote,
                    "page": c.page,
                    "url": c.url,
                    "normalized": c.normalized,
                    "visible": c.visible or None,
                    "context": c.context,
                    "line": c.line,
                    "cited_at": when.isoformat() if when else None,
                    "cited_at_source": source,
                    "quotes": list(c.quotes),
                }
                for c, (when, source) in zip(self.citations, dates, strict=True)
            ],
            "problems": [{"line": p.line, "page": p.page, "text": p.text, "reason": p.reason} for p in self.problems],
        }


def proposed_quotes(context: str, note: str) -> tuple[str, ...]:
    """The quoted passages of a citing sentence and of its note, each once: pins to propose."""
    from crawler.claims.quotes import quotes

    return tuple(dict.fromkeys([*quotes(context), *quotes(note)]))


NOTE = "note"
DOCUMENT = "document"
GIVEN = "given"


def cited_at(
    cited: Citation, document_date: str, given: datetime.date | None = None
) -> tuple[datetime.date | None, str | None]:
    """When ``cited`` was cited, and what says so: the date ``given`` for the whole document
    (``import --cited-at``), else the access date its note states, else the document's date
    when that is a whole day (a month, "2018-11", does not say which day), else nothing."""
    if given is not None:
        return given, GIVEN
    if cited.accessed:
        return datetime.date.fromisoformat(cited.accessed), NOTE
    if len(document_date) == 10:
        try:
            return datetime.date.fromisoformat(document_date), DOCUMENT
        except ValueError:
            pass
    return None, None
