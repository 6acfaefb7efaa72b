"""What a capture means, as opposed to its bytes: the text a reader of the cited page sees.

``changed`` is raised when this meaning changes, not when the bytes do: government pages
carry per-request noise (ASP.NET ``__VIEWSTATE`` and ``__EVENTVALIDATION``, CSRF tokens,
session ids, "consulted on" timestamps, script nonces) that changes on every request.

- HTML: the visible text of the page's main content, one line per block, without
  scripts, styles, forms' hidden fields, navigation, header and footer (where sites put
  banners and clocks), with volatile tokens (times, dates, long numbers, hex and base64
  tokens) masked. The main content is what the page marks as such (``<main>``,
  ``role="main"``, a single top-level ``<article>``) or else a clearly dominant block:
  from ``<body>`` down, the container holding at least ``DOMINANT_SHARE`` of its parent's
  text outside links, as long as one does (page headings ``<h1>`` outside that block
  stay in the evidence: the page did not say they are not content). Everything else
  visible (a promotion after ``</main>``, a visit counter, a "most read" list) is the
  page's *boilerplate*: it gets a secondary fingerprint of its own, so a change there is
  recorded (``change: boilerplate``) but is not news. A page marking nothing and with no
  dominant block is evidence as a whole.
- Noise learned for the URL (see ``Noise``): lines that differed between two fetches of
  the page seconds apart are left out of both fingerprints.
- PDF: the text of its pages (pypdf), masked the same way.
- Anything else, or a PDF without a text layer: the decoded bytes.

Fingerprints are ``text-v2:sha256:<hex>`` (of the masked text) or ``bytes:sha256:<hex>``
(of the payload with its content coding undone), and one more form. The rules that made a
text fingerprint are its *basis* (``Meaning.basis``, stored beside it): the extractor's
version (``html-2``; for PDFs also pypdf's, whose text extraction changes between
releases) and how many noise lines were left out. Two fingerprints are only compared on
the same basis: a capture recorded under other rules is re-extracted from its WARC
record first, so a new extractor, a pypdf upgrade or newly learned noise never turns an
unchanged page into ``changed``. ``tests/test_golden_text.py`` pins the rules: change
what they produce and bump ``TEXT_VERSION``.

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
  result (see ``crawler/crawl/pipeline.py``). The
  verdict rules only ever compare resolved fingerprints. If the earlier payload cannot be
  read back, the two payloads' bytes are compared instead and the capture carries the
  signal ``previous_unreadable``.
"""

from __future__ import annotations

import codecs
import difflib
import functools
import hashlib
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeGuard

import lxml.html
from lxml import etree

from crawler.verdicts.decoding import inflate

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
#: the version of the rules turning a payload into evidence text: bump it with any change
#: to what they produce (the golden tests fail until it is bumped)
TEXT_VERSION = "text-v2"
_HTML_EXTRACTOR = "html-2"


@functools.cache
def _extractor(kind: str) -> str:
    """The extractor of ``kind`` and its version. pypdf's is read from its installed
    metadata, not by importing it: the import costs every command that judges text about
    60 ms, and PDFs are the only pages that need it."""
    if kind == "html":
        return _HTML_EXTRACTOR
    from importlib.metadata import version

    return f"pdf-2/pypdf-{version('pypdf')}"
#: a block holding this share of its parent's text outside links is the page's content
DOMINANT_SHARE = 0.8
# Elements a dominant content block can be: layout containers, not paragraphs or lists
# (a long paragraph is not a page's content on its own).
_CONTAINERS = {"div", "section", "article", "main", "table", "tbody", "tr", "td", "form", "center", "font", "span"}
_DOCUMENT_TYPES = ("application/pdf",)
#: the prefix of a fingerprint whose text extraction was deferred (80 characters in all,
#: the width of the ``fingerprint`` columns)
DEFERRED = "deferred:sha256:"
_MAX_TEXT_INPUT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Meaning:
    """The extracted meaning of a payload: ``kind`` is ``html``, ``pdf`` or ``bytes``."""

    kind: str
    #: the evidence text: the main content of an HTML page, a PDF's text
    text: str
    title: str
    fingerprint: str
    headings: tuple[str, ...] = ()
    #: the content coding's stream: ``complete``, ``cut`` (stops short), ``bomb`` (inflates
    #: past the limit: the meaning is then that of the bytes as received) or ``none``
    coding: str = "none"
    #: the visible text outside the main content, and its fingerprint (None where the
    #: whole page is the evidence)
    boilerplate: str = ""
    boilerplate_fingerprint: str | None = None
    #: the rules the fingerprints were made under (module docstring); ``bytes`` for a
    #: fingerprint of bytes, which no rule changes
    basis: str = "bytes"


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


def _parse(body: bytes, charset: str | None = None) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(body, parser=_parser(charset))
    except (etree.ParserError, ValueError):
        return None


