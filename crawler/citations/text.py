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
import codecs
import functools
import ipaddress
import os
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from crawler.citations.model import INLINE, Citation, Document, Problem
from crawler.exceptions import DocumentError

SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TO_DIGITS = str.maketrans(SUPERSCRIPT_DIGITS, "0123456789")
_TO_SUPERSCRIPT = str.maketrans("0123456789", SUPERSCRIPT_DIGITS)

MAX_CONTEXT = 300
MAX_PROBLEM_TEXT = 200
MAX_TITLE = 200
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

# --- URL recognition -------------------------------------------------------------------------

# Schemes that never carry "//" but are still clearly links someone meant to cite; anything
# else without "//" ("Note:x", "doi:10...") is left alone rather than reported as noise.
_OPAQUE_SCHEMES = "mailto|javascript|vbscript|data|file|tel|sms|news|about|blob"
# "http:" is accepted without "//" so that typos such as "http:/x" are reported as malformed.
_URL_START = rf"(?:https?:(?=\S)|[a-z][a-z0-9+.\-]*://|(?:{_OPAQUE_SCHEMES}):(?=\S))"
_URL_START_RE = re.compile(_URL_START, re.IGNORECASE)

_TOKEN = re.compile(
    # A Markdown inline link or image up to "](": the destination is parsed by hand because
    # it may contain balanced parentheses, which a regular expression cannot track.
    r"(?P<link>!?\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]\()"
    rf"|(?P<angle><{_URL_START}[^<>\n]*>)"
    # The look-behind keeps "xhttp://" or "a.https://" from starting a URL mid-word.
    rf"|(?P<bare>(?<![a-z0-9+.\-]){_URL_START})",
    re.IGNORECASE,
)
_REFERENCE_DEF = re.compile(r"^ {0,3}\[(?P<id>[^\]^][^\]]*)\]:[ \t]*(?P<dest><[^>\n]*>|\S+)")

_GLUED_NEXT_URL = re.compile(r"[,;](?=https?://)", re.IGNORECASE)
# The rest of a host name split by a stray space: "https://exa mple.com".
_HOST_REST = re.compile(r" [^\W_][^\s<>\"]*\.[^\s<>\"]*[^\s<>\".,;:!?'’”)\]]")
# Characters that can never be part of a bare URL written in prose.
_BARE_STOP = frozenset(" \t\n\r\f\v\u00a0<>\"`") | frozenset(SUPERSCRIPT_DIGITS)
_CLOSERS = {")": "(", "]": "["}
# Sentence punctuation, closing quotes and Markdown emphasis that follow a URL in prose.
_TRAILING = frozenset(".,;:!?'\"’”»*")

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
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]*_]*$")

_SENTENCE_END = re.compile(
    rf"[.!?]+[\"'”’»)\]*_{SUPERSCRIPT_DIGITS}]*(?=\s+[\"'“‘«(\[*_¿¡]*[A-ZÀ-Þ0-9])"
)
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
_LIST_BULLET = re.compile(r"\s*(?:[-*+•]|\d{1,3}[.)])[ \t]+")
_WORD_BEFORE = re.compile(r"(\S+)$")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "cf", "vs", "no", "nos", "vol", "pp", "p", "art", "fig", "ed", "eds", "mr", "mrs",
     "ms", "dr", "prof", "st", "sr", "sra", "lic", "ing", "núm", "pág", "ej", "approx", "dept", "inc",
     "ltd", "co", "jr"}
)


@dataclass(frozen=True)
class _Span:
    """A URL found on one line: offsets into that line, text as written."""

    start: int
    end: int
    text: str
    reference: str | None = None  # the id of a Markdown reference definition "[id]: url"


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
    blocks = _segment(_split_lines(text))
    spans = [[(index, span) for index, (_, line) in enumerate(b.lines) for span in _scan_line(line)]
             for b in blocks]
    body = _BodyIndex([(b, _mask(b, found)) for b, found in zip(blocks, spans, strict=True) if b.label is None])

    citations: list[Citation] = []
    problems: list[Problem] = []
    for block, found in zip(blocks, spans, strict=True):
        for index, span in found:
            number = block.lines[index][0]
            reason = _problem_reason(span.text)
            if reason is not None:
                problems.append(Problem(number, _shorten(span.text, MAX_PROBLEM_TEXT), reason))
                continue
            offset = block.starts[index] + span.start
            context = _context(block, offset, span, body)
            citations.append(Citation(block.label or INLINE, span.text, context, number))
    return citations, problems


