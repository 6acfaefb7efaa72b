"""Citations from an HTML page: ``<a href>`` targets, URLs written in the text, and notes.

Notes are found the ways HTML editors write them:

- a link to ``#id`` further down the page, inside ``<sup>`` or marked ``role="doc-noteref"``
  or a ``footnote-ref``/``noteref`` class, or showing "1"/"[1]" and pointing at an id such as
  ``fn1``, ``ftn1``, ``_ftn1``, ``endnote-1`` or ``cite_note-1`` (Pandoc, Word's "Save as
  HTML", Google Docs, Wikipedia). Its text is the note's label; the note is the element with
  that id, or the paragraph or list item holding it;
- the ``<li>`` of a list inside ``role="doc-endnotes"``/``doc-footnotes`` or a ``footnotes``
  / ``endnotes`` section, numbered as the list shows them;
- elements whose id is such a note id, even when nothing links to them.

Relative links are resolved against ``<base href>`` when the page has one; without it they
cannot be fetched and are reported as skipped (``relative``). Links inside ``<nav>`` are
site navigation, not citations, and are not read. ``line`` is the line of the HTML source.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
from lxml import etree

from crawler.citations.files import decode_guess, html_charset
from crawler.citations.meta import guess_date, guess_title, iso_date, usable_title
from crawler.citations.model import Document
from crawler.citations.passages import Link, Passage, cite, marker_label
from crawler.exceptions import DocumentError

_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hgroup hr html li main ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_SKIPPED = frozenset("head nav script style template noscript svg math select textarea iframe object".split())
_NOTE_HOLDERS = frozenset("li aside div section p dd td footer".split())
_NOTE_ID = re.compile(
    r"^_?(?:fn|ftn|ftnt|footnote|fnote|endnote|edn|en|note|cite_note|ref)[-_:.]?(?:[a-z]+[-_:.])*(?P<label>\d{1,4}|[ivxlcdm]{1,7})$",
    re.IGNORECASE,
)
_LABEL_TEXT = re.compile(r"^[\[(]?\s*(?:\d{1,4}|[ivxlcdm]{1,7}|[a-z]|[*†‡§]{1,3}|[⁰¹²³⁴⁵⁶⁷⁸⁹]{1,4})\s*[\])]?$", re.IGNORECASE)
_REF_CLASSES = ("footnote-ref", "noteref", "fnref", "footnote-reference", "footnoteref")
_CONTAINER_CLASSES = ("footnotes", "endnotes", "footnote-list", "references")
_META_DATES = ("date", "dc.date", "dcterms.date", "dcterms.created", "dcterms.issued", "citation_publication_date",
               "article:published_time", "datepublished")
_SPACE = re.compile(r"\s+")


def read_html(raw: bytes, name: str) -> Document:
    """The citations of the HTML page ``raw``; ``name`` names the file in messages."""
    root = _parse(raw, name)
    base = _base(root)
    notes, refs = _find_notes(root)
    walker = _Walker(notes, refs, base)
    body = root.find("body")
    walker.walk(body if body is not None else root)
    passages = [passage for passage in walker.passages if passage.text.strip() or passage.links]
    if not passages:
        raise DocumentError(f"{name} is an HTML page without text; give the saved page that holds the report")
    citations, problems = cite(passages)
    # Blank lines between passages, so the title guess sees paragraphs as in a text file.
    lines = [line for passage in passages if passage.note is None for line in (passage.text.strip(), "")]
    return Document(
        title=usable_title(_first_text(root, "head/title") or _first_text(root, ".//h1")) or guess_title(lines),
        date=_meta_date(root) or guess_date(lines),
        source=name,
        citations=citations,
        problems=problems,
        kind="html",
    )


def _parse(raw: bytes, name: str) -> Any:
    encoding = html_charset(raw)
    text = raw.decode(encoding, "replace") if encoding else decode_guess(raw)
    # lxml refuses a str that still declares its encoding, which is already applied here.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as error:
        if not text.strip():
            raise DocumentError(f"{name} is empty; give a document that holds text") from None
        raise DocumentError(f"{name} is not readable HTML ({error}); save the page again from the browser") from None


def _base(root: Any) -> str | None:
    for element in root.iter("base"):
        href = (element.get("href") or "").strip()
        if urlsplit(href).scheme in ("http", "https"):
            return href
    return None


def _first_text(root: Any, path: str) -> str:
    element = root.find(path)
    return _SPACE.sub(" ", element.text_content()).strip() if element is not None else ""


def _meta_date(root: Any) -> str:
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or "").lower()
        if key in _META_DATES and (found := iso_date(meta.get("content") or "")):
            return found
    return ""


# --- notes ------------------------------------------------------------------------------------


def _find_notes(root: Any) -> tuple[dict[Any, str], dict[Any, str]]:
    """{note element: label} and {marker link: label}."""
    elements = [element for element in root.iter() if isinstance(element.tag, str)]
    order = {element: index for index, element in enumerate(elements)}
    ids: dict[str, Any] = {}
    for element in elements:
        for key in ("id", "name") if element.tag == "a" else ("id",):
            if value := element.get(key):
                ids.setdefault(value, element)
    notes: dict[Any, str] = {}
    refs: dict[Any, str] = {}
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        target = ids.get(unquote(href[1:])) if href.startswith("#") and len(href) > 1 else None
        # Markers point forward to their note; a note's back-link points back at its marker.
        if target is None or order[target] <= order[link] or not _is_marker(link, target):
            continue
        note = _holder(target)
        if note is None or _contains(note, link):
            continue
        label = notes.get(note) or marker_label(link.text_content()) or _id_label(target) or str(len(notes) + 1)
        notes.setdefault(note, label)
        refs[link] = notes[note]
    for container in elements:
        if _is_container(container):
            for listing in container.iter("ol", "ul"):
                start = int(listing.get("start", "1")) if listing.get("start", "1").isdigit() else 1
                for index, item in enumerate(listing.findall("li")):
                    if not _inside_note(item, notes):
                        notes[item] = _id_label(item) if listing.tag == "ul" and _id_label(item) else str(start + index)
    for element in elements:
        match = _NOTE_ID.match(element.get("id") or "")
        holder = _holder(element) if match else None
        if match and holder is not None and not _inside_note(holder, notes):
            notes[holder] = match["label"]
    return notes, refs


def _is_marker(link: Any, target: Any) -> bool:
    role = (link.get("role") or "").lower()
    classes = (link.get("class") or "").lower()
    if role == "doc-noteref" or any(name in classes for name in _REF_CLASSES):
        return True
    parent = link.getparent()
    if (parent is not None and parent.tag == "sup") or link.find(".//sup") is not None:
        return True
    return bool(_LABEL_TEXT.match(link.text_content().strip()) and _NOTE_ID.match(target.get("id") or target.get("name") or ""))


def _holder(target: Any) -> Any:
    """The element that is the note: the target itself when it is a block, else the nearest
    block around it (Word and Google Docs put the id on an ``<a>`` inside the note)."""
    element = target
    while element is not None and element.tag not in _NOTE_HOLDERS:
        if element.tag in ("body", "html"):
            return None
        element = element.getparent()
    return element


def _contains(outer: Any, inner: Any) -> bool:
    return any(ancestor is outer for ancestor in inner.iterancestors()) or outer is inner


def _inside_note(element: Any, notes: dict[Any, str]) -> bool:
    return element in notes or any(ancestor in notes for ancestor in element.iterancestors())


def _is_container(element: Any) -> bool:
    role = (element.get("role") or "").lower()
    classes = (element.get("class") or "").lower().split()
    name = (element.get("id") or "").lower()
    return role in ("doc-endnotes", "doc-footnotes") or name in ("footnotes", "endnotes", "notes") or any(
        token in _CONTAINER_CLASSES for token in classes
    )


def _id_label(element: Any) -> str:
    match = _NOTE_ID.match(element.get("id") or element.get("name") or "")
    return match["label"] if match else ""


# --- text -------------------------------------------------------------------------------------


class _Walker:
    """Visible text as passages: a block element ends one, a note element is one of its own."""

    def __init__(self, notes: dict[Any, str], refs: dict[Any, str], base: str | None) -> None:
        self.notes = notes
        self.refs = refs
        self.base = base
        self.passages: list[Passage] = []
        self.labels: list[str | None] = [None]
        self.line = 1
        self.current = Passage()

    def walk(self, element: Any) -> None:
        if not isinstance(element.tag, str) or element.tag in _SKIPPED:
            return
        self.line = element.sourceline or self.line
        note = self.notes.get(element)
        if note is not None:
            self.labels.append(note)
        block = element.tag in _BLOCKS or note is not None
        if block:
            self._close()
        if element in self.refs:
            self.current.mark(self.refs[element])
        elif element.tag == "sup" and marker_label(element.text_content()).isdigit() and not len(element):
            self.current.mark(marker_label(element.text_content()))
        else:
            self._contents(element)
        # The label is dropped first: the passage opened next belongs to the text around.
        if note is not None:
            self.labels.pop()
        if block:
            self._close()

    def _contents(self, element: Any) -> None:
        start = len(self.current.text)
        if element.tag == "br":
            self._text("\n")
        self._text(element.text)
        for child in element:
            self.walk(child)
            self._text(child.tail)
        if element.tag == "a":
            self._link(element.get("href"), start)

    def _link(self, href: str | None, start: int) -> None:
        # Browsers drop tabs and line breaks inside an href; "#..." stays on this page.
        href = re.sub(r"[\t\n\r]", "", href or "").strip()
        if not href or href.startswith("#"):
            return
        if self.base and not urlsplit(href).scheme:
            href = urljoin(self.base, href)
        self.current.links.append(Link(start, max(len(self.current.text), start), href))

    def _text(self, text: str | None) -> None:
        if not text:
            return
        line = self.line
        self.line += text.count("\n")
        flat = _SPACE.sub(" ", text)
        if self.current.text.endswith((" ", "\n")) or not self.current.text:
            flat = flat.lstrip(" ")
        self.current.add(flat, line)

    def _close(self) -> None:
        if self.current.text.strip() or self.current.links:
            self.passages.append(self.current)
        self.current = Passage(note=self.labels[-1])
