"""Citations from a Word document (.docx): hyperlinks, ``HYPERLINK`` fields, URLs typed in
the text, footnotes and endnotes.

A .docx is a ZIP of XML parts. The body (``word/document.xml``), the footnotes and the
endnotes are read paragraph by paragraph; a ``w:hyperlink`` takes its target from the part's
relationships (``r:id``), a ``HYPERLINK`` field from its instruction. Deleted text of tracked
changes is left out; inserted text is read.

Labels are what Word displays: footnotes are numbered in the order the body first refers to
them, from the number and in the format the document sets (``w:footnotePr``; default 1, 2,
3), endnotes likewise (default i, ii, iii, as Word does). When footnotes and endnotes would
show the same labels, endnote labels get an "e" in front ("e1") so that each label names one
note. A note with a custom mark ("*") is labelled with that mark. Notes the body never
refers to are not shown by Word and are not read. Headers, footers and comments are not
read. ``line`` counts paragraphs: the body's first, then the footnotes', then the endnotes'.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from lxml import etree

from crawler.citations.meta import guess_date, guess_title, iso_date, usable_title
from crawler.citations.model import Document
from crawler.citations.passages import Link, Passage, cite
from crawler.exceptions import DocumentError

MAX_PART_BYTES = 256 * 1024 * 1024
_SKIPPED = frozenset("pPr rPr del moveFrom txbxContent Fallback sectPr instrText delText delInstrText".split())
_FIELD_TOKENS = re.compile(r'"([^"]*)"|(\S+)')
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
          (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


@dataclass
class _Numbering:
    """How Word shows one kind of note: number format, first number, and a prefix."""

    fmt: str
    start: int = 1
    prefix: str = ""

    def label(self, number: int) -> str:
        value = self.start + number - 1
        if self.fmt in ("lowerRoman", "upperRoman"):
            text = _roman(value)
            return self.prefix + (text.upper() if self.fmt == "upperRoman" else text)
        if self.fmt in ("lowerLetter", "upperLetter"):
            # Word's letters go a..z, then aa..zz, then aaa...
            text = chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)
            return self.prefix + (text.upper() if self.fmt == "upperLetter" else text)
        return self.prefix + str(value)


def read_docx(raw: bytes, name: str) -> Document:
    """The citations of the Word document ``raw``; ``name`` names the file in messages."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            package = _Package(archive, name)
            return _read(package, name)
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, OSError, EOFError, ValueError) as error:
        raise DocumentError(f"{name} is a damaged Word document ({error}); open it in Word and save it again") from None


def _read(package: _Package, name: str) -> Document:
    main = package.main()
    body = package.xml(main)
    footnotes = package.related(main, "footnotes")
    endnotes = package.related(main, "endnotes")
    settings = package.related(main, "settings")
    kinds = {"footnote": _numbering(body, settings, "footnotePr", "decimal"),
             "endnote": _numbering(body, settings, "endnotePr", "lowerRoman")}
    used = {kind: any(_local(e) == f"{kind}Reference" for e in body.iter()) for kind in kinds}
    if all(used.values()) and kinds["footnote"].fmt == kinds["endnote"].fmt:
        kinds["endnote"].prefix = "e"

    walker = _Walker(kinds)
    walker.part(body, package.relationships(main), None)
    for kind, part in (("footnote", footnotes), ("endnote", endnotes)):
        if part is None:
            continue
        notes = {_attr(note, "id"): note for note in part.iter() if _local(note) == kind}
        relationships = package.relationships(package.related_name(main, f"{kind}s") or "")
        for note_id, label in walker.labels[kind].items():
            if note_id in notes:
                walker.part(notes[note_id], relationships, label)

    passages = [passage for passage in walker.passages if passage.text.strip() or passage.links]
    if not passages:
        raise DocumentError(f"{name} is a Word document without text; check it is the right file")
    citations, problems = cite(passages)
    lines = [line for passage in passages if passage.note is None for line in (passage.text.strip(), "")]
    core = package.core()
    return Document(
        title=usable_title(core.get("title", "")) or guess_title(lines),
        date=guess_date(lines) or iso_date(core.get("created", "")),
        source=name,
        citations=citations,
        problems=problems,
        kind="docx",
    )