@functools.lru_cache(maxsize=16)
def _parser(charset: str | None) -> lxml.html.HTMLParser | None:
    """A parser reading ``charset``, the one the HTTP head declares: it overrides a
    ``<meta charset>`` (as in browsers), and without either libxml2 reads Latin-1, so a
    UTF-8 page served with ``charset=utf-8`` and no meta came out as mojibake (a byte
    order mark still wins, as libxml2 sees it first)."""
    if charset is None:
        return None
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return None  # an unknown name: let the page's own meta decide
    return lxml.html.HTMLParser(encoding=name)


def _charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip("\"'"):
            return value.strip().strip("\"'").lower()
    return None


def _labels(root: lxml.html.HtmlElement) -> tuple[str, tuple[str, ...]]:
    """The title and the first main headings, as the page shows them."""
    title = " ".join((root.findtext(".//title") or "").split())
    headings = tuple(" ".join(h.text_content().split()) for h in root.iter("h1", "h2", "h3"))[:6]
    return title, headings


def _html_labels(body: bytes, charset: str | None = None) -> tuple[str, tuple[str, ...]]:
    # A tenth of the cost of the visible text: parsing is done in C, the walk is not.
    root = _parse(body, charset)
    return _labels(root) if root is not None else ("", ())


def _html_text(body: bytes, charset: str | None = None) -> tuple[str, str, str, tuple[str, ...]]:
    """The main content's text, the rest of the visible text ("" where the whole page is
    the content), the title and the headings."""
    root = _parse(body, charset)
    if root is None:
        return "", "", "", ()
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
    body_element = root.find("body")
    page = body_element if body_element is not None else root
    main, marked = _main_content(page)
    if main is None:
        return _block_text(page), "", title, headings
    text = _block_text(main)
    # Headings of the page outside a block found by its size alone: the page did not
    # say they are not content (a title edited from "vigente" to "cancelado" is news).
    outside = [] if marked else [h for h in page.iter("h1") if not _inside(h, main)]
    heads = [" ".join(h.text_content().split()) for h in outside]
    for element in [main, *outside]:
        if element.getparent() is not None:
            _drop(element)  # its tail stays: it is outside the content
    rest = _block_text(page)
    return "\n".join([*[h for h in heads if h], text]), rest, title, headings


def _inside(element: etree._Element, container: etree._Element) -> bool:
    return any(ancestor is container for ancestor in element.iterancestors())


def _block_text(top: etree._Element) -> str:
    """The visible text under ``top``, one line per block."""
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

    walk(top)
    flush()
    return "\n".join(lines)


def _main_content(page: etree._Element) -> tuple[etree._Element | None, bool]:
    """The element holding the page's content, and whether the page marked it itself;
    (None, False) where the whole page is its content."""
    for element in page.iterdescendants():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "main" or (element.get("role") or "").lower() == "main":
            if _has_text(element):
                return element, True
    articles = [a for a in page.iter("article") if not any(p.tag == "article" for p in a.iterancestors())]
    if len(articles) == 1 and _has_text(articles[0]):
        return articles[0], True
    sizes: dict[etree._Element, int] = {}
    _prose_size(page, sizes)
    node = page
    while True:
        kids = [child for child in node if isinstance(child.tag, str) and child.tag in _CONTAINERS]
        if not kids:
            break
        best = max(kids, key=lambda kid: sizes.get(kid, 0))
        if sizes.get(best, 0) == 0 or sizes[best] < DOMINANT_SHARE * sizes[node]:
            break
        node = best
    return (None, False) if node is page else (node, False)


def _has_text(element: etree._Element) -> bool:
    return bool("".join(element.itertext()).strip())


