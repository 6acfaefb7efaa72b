"""What a capture means, as opposed to its bytes: the text a reader of the cited page sees.

``changed`` is raised when this meaning changes, not when the bytes do: government pages
carry per-request noise (ASP.NET ``__VIEWSTATE`` and ``__EVENTVALIDATION``, CSRF tokens,
session ids, "consulted on" timestamps, script nonces) that changes on every request.

- HTML: the visible text, one line per block, without scripts, styles, forms' hidden
  fields, navigation, header and footer (where sites put banners and clocks), with
  volatile tokens (times, dates, long numbers, hex and base64 tokens) masked.
- PDF: the text of its pages (pypdf), masked the same way.
- Anything else, or a PDF without a text layer: the decoded bytes.

Fingerprints are ``text:sha256:<hex>`` (of the masked text) or ``bytes:sha256:<hex>`` (of
the payload with its content coding undone), and one more form:

- ``deferred:sha256:<hex>``: an HTML page or a PDF whose text was not extracted, ``<hex>``
  being the SHA-256 of the payload with its content coding undone (the hex of its
  ``bytes:`` fingerprint). The text only matters once a later capture's bytes differ, to
  tell per-request noise or a re-generated PDF from a change of text, and extracting it is
  most of what judging a capture costs (0.3 ms for a 28 KB page, tens of milliseconds for
  a small PDF, seconds for a long report). So the pipeline defers it on a target's first
  capture (unless a soft-404 probe answered with a page of the same kind, whose text is
  compared with this one's), and the first capture whose bytes differ resolves it: the
  earlier payload is read back from the WARC, its meaning computed with its own capture
  time, and every row of the target holding that deferred fingerprint is updated to the
  result (see ``crawler/pipelines/evidence.py``). The
  verdict rules only ever compare resolved fingerprints. If the earlier payload cannot be
  read back, the two payloads' bytes are compared instead and the capture carries the
  signal ``previous_unreadable``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeGuard

import lxml.html
from lxml import etree

from crawler.decoding import inflate

logger = logging.getLogger(__name__)

# Elements whose content a reader does not see, or sees on every page of the site.
_INVISIBLE = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "head", "input", "select", "textarea", "button", "nav", "header", "footer", "aside",
)
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
_BLOCKS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "td", "th",
    "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "blockquote", "pre", "dd", "dt", "dl",
    "form", "fieldset", "figure", "figcaption", "caption", "address", "body", "title",
}
_VOLATILE = [
    re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[ap]\.?\s?m\.?)?(?!\d)", re.I),  # 04:17, 4:17:22 p.m.
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),  # UUIDs
    re.compile(r"\b\d{10,}\b"),  # epoch stamps, folios, request ids (grab-site's 10+ digits)
    re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b", re.I),  # hex tokens
    re.compile(r"(?<![\w-])(?=[A-Za-z0-9+/=_]*\d)(?=[A-Za-z0-9+/=_]*[A-Za-z])[A-Za-z0-9+/=_]{24,}"),  # base64 tokens
]
_MONTHS = {
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
    "en": ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"],
}
_DOCUMENT_TYPES = ("application/pdf",)
#: the prefix of a fingerprint whose text extraction was deferred (80 characters in all,
#: the width of the ``fingerprint`` columns)
DEFERRED = "deferred:sha256:"
_MAX_TEXT_INPUT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Meaning:
    """The extracted meaning of a payload: ``kind`` is ``html``, ``pdf`` or ``bytes``."""

    kind: str
    text: str
    title: str
    fingerprint: str
    headings: tuple[str, ...] = ()
    #: the content coding's stream: ``complete``, ``cut`` (stops short), ``bomb`` (inflates
    #: past the limit: the meaning is then that of the bytes as received) or ``none``
    coding: str = "none"


def _day_spellings(day: date) -> list[str]:
    """Ways pages write a given day ("27/11/2026", "2026-11-27", "27 de noviembre de 2026"...)."""
    d, m, y = day.day, day.month, day.year
    numeric = [f"{d:02d}/{m:02d}/{y}", f"{d}/{m}/{y}", f"{d:02d}-{m:02d}-{y}", f"{d:02d}.{m:02d}.{y}",
               f"{y}-{m:02d}-{d:02d}", f"{y}/{m:02d}/{d:02d}", f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y}",
               f"{d:02d}/{m:02d}/{y % 100:02d}"]
    es, en = _MONTHS["es"][m - 1], _MONTHS["en"][m - 1]
    words = [f"{d} de {es} de {y}", f"{d} de {es} del {y}", f"{d:02d} de {es} de {y}", f"{en} {d}, {y}",
             f"{d} {en} {y}", f"{d} {en[:3]} {y}", f"{en[:3]} {d}, {y}", f"{d}-{en[:3]}-{y}"]
    return numeric + words


def mask(text: str, when: datetime | None = None) -> str:
    """Blank what changes between two requests for the same page.

    Dates are blanked only when they are the day of the capture (give or take one day
    for the server's time zone): "consulted on" stamps are noise, a deadline that moved
    from 2018 to 2019 is evidence.
    """
    dates = _date_pattern(when) if when is not None else None
    # Every volatile pattern needs a digit, and none reaches further than _REACH characters
    # from a run of non-space characters holding one (a long token is covered whole). So
    # only windows around such runs are searched, cut at whitespace so that the patterns'
    # word boundaries see what they would see in the whole text: prose without numbers,
    # most of a page, costs one scan for digits.
    pieces: list[str] = []
    done = 0
    for start, end in _digit_windows(text):
        pieces.append(text[done:start])
        pieces.append(_mask_window(text[start:end], dates))
        done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


_REACH = 32
_DIGITS = re.compile(r"\d+")
# Latin-1 holds no decimal digits but 0-9: byte "0" where a digit was, " " elsewhere.
_DIGIT_MARKS = bytes(0x30 if 0x30 <= code <= 0x39 else 0x20 for code in range(256))


def _digit_runs(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of every run of digits (what ``\\d+`` finds), in order.

    The regular expression costs 7 ns a character; most pages fit Latin-1, where two
    C passes (encode, translate) and a ``find`` per run cost 20 times less.
    """
    try:
        marks = text.encode("latin-1").translate(_DIGIT_MARKS)
    except UnicodeEncodeError:
        for found in _DIGITS.finditer(text):
            yield found.span()
        return
    find = marks.find
    start = find(b"0")
    while start != -1:
        end = find(b" ", start)
        if end == -1:
            end = len(marks)
        yield start, end
        start = find(b"0", end)


def _digit_windows(text: str) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    size = len(text)
    for run_start, run_end in _digit_runs(text):
        if windows and run_end + _REACH <= windows[-1][1]:
            continue  # already inside a window reaching far enough past it
        start = max(run_start - _REACH, 0)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        end = min(run_end + _REACH, size)
        while end < size and not text[end].isspace():
            end += 1
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def _mask_window(text: str, dates: tuple[re.Pattern[str], tuple[str, ...]] | None) -> str:
    if dates is not None and any(year in text for year in dates[1]):
        text = dates[0].sub("#", text)
    for volatile in _VOLATILE:
        text = volatile.sub("#", text)
    return text


@functools.lru_cache(maxsize=8)
def _date_pattern_for(day: date) -> tuple[re.Pattern[str], tuple[str, ...]]:
    days = [day + timedelta(days=offset) for offset in (-1, 0, 1)]
    spellings = sorted({s for d in days for s in _day_spellings(d)}, key=len, reverse=True)
    pattern = re.compile(r"(?<!\d)(?:" + "|".join(re.escape(s) for s in spellings) + r")(?!\d)", re.I)
    # Every spelling holds its four-digit year or ends in "/MM/YY": a window holding
    # neither cannot match, and the costly alternation is skipped.
    years = {str(d.year) for d in days} | {f"/{d.month:02d}/{d.year % 100:02d}" for d in days}
    return pattern, tuple(sorted(years))


def _date_pattern(when: datetime) -> tuple[re.Pattern[str], tuple[str, ...]]:
    return _date_pattern_for(when.date())


def _parse(body: bytes) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return None


def _labels(root: lxml.html.HtmlElement) -> tuple[str, tuple[str, ...]]:
    """The title and the first main headings, as the page shows them."""
    title = " ".join((root.findtext(".//title") or "").split())
    headings = tuple(" ".join(h.text_content().split()) for h in root.iter("h1", "h2", "h3"))[:6]
    return title, headings


def _html_labels(body: bytes) -> tuple[str, tuple[str, ...]]:
    # A tenth of the cost of the visible text: parsing is done in C, the walk is not.
    root = _parse(body)
    return _labels(root) if root is not None else ("", ())


def _html_text(body: bytes) -> tuple[str, str, tuple[str, ...]]:
    root = _parse(body)
    if root is None:
        return "", "", ()
    title, headings = _labels(root)
    for element in list(root.iter(*_INVISIBLE)):
        if element.getparent() is not None:
            _drop(element)
    for element in list(root.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None:
            continue
        role = (element.get("role") or "").lower()
        if role in _BOILERPLATE_ROLES or element.get("hidden") is not None or element.get("aria-hidden") == "true":
            _drop(element)
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = " ".join(" ".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    def walk(element: etree._Element) -> None:
        # Comments and processing instructions have no str tag: their text is skipped,
        # their tail (real text after them) is not.
        block = isinstance(element.tag, str) and element.tag in _BLOCKS
        if block:
            flush()
        if isinstance(element.tag, str) and element.text:
            current.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                current.append(child.tail)
        if block:
            flush()

    body_element = root.find("body")
    walk(body_element if body_element is not None else root)
    flush()
    return "\n".join(lines), title, headings


def _drop(element: etree._Element) -> None:
    """Remove ``element``, keeping the text after it (joined to the text before it)."""
    try:
        element.drop_tree()
    except ValueError:
        # The text holds a control character, which libxml2 keeps from the page but lxml
        # refuses to be given back: the joined text is lost, the page is still read.
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        logger.debug("no text from PDF: %s", exc)
        return ""
    return "\n".join(" ".join(line.split()) for page in pages for line in page.splitlines() if line.strip())


def is_html(content_type: str | None, body: bytes) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    return not kind and body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))


def is_document(content_type: str | None) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    office = ("application/vnd.openxmlformats", "application/msword", "application/vnd.ms-", "application/vnd.oasis")
    return kind in _DOCUMENT_TYPES or kind.startswith(office)


def is_deferred(fingerprint: str | None) -> TypeGuard[str]:
    return fingerprint is not None and fingerprint.startswith(DEFERRED)


def as_bytes(fingerprint: str) -> str:
    """A deferred fingerprint as the fingerprint of its bytes (for comparing bytes only)."""
    return "bytes:sha256:" + fingerprint.removeprefix(DEFERRED) if is_deferred(fingerprint) else fingerprint


def bytes_fingerprint(body: bytes, content_encoding: str | None) -> str:
    """The ``bytes:`` fingerprint of a payload, its content coding undone as ``meaning`` does."""
    inflated = inflate(body, content_encoding, _MAX_TEXT_INPUT)
    return "bytes:sha256:" + hashlib.sha256(body if inflated.over_limit else inflated.data).hexdigest()


def meaning(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    when: datetime | None = None,
    *,
    defer: frozenset[str] = frozenset(),
) -> Meaning:
    """Extract and fingerprint what a reader of this payload sees, captured at ``when``.

    For a kind in ``defer`` (``html``, ``pdf``) the text is not extracted: the meaning has
    no text and a ``deferred:`` fingerprint, to be resolved if a later capture differs. An
    HTML page still gets its title and headings, which the soft-404 signals read.
    """
    inflated = inflate(body, content_encoding, _MAX_TEXT_INPUT)
    coding = "none" if not content_encoding else "bomb" if inflated.over_limit else "complete" if inflated.complete else "cut"
    if coding == "bomb":
        return Meaning("bytes", "", "", "bytes:sha256:" + hashlib.sha256(body).hexdigest(), coding=coding)
    data = inflated.data
    kind = (content_type or "").split(";")[0].strip().lower()
    if is_html(content_type, data):
        if "html" in defer:
            title, headings = _html_labels(data)
            return Meaning("html", "", title, DEFERRED + hashlib.sha256(data).hexdigest(), headings, coding)
        text, title, headings = _html_text(data)
        return Meaning("html", text, title, _digest("text", mask(text, when)), headings, coding)
    if kind == "application/pdf" or data[:5] == b"%PDF-":
        if "pdf" in defer:
            return Meaning("pdf", "", "", DEFERRED + hashlib.sha256(data).hexdigest(), coding=coding)
        text = _pdf_text(data)
        if text.strip():
            return Meaning("pdf", text, "", _digest("text", mask(text, when)), coding=coding)
    return Meaning("bytes", "", "", "bytes:sha256:" + hashlib.sha256(data).hexdigest(), coding=coding)


def _digest(kind: str, text: str) -> str:
    return f"{kind}:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def similarity(a: str, b: str, when: datetime | None = None) -> float:
    """Jaccard similarity of the two texts' word sets, masked (1.0 for two empty texts)."""
    words_a, words_b = set(mask(a, when).lower().split()), set(mask(b, when).lower().split())
    if not words_a and not words_b:
        return 1.0
    return len(words_a & words_b) / len(words_a | words_b)
