"""Recognising URLs in a line of text and judging whether each is one a crawler can fetch.

Shared by every document format: plain text and Markdown scan their lines with it, and the
PDF, HTML and Word readers scan the visible text of their paragraphs the same way.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
TO_DIGITS = str.maketrans(SUPERSCRIPT_DIGITS, "0123456789")
TO_SUPERSCRIPT = str.maketrans("0123456789", SUPERSCRIPT_DIGITS)

MAX_PROBLEM_TEXT = 200

# --- URL recognition -------------------------------------------------------------------------

# Schemes that never carry "//" but are still clearly links someone meant to cite; anything
# else without "//" ("Note:x", "doi:10...") is left alone rather than reported as noise.
_OPAQUE_SCHEMES = "mailto|javascript|vbscript|data|file|tel|sms|news|about|blob"
# "http:" is accepted without "//" so that typos such as "http:/x" are reported as malformed.
_URL_START = rf"(?:https?:(?=\S)|[a-z][a-z0-9+.\-]*://|(?:{_OPAQUE_SCHEMES}):(?=\S))"
URL_START_RE = re.compile(_URL_START, re.IGNORECASE)

_TOKEN = re.compile(
    # A Markdown inline link or image up to "](": the destination is parsed by hand because
    # it may contain balanced parentheses, which a regular expression cannot track.
    r"(?P<link>!?\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]\()"
    rf"|(?P<angle><{_URL_START}[^<>\n]*>)"
    # The look-behind keeps "xhttp://" or "a.https://" from starting a URL mid-word.
    rf"|(?P<bare>(?<![a-z0-9+.\-]){_URL_START})",
    re.IGNORECASE,
)
REFERENCE_DEF = re.compile(r"^ {0,3}\[(?P<id>[^\]^][^\]]*)\]:[ \t]*(?P<dest><[^>\n]*>|\S+)")

_GLUED_NEXT_URL = re.compile(r"[,;](?=https?://)", re.IGNORECASE)
# The rest of a host name split by a stray space: "https://exa mple.com".
_HOST_REST = re.compile(r" [^\W_][^\s<>\"]*\.[^\s<>\"]*[^\s<>\".,;:!?'’”)\]]")
# Characters that can never be part of a bare URL written in prose.
_BARE_STOP = frozenset(" \t\n\r\f\v\u00a0<>\"`") | frozenset(SUPERSCRIPT_DIGITS)
_CLOSERS = {")": "(", "]": "["}
_BARE_PLAIN = re.compile("[^" + re.escape("".join(sorted(_BARE_STOP | set("()[]")))) + r"\s]+")
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*:", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s")
# Sentence punctuation, closing quotes and Markdown emphasis that follow a URL in prose.
_TRAILING = frozenset(".,;:!?'\"’”»*")


@dataclass(frozen=True)
class Span:
    """A URL found on one line: offsets into that line, text as written."""

    start: int
    end: int
    text: str
    reference: str | None = None  # the id of a Markdown reference definition "[id]: url"



# --- URL scanning ----------------------------------------------------------------------------


def scan_line(line: str) -> list[Span]:
    """Every URL-like span on one line, in order; Markdown syntax is not part of a span."""
    if definition := REFERENCE_DEF.match(line):
        return _reference_span(definition)
    spans: list[Span] = []
    pos = 0
    while match := _TOKEN.search(line, pos):
        if match["link"]:
            span = _link_destination(line, match.end())
            if span is None:
                # Not a link to a URL ("[x](#notes)"): the label may still hold a bare URL.
                pos = match.start() + 1
                continue
        elif match["angle"]:
            span = Span(match.start() + 1, match.end() - 1, match["angle"][1:-1])
        else:
            span = _bare_span(line, match.start(), len(match["bare"]))
        spans.append(span)
        pos = max(span.end, match.start() + 1)
    return spans


def _reference_span(definition: re.Match[str]) -> list[Span]:
    dest, start = definition["dest"], definition.start("dest")
    if dest.startswith("<") and dest.endswith(">"):
        dest, start = dest[1:-1], start + 1
    if not URL_START_RE.match(dest):
        return []
    return [Span(start, start + len(dest), dest, reference=definition["id"])]


def _link_destination(line: str, pos: int) -> Span | None:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    start = pos + 1 if line.startswith("<", pos) else pos
    # Checked before looking for the end: scanning a relative link to the end of a long line
    # and then retrying one character later would make such lines quadratic.
    if not URL_START_RE.match(line, start):
        return None
    if start > pos:
        end = line.find(">", start)
        if end == -1:
            return None
    else:
        end = bare_end(line, start)
    return Span(start, end, line[start:end])


def bare_end(line: str, start: int) -> int:
    """Index just past a bare URL: stops at whitespace, quotes, brackets or an unbalanced
    closing parenthesis, so "(see https://x.org/a_(b))" keeps the balanced "(b)"."""
    depth = {"(": 0, "[": 0}
    pos = start
    while True:
        # Runs of ordinary characters in one step: this ran per character, per URL.
        match = _BARE_PLAIN.match(line, pos)
        pos = match.end() if match else pos
        if pos >= len(line):
            return pos
        char = line[pos]
        if char in depth:
            depth[char] += 1
        elif char in _CLOSERS and depth[_CLOSERS[char]]:
            depth[_CLOSERS[char]] -= 1
        else:
            return pos
        pos += 1


def _bare_span(line: str, start: int, prefix: int) -> Span:
    end = bare_end(line, start)
    # "https://a.org/x,https://b.org/y": a list written without spaces is two URLs.
    if glued := _GLUED_NEXT_URL.search(line, start + prefix, end):
        end = glued.start()
    # Trailing ".,;:!?" and quotes belong to the sentence, not the URL. "filter=&sort=" keeps
    # its "=" and "n1=10" its digits because neither is in _TRAILING.
    while end - start > prefix and line[end - 1] in _TRAILING:
        end -= 1
    return _with_split_host(line, start, end)


def _with_split_host(line: str, start: int, end: int) -> Span:
    """Report "https://exa mple.com" as one malformed URL instead of "https://exa".

    Only when the host has no dot and the next word looks like the rest of a host name, so
    "http://localhost and more" is not glued to the following word.
    """
    text = line[start:end]
    host = host_of(text)
    if host is None or "." in host or not line.startswith(" ", end):
        return Span(start, end, text)
    rest = _HOST_REST.match(line, end)
    if rest is None:
        return Span(start, end, text)
    end = rest.end()
    return Span(start, end, line[start:end])


def host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


# --- validation ------------------------------------------------------------------------------


def problem_reason(url: str) -> str | None:
    """"scheme" for a non-http(s) URL, "malformed" for an unusable http(s) one, "relative"
    for a link target with no scheme at all, else None."""
    if not _SCHEME.match(url):
        return "relative"
    scheme, _, rest = url.partition(":")
    if scheme.lower() not in ("http", "https"):
        return "scheme"
    if not rest.startswith("//") or _WHITESPACE.search(url):
        return "malformed"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return "malformed"
    if not parts.hostname or not valid_host(parts.hostname):
        return "malformed"
    return None


def valid_host(host: str) -> bool:
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


def shorten(text: str, limit: int) -> str:
    # data: URLs can run to megabytes; a report line needs only the start.
    return text if len(text) <= limit else text[: limit - 1] + "…"