class _Package:
    """The parts of the ZIP and the relationships between them."""

    _parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False)

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self.archive = archive
        self.name = name
        self.names = set(archive.namelist())

    def xml(self, part: str) -> Any:
        info = self.archive.getinfo(part)
        if info.file_size > MAX_PART_BYTES:
            raise DocumentError(f"{self.name}: its part {part} unpacks to {info.file_size // (1024 * 1024)} MB; it is not read")
        return etree.fromstring(self.archive.read(info), self._parser)

    def main(self) -> str:
        for rel_type, target in self._rels("_rels/.rels", ""):
            if rel_type.endswith("/officeDocument") and target in self.names:
                return target
        return "word/document.xml"

    def relationships(self, part: str) -> dict[str, str]:
        """{relationship id: target} of ``part``, external targets as written."""
        path = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
        if not part or path not in self.names:
            return {}
        root = self.xml(path)
        return {item.get("Id", ""): item.get("Target", "") for item in root if _local(item) == "Relationship"}

    def related_name(self, part: str, kind: str) -> str | None:
        path = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
        for rel_type, target in self._rels(path, posixpath.dirname(part)):
            if rel_type.endswith("/" + kind) and target in self.names:
                return target
        return None

    def related(self, part: str, kind: str) -> Any:
        found = self.related_name(part, kind)
        return self.xml(found) if found else None

    def core(self) -> dict[str, str]:
        if "docProps/core.xml" not in self.names:
            return {}
        return {_local(item): (item.text or "").strip() for item in self.xml("docProps/core.xml")}

    def _rels(self, path: str, folder: str) -> list[tuple[str, str]]:
        if path not in self.names:
            return []
        found = []
        for item in self.xml(path):
            if item.get("TargetMode") == "External":
                continue
            target = item.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found.append((item.get("Type", ""), target))
        return found


def _numbering(body: Any, settings: Any, element: str, default: str) -> _Numbering:
    """The section's setting wins over the document's (``w:sectPr`` over ``settings.xml``)."""
    numbering = _Numbering(default)
    for root in (settings, body):
        if root is None:
            continue
        for properties in root.iter():
            if _local(properties) != element:
                continue
            for child in properties:
                value = _attr(child, "val")
                if _local(child) == "numFmt" and value:
                    numbering.fmt = value
                elif _local(child) == "numStart" and value.isdigit():
                    numbering.start = int(value)
    return numbering


@dataclass
class _Field:
    instruction: str = ""
    passage: Passage | None = None
    start: int = 0


