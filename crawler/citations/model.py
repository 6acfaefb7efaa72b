"""Plain data carried from the citation extractor to the rest of the project.

Frozen where the value is a fact about the text (a citation, a skipped URL), so they can be
hashed, de-duplicated and compared in tests; ``Document`` is a mutable container.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INLINE = "inline"
"""Footnote label used for a URL that is not inside a footnote."""


@dataclass(frozen=True)
class Citation:
    """One URL as cited by the document.

    ``url`` is exactly as written (angle brackets removed, nothing decoded or normalised) so
    the archive can always be traced back to the text. ``line`` is 1-based and points at the
    line holding the URL, which for a wrapped footnote may follow the line with its label.
    """

    footnote: str
    url: str
    context: str
    line: int


@dataclass(frozen=True)
class Problem:
    """Something URL-like that was not turned into a citation.

    ``reason`` is ``"scheme"`` (not http/https) or ``"malformed"`` (http/https but unusable).
    """

    line: int
    text: str
    reason: str


@dataclass
class Document:
    """A cited document: where it came from and what it cites."""

    title: str
    date: str
    source: str
    citations: list[Citation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