def parse_document(text: str, source: str) -> Document:
    """Build a ``Document`` from text already in memory; ``source`` names it in messages."""
    if not text.strip():
        raise DocumentError(f"{source} is empty; give a document that holds text")
    lines = _split_lines(text)
    front = _front_matter(lines)
    citations, problems = extract_citations(text)
    return Document(
        title=front.get("title") or _guess_title(lines),
        date=front.get("date") or _guess_date(lines),
        source=source,
        citations=citations,
        problems=problems,
    )


def read_document(path: str | os.PathLike[str]) -> Document:
    """Read a plain-text or Markdown file and extract its citations.

    Raises ``DocumentError`` with a one-line message naming the file and the fix when the file
    is missing, a directory, unreadable, binary (e.g. a PDF) or empty.
    """
    name = os.fspath(path)
    raw = _read_bytes(Path(name), name)
    return parse_document(_decode(raw, name), source=name)


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
        return (match["digits"] or match["sup"].translate(_TO_DIGITS)), False
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
    if any(_URL_START_RE.search(text) for _, text in lines):
        return False
    return not _ENDS_SENTENCE.search(lines[-1][1].rstrip())


# --- URL scanning ----------------------------------------------------------------------------


def _scan_line(line: str) -> list[_Span]:
    """Every URL-like span on one line, in order; Markdown syntax is not part of a span."""
    if definition := _REFERENCE_DEF.match(line):
        return _reference_span(definition)
    spans: list[_Span] = []
    pos = 0
    while match := _TOKEN.search(line, pos):
        if match["link"]:
            span = _link_destination(line, match.end())
            if span is None:
                # Not a link to a URL ("[x](#notes)"): the label may still hold a bare URL.
                pos = match.start() + 1
                continue
        elif match["angle"]:
            span = _Span(match.start() + 1, match.end() - 1, match["angle"][1:-1])
        else:
            span = _bare_span(line, match.start(), len(match["bare"]))
        spans.append(span)
        pos = max(span.end, match.start() + 1)
    return spans


def _reference_span(definition: re.Match[str]) -> list[_Span]:
    dest, start = definition["dest"], definition.start("dest")
    if dest.startswith("<") and dest.endswith(">"):
        dest, start = dest[1:-1], start + 1
    if not _URL_START_RE.match(dest):
        return []
    return [_Span(start, start + len(dest), dest, reference=definition["id"])]


def _link_destination(line: str, pos: int) -> _Span | None:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    start = pos + 1 if line.startswith("<", pos) else pos
    # Checked before looking for the end: scanning a relative link to the end of a long line
    # and then retrying one character later would make such lines quadratic.
    if not _URL_START_RE.match(line, start):
        return None
    if start > pos:
        end = line.find(">", start)
        if end == -1:
            return None
    else:
        end = _bare_end(line, start)
    return _Span(start, end, line[start:end])


def _bare_end(line: str, start: int) -> int:
    """Index just past a bare URL: stops at whitespace, quotes, brackets or an unbalanced
    closing parenthesis, so "(see https://x.org/a_(b))" keeps the balanced "(b)"."""
    depth = {"(": 0, "[": 0}
    pos = start
    while pos < len(line):
        char = line[pos]
        if char in _BARE_STOP or char.isspace():
            break
        if char in depth:
            depth[char] += 1
        elif char in _CLOSERS:
            opener = _CLOSERS[char]
            if depth[opener] == 0:
                break
            depth[opener] -= 1
        pos += 1
    return pos