class _Walker:
    """Paragraphs as passages; note references labelled in the order the body makes them."""

    def __init__(self, kinds: dict[str, _Numbering]) -> None:
        self.kinds = kinds
        self.labels: dict[str, dict[str, str]] = {kind: {} for kind in kinds}
        self.counts = dict.fromkeys(kinds, 0)
        self.passages: list[Passage] = []
        self.fields: list[_Field] = []
        self.paragraphs = 0
        self.relationships: dict[str, str] = {}
        self.custom_mark: str | None = None  # the kind whose custom mark the next text is
        self._pending = ""  # the id of that note

    def part(self, root: Any, relationships: dict[str, str], note: str | None) -> None:
        self.relationships = relationships
        for paragraph in _paragraphs(root):
            self.paragraphs += 1
            passage = Passage(note=note, lines=[(0, self.paragraphs)])
            self._inline(paragraph, passage)
            self.passages.append(passage)

    def _inline(self, element: Any, passage: Passage) -> None:
        for child in element:
            tag = _local(child)
            if tag in _SKIPPED:
                continue
            if tag == "r":
                self._run(child, passage)
            elif tag in ("hyperlink", "fldSimple"):
                start = len(passage.text)
                self._inline(child, passage)
                url = self._hyperlink(child) if tag == "hyperlink" else _field_url(_attr(child, "instr"))
                if url:
                    passage.links.append(Link(start, len(passage.text), url))
            elif tag != "p":
                self._inline(child, passage)

    def _hyperlink(self, element: Any) -> str:
        target = self.relationships.get(_attr(element, "id"), "")
        anchor = _attr(element, "anchor")
        # A hyperlink with only an anchor goes to a bookmark of this document.
        return f"{target}#{anchor}" if target and anchor else target

    def _run(self, run: Any, passage: Passage) -> None:
        for child in run:
            tag = _local(child)
            if tag == "t":
                if self.custom_mark is not None:
                    self._custom(child.text or "", passage)
                else:
                    passage.add(child.text or "")
            elif tag in ("tab", "ptab"):
                passage.add("\t")
            elif tag in ("br", "cr"):
                passage.add("\n")
            elif tag == "noBreakHyphen":
                passage.add("-")
            elif tag in ("footnoteReference", "endnoteReference"):
                self._reference(child, tag.removesuffix("Reference"), passage)
            elif tag == "fldChar":
                self._field(_attr(child, "fldCharType"), passage)
            elif tag == "instrText" and self.fields:
                self.fields[-1].instruction += child.text or ""

    def _reference(self, element: Any, kind: str, passage: Passage) -> None:
        note_id = _attr(element, "id")
        if _attr(element, "customMarkFollows") in ("1", "true", "on"):
            self.custom_mark = kind
            self._pending = note_id
            return
        labels = self.labels[kind]
        if note_id not in labels:
            self.counts[kind] += 1
            labels[note_id] = self.kinds[kind].label(self.counts[kind])
        passage.mark(labels[note_id])

    def _custom(self, mark: str, passage: Passage) -> None:
        kind, self.custom_mark = self.custom_mark or "footnote", None
        label = mark.strip() or "*"
        self.labels[kind].setdefault(self._pending, label)
        passage.mark(self.labels[kind][self._pending])

    def _field(self, kind: str, passage: Passage) -> None:
        if kind == "begin":
            self.fields.append(_Field())
        elif kind == "separate" and self.fields:
            self.fields[-1].passage, self.fields[-1].start = passage, len(passage.text)
        elif kind == "end" and self.fields:
            field = self.fields.pop()
            url = _field_url(field.instruction)
            if url and field.passage is not None:
                # A field that began in an earlier paragraph links this one from its start.
                start = field.start if field.passage is passage else 0
                passage.links.append(Link(start, len(passage.text), url))


def _field_url(instruction: str) -> str:
    """The target of ``HYPERLINK "url" \\l "anchor" \\o "tip"``; "" for other fields and for
    links to a bookmark of this document."""
    tokens = [quoted if quoted or bare is None else bare for quoted, bare in _FIELD_TOKENS.findall(instruction)]
    if not tokens or tokens[0].upper() != "HYPERLINK":
        return ""
    url, anchor = "", ""
    index = 1
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("\\") and len(token) == 2:
            if token[1].lower() in "lotm" and index + 1 < len(tokens):
                if token[1].lower() == "l":
                    anchor = tokens[index + 1]
                index += 1
        elif not url:
            url = token
        index += 1
    return f"{url}#{anchor}" if url and anchor else url


def _paragraphs(root: Any) -> list[Any]:
    """Every paragraph in document order, text boxes included once (Word keeps a copy of
    each in ``mc:Fallback`` for old readers)."""
    found = []
    for element in root.iter():
        if _local(element) == "p" and not any(_local(a) == "Fallback" for a in element.iterancestors()):
            found.append(element)
    return found


def _local(element: Any) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _attr(element: Any, name: str) -> str:
    # Transitional and Strict OOXML put the same attributes in different namespaces.
    for key, value in element.attrib.items():
        if key == name or key.endswith("}" + name):
            return str(value)
    return ""


def _roman(value: int) -> str:
    text = ""
    for number, letters in _ROMAN:
        while value >= number:
            text += letters
            value -= number
    return text