def _prose_size(element: etree._Element, sizes: dict[etree._Element, int]) -> int:
    """Characters of text under ``element`` outside links (a sidebar of links weighs
    nothing), recorded for every element."""
    if not isinstance(element.tag, str):
        return len((element.tail or "").strip())
    size = 0 if element.tag == "a" else len((element.text or "").strip())
    for child in element:
        size += _prose_size(child, sizes)
        size += len((child.tail or "").strip()) if isinstance(child.tag, str) else 0
    sizes[element] = size if element.tag != "a" else 0
    return sizes[element]


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
    noise: Noise | None = None,
) -> Meaning:
    """Extract and fingerprint what a reader of this payload sees, captured at ``when``,
    leaving out the lines ``noise`` knows to change on every request.

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
    noise = noise or Noise()
    if is_html(content_type, data):
        if "html" in defer:
            title, headings = _html_labels(data, _charset(content_type))
            return Meaning("html", "", title, DEFERRED + hashlib.sha256(data).hexdigest(), headings, coding)
        text, rest, title, headings = _html_text(data, _charset(content_type))
        return Meaning(
            "html", text, title, text_fingerprint(text, when, noise), headings, coding,
            rest, text_fingerprint(rest, when, noise) if rest else None, basis_of("html", noise),
        )
    if kind == "application/pdf" or data[:5] == b"%PDF-":
        if "pdf" in defer:
            return Meaning("pdf", "", "", DEFERRED + hashlib.sha256(data).hexdigest(), coding=coding)
        text = _pdf_text(data)
        if text.strip():
            return Meaning("pdf", text, "", text_fingerprint(text, when, noise), coding=coding, basis=basis_of("pdf", noise))
    return Meaning("bytes", "", "", "bytes:sha256:" + hashlib.sha256(data).hexdigest(), coding=coding)


def basis_of(kind: str, noise: Noise) -> str:
    """The rules a text fingerprint of ``kind`` is made under: extractor and noise."""
    return f"{_extractor(kind)};noise={len(noise)}"


def is_current(fingerprint: str | None, basis: str | None, noise: Noise) -> bool:
    """Whether a stored fingerprint was made under the rules in force with ``noise``:
    only then may it be compared with a new one as it is."""
    if fingerprint is None or is_deferred(fingerprint):
        return False
    if fingerprint.startswith("bytes:"):
        return True  # no extractor, no noise: the bytes are the bytes
    if basis is None or not fingerprint.startswith(TEXT_VERSION + ":"):
        return False
    extractor, _, count = basis.partition(";noise=")
    return extractor in (_HTML_EXTRACTOR, _extractor("pdf")) and count == str(len(noise))


def text_fingerprint(text: str, when: datetime | None, noise: Noise) -> str:
    """The fingerprint of evidence text: its lines less the noise, masked."""
    return _digest(TEXT_VERSION, mask(noise.drop(text), when))


_WILD = "\x00"


class Noise:
    """What changes between two fetches of one URL seconds apart: per-request text that no
    general pattern catches (a rotating promotion, a visit counter, a "most read" list in
    a new order). Kept per target as line templates: a line's words in lower case, with a
    wildcard for each word that differed while the rest of the line stayed (``anuncio
    \\x00`` from "Anuncio 566" and "Anuncio 799"); a line that moved, or changed in most of
    its words, is kept whole. A line is noise when it fits a template word for word.

    Templates only ever come from two answers seconds apart, so a line a site edits
    between runs is never noise: a one-word edit of a line that held no noise is still
    a change.
    """

    __slots__ = ("templates", "_exact", "_wild")

    def __init__(self, templates: Iterable[str] = ()) -> None:
        self.templates = frozenset(templates)
        self._exact = {t for t in self.templates if _WILD not in t}
        self._wild: dict[int, list[list[str]]] = {}
        for template in self.templates - self._exact:
            words = template.split(" ")
            self._wild.setdefault(len(words), []).append(words)

    def __len__(self) -> int:
        return len(self.templates)

    def is_noise(self, line: str) -> bool:
        words = line.lower().split()
        if " ".join(words) in self._exact:
            return True
        return any(
            all(t == _WILD or t == w for t, w in zip(template, words, strict=True))
            for template in self._wild.get(len(words), ())
        )

    def drop(self, text: str) -> str:
        if not self.templates:
            return text
        return "\n".join(line for line in text.split("\n") if not self.is_noise(line))

    def learn(self, first: str, second: str) -> Noise:
        """This noise and what differs between ``first`` and ``second``, two texts of the
        page fetched seconds apart."""
        a, b = first.split("\n"), second.split("\n")
        found: set[str] = set()
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            found.update(_templates(a[i1:i2], b[j1:j2]))
        found.discard("")
        return Noise(self.templates | found) if found - self.templates else self


def _templates(old: list[str], new: list[str]) -> set[str]:
    """Templates for the lines of two differing stretches: each old line paired with the
    new line of the same length differing in the fewest words (at most half of them)
    gives a template with wildcards; a line without such a partner is kept whole."""
    olds, news = [line.lower().split() for line in old], [line.lower().split() for line in new]
    found: set[str] = set()
    free = list(range(len(news)))
    for words in olds:
        best, fewest = None, len(words) // 2 + 1
        for index in free:
            if len(news[index]) == len(words):
                differ = sum(x != y for x, y in zip(words, news[index], strict=True))
                if 0 < differ < fewest:
                    best, fewest = index, differ
        if best is None:
            found.add(" ".join(words))
            continue
        free.remove(best)
        found.add(" ".join(x if x == y else _WILD for x, y in zip(words, news[best], strict=True)))
    found.update(" ".join(news[index]) for index in free)
    return found


def _digest(kind: str, text: str) -> str:
    return f"{kind}:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def similarity(a: str, b: str, when: datetime | None = None) -> float:
    """Jaccard similarity of the two texts' word sets, masked (1.0 for two empty texts)."""
    words_a, words_b = set(mask(a, when).lower().split()), set(mask(b, when).lower().split())
    if not words_a and not words_b:
        return 1.0
    return len(words_a & words_b) / len(words_a | words_b)