def _bare_span(line: str, start: int, prefix: int) -> _Span:
    end = _bare_end(line, start)
    # "https://a.org/x,https://b.org/y": a list written without spaces is two URLs.
    if glued := _GLUED_NEXT_URL.search(line, start + prefix, end):
        end = glued.start()
    # Trailing ".,;:!?" and quotes belong to the sentence, not the URL. "filter=&sort=" keeps
    # its "=" and "n1=10" its digits because neither is in _TRAILING.
    while end - start > prefix and line[end - 1] in _TRAILING:
        end -= 1
    return _with_split_host(line, start, end)


def _with_split_host(line: str, start: int, end: int) -> _Span:
    """Report "https://exa mple.com" as one malformed URL instead of "https://exa".

    Only when the host has no dot and the next word looks like the rest of a host name, so
    "http://localhost and more" is not glued to the following word.
    """
    text = line[start:end]
    host = _host_of(text)
    if host is None or "." in host or not line.startswith(" ", end):
        return _Span(start, end, text)
    rest = _HOST_REST.match(line, end)
    if rest is None:
        return _Span(start, end, text)
    end = rest.end()
    return _Span(start, end, line[start:end])


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


# --- validation ------------------------------------------------------------------------------


def _problem_reason(url: str) -> str | None:
    """"scheme" for a non-http(s) URL, "malformed" for an unusable http(s) one, else None."""
    scheme, _, rest = url.partition(":")
    if scheme.lower() not in ("http", "https"):
        return "scheme"
    if not rest.startswith("//") or any(char.isspace() for char in url):
        return "malformed"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return "malformed"
    if not parts.hostname or not _valid_host(parts.hostname):
        return "malformed"
    return None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    # A dotless host ("localhost", "exa") is never something a published document can cite.
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(_valid_label(label) for label in labels)


def _valid_label(label: str) -> bool:
    if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
        return False
    # Underscores occur in real DNS names; non-ASCII letters are IDNs written as Unicode.
    return all(
        (char.isascii() and (char.isalnum() or char in "-_"))
        or (not char.isascii() and (char.isalpha() or unicodedata.category(char) in ("Mn", "Mc")))
        for char in label
    )


# --- context ---------------------------------------------------------------------------------


def _context(block: _Block, offset: int, span: _Span, body: _BodyIndex) -> str:
    if block.label is not None:
        marker = body.marker(block.label, block.lines[0][0])
        if marker is not None:
            return _sentence_at(marker.block.text, marker.offset)
        label_end = _footnote_text_start(block.lines[0][1])
        return _clip(block.text[label_end:], offset - label_end)
    if span.reference is not None:
        usage = body.reference_use(span.reference)
        if usage is not None:
            return _sentence_at(usage.block.text, usage.offset)
    return _sentence_at(block.text, offset)


def _footnote_text_start(line: str) -> int:
    match = _MARKDOWN_FOOTNOTE.match(line) or _PLAIN_FOOTNOTE.match(line)
    return match.end() if match else 0


def _mask(block: _Block, found: list[tuple[int, _Span]]) -> str:
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
                label = match["markdown"] or match["html"] or match["caret"] or match["sup"].translate(_TO_DIGITS)
                self._explicit[label].append(self._place(block, match.start()))
            for match in _GLUED_MARKER.finditer(masked):
                self._glued[match["digits"]].append(self._place(block, match.start()))
            if _REFERENCE_DEF.match(block.text):
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


def _sentence_at(text: str, offset: int) -> str:
    ends = _sentence_ends(text)
    after = bisect.bisect_right(ends, offset)
    start = ends[after - 1] if after else 0
    end = ends[after] if after < len(ends) else len(text)
    # A list bullet opens the paragraph, not the sentence.
    if bullet := _LIST_BULLET.match(text, start):
        start = min(bullet.end(), offset)
    return _clip(text[start:end], offset - start)


@functools.lru_cache(maxsize=32)
def _sentence_ends(text: str) -> tuple[int, ...]:
    # Cached because every URL of a long paragraph asks for the same boundaries.
    ends: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        # A short window: searching from 0 every time made long paragraphs quadratic.
        word = _WORD_BEFORE.search(text[max(0, match.start() - 40) : match.start()])
        if word and match.group().startswith(".") and _is_abbreviation(word.group(1)):
            continue
        ends.append(match.end())
    return tuple(ends)


