"""Plain data carried from the citation extractor to the rest of the project.

Frozen where the value is a fact about the text (a citation, a skipped URL), so they can be
hashed, de-duplicated and compared in tests; ``Document`` is a mutable container.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    then endnotes). ``page`` is the 1-based page of a PDF, else None.
    """

    footnote: str
    url: str
    context: str
    line: int
    page: int | None = None
    normalized: str = ""
    visible: str = ""

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

    def as_dict(self, *, recorded: bool) -> dict[str, Any]:
        """The document for machines (``evidence import --json``); ``recorded`` says
        whether its citations were recorded in a database."""
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
                }
                for c in self.citations
            ],
            "problems": [{"line": p.line, "page": p.page, "text": p.text, "reason": p.reason} for p in self.problems],
        }