def _is_abbreviation(word: str) -> bool:
    word = word.lstrip("(\"'“‘*_").lower()
    # Initials ("A. Castedo", "A.C") are far more common mid-sentence than at its end.
    return word in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[^\W\d_]\.)*[^\W\d_]", word))


def _clip(sentence: str, offset: int) -> str:
    """Whitespace collapsed; if too long, a window around ``offset`` cut at word boundaries."""
    lead = len(sentence) - len(sentence.lstrip())
    flat = " ".join(sentence.split())
    if len(flat) <= MAX_CONTEXT:
        return flat
    focus = len(" ".join(sentence[lead : max(lead, offset)].split()))
    low = max(0, min(focus - MAX_CONTEXT // 2, len(flat) - MAX_CONTEXT))
    window = flat[low : low + MAX_CONTEXT]
    if low > 0:
        window = "…" + window.partition(" ")[2]
    if low + MAX_CONTEXT < len(flat):
        window = window.rpartition(" ")[0] + "…"
    return window


def _shorten(text: str, limit: int) -> str:
    # data: URLs can run to megabytes; a report line needs only the start.
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- reading files ---------------------------------------------------------------------------

_ONLY_TEXT = "only plain text and Markdown are read for now"
_BINARY_SIGNATURES = (
    (b"%PDF-", f"looks like a PDF; {_ONLY_TEXT} (extract its text first, e.g. with pdftotext)"),
    (b"PK\x03\x04", f"looks like a ZIP archive (e.g. .docx or .odt); {_ONLY_TEXT} (save it as .txt first)"),
    (b"\xd0\xcf\x11\xe0", f"looks like an old Office file (.doc/.xls); {_ONLY_TEXT} (save it as .txt first)"),
    (b"{\\rtf", f"looks like an RTF file; {_ONLY_TEXT} (save it as .txt first)"),
)


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        if path.is_dir():
            raise DocumentError(f"{name} is a directory; give the path of a .txt or .md file inside it")
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                f"{name} is {size // (1024 * 1024)} MB; documents over "
                f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MB are not read, check it is the right file"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{name} does not exist; check the path and try again") from None
    except PermissionError:
        raise DocumentError(f"{name} cannot be read (permission denied); make it readable, e.g. chmod u+r") from None
    except IsADirectoryError:
        raise DocumentError(f"{name} is a directory; give the path of a .txt or .md file inside it") from None
    except OSError as error:
        reason = error.strerror or error
        raise DocumentError(f"{name} cannot be read ({reason}); check the file and try again") from None


def _decode(raw: bytes, name: str) -> str:
    head = raw[:1024]
    for signature, complaint in _BINARY_SIGNATURES:
        if head.lstrip().startswith(signature):
            raise DocumentError(f"{name} {complaint}")
    text = _decode_text(raw, name)
    if _mostly_binary(text):
        raise DocumentError(f"{name} looks like a binary file; {_ONLY_TEXT}")
    if not text.strip():
        raise DocumentError(f"{name} is empty; give a document that holds text")
    return text


def _decode_text(raw: bytes, name: str) -> str:
    # UTF-16 files are full of NUL bytes, so their BOM must be honoured before the NUL test.
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                break
    if b"\x00" in raw:
        raise DocumentError(f"{name} looks like a binary file (it holds NUL bytes); {_ONLY_TEXT}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        # latin-1 maps every byte, so this is the last resort rather than the first guess.
        return raw.decode("latin-1")


def _mostly_binary(text: str) -> bool:
    sample = text[:8192]
    if not sample:
        return False
    odd = sum(1 for char in sample if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn")
              and char not in "\t\n\r\f\v")
    return odd / len(sample) > 0.05


# --- title and date --------------------------------------------------------------------------

_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_FRONT_KEY = re.compile(r"^(?P<key>title|date)[ \t]*:[ \t]*(?P<value>.*?)[ \t]*$", re.IGNORECASE)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "enero", "ene"), ("february", "feb", "febrero"),
            ("march", "mar", "marzo"), ("april", "apr", "abril", "abr"), ("may", "mayo"),
            ("june", "jun", "junio"), ("july", "jul", "julio"), ("august", "aug", "agosto", "ago"),
            ("september", "sep", "sept", "septiembre", "setiembre"), ("october", "oct", "octubre"),
            ("november", "nov", "noviembre"), ("december", "dec", "diciembre", "dic"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_DATE_LINES = (
    re.compile(rf"^(?:{_DAY}\s+(?:de\s+)?)?(?P<month>{_MONTH})\.?,?\s+(?:del?\s+)?{_YEAR}$"),
    re.compile(rf"^(?P<month>{_MONTH})\.?\s+{_DAY},?\s+{_YEAR}$"),
    re.compile(rf"^{_YEAR}-(?P<mm>0[1-9]|1[0-2])(?:-(?P<dd>0[1-9]|[12]\d|3[01]))?$"),
)
_DATE_SEARCH_LINES = 60


def _front_matter(lines: list[str]) -> dict[str, str]:
    """``title``/``date`` from a YAML front-matter block, the one unambiguous source."""
    if not lines or lines[0].strip() != "---":
        return {}
    found: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() in ("---", "..."):
            return found
        if match := _FRONT_KEY.match(line):
            found[match["key"].lower()] = match["value"].strip("\"'")
    return {}


def _guess_title(lines: list[str]) -> str:
    """The first heading, bold block or short opening paragraph, as one line."""
    start = _skip_front_matter(lines)
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines):
        return ""
    paragraph = _paragraph_from(lines, start)
    first = paragraph[0]
    if heading := _ATX_HEADING.match(first):
        return _clean_title([heading["text"]])
    underline = next((i for i, line in enumerate(paragraph[1:], 1) if _SETEXT_UNDERLINE.match(line)), None)
    if underline is not None:
        return _clean_title(paragraph[:underline])
    marker = first.strip()[:2]
    if marker in ("**", "__"):
        return _clean_title(_until_closing(paragraph, marker))
    if len(paragraph) <= 6 and sum(len(line) for line in paragraph) <= MAX_TITLE:
        return _clean_title(paragraph)
    return _clean_title([first])


def _skip_front_matter(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for index, line in enumerate(lines[1:], start=1):
            if line.strip() in ("---", "..."):
                return index + 1
    return 0


def _paragraph_from(lines: list[str], start: int) -> list[str]:
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return lines[start:end]


def _until_closing(paragraph: list[str], marker: str) -> list[str]:
    """Lines of a bold block that PDF extraction split over several lines."""
    taken: list[str] = []
    for line in paragraph:
        taken.append(line)
        if "".join(taken).count(marker) >= 2:
            break
    return taken


def _clean_title(lines: list[str]) -> str:
    text = " ".join(" ".join(lines).split())
    text = _INLINE_LINK.sub(r"\1", text)
    text = re.sub(r"(\*\*|__|\*|(?<!\w)_|_(?!\w))", "", text)
    return _shorten(text.strip(" #"), MAX_TITLE)


def _guess_date(lines: list[str]) -> str:
    """A line near the top that is nothing but a date, as "YYYY-MM" or "YYYY-MM-DD"."""
    for line in lines[:_DATE_SEARCH_LINES]:
        candidate = " ".join(line.strip(" \t*_#").split()).lower()
        if len(candidate) > 40:
            continue
        for pattern in _DATE_LINES:
            if match := pattern.match(candidate):
                return _iso_date(match)
    return ""


def _iso_date(match: re.Match[str]) -> str:
    groups = match.groupdict()
    month = int(groups["mm"]) if groups.get("mm") else _MONTHS[groups["month"]]
    day = groups.get("dd") or groups.get("day")
    if day and 1 <= int(day) <= 31:
        return f"{match['year']}-{month:02d}-{int(day):02d}"
    return f"{match['year']}-{month:02d}"
