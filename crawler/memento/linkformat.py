"""``application/link-format`` TimeMaps (RFC 7089 5, RFC 6690) and ``Link`` headers (RFC 8288).

Both are lists of ``<URI>; param; param="value"`` separated by commas. A split on commas
is wrong: a memento's ``datetime="Sat, 10 Jun 2017 07:00:00 GMT"`` holds one, and archives
break lines anywhere between links. So the text is read as a sequence of tokens, quoted
strings kept whole. What cannot be read is skipped up to the next link rather than
failing the whole TimeMap: one odd entry in a list of thousands should cost that entry only.

Archives differ in what they put in a TimeMap: pywb writes ``rel="memento"`` for every
memento, the Wayback Machine ``rel="first memento"``, ``rel="prev memento"``... (a ``rel``
holds several tokens), and a large TimeMap is paged, its ``rel="timemap"`` links (other
than itself) naming further pages or an index of them (RFC 7089 4.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from crawler.memento.urls import ARCHIVED_PATH, parse_timestamp


@dataclass(frozen=True)
class Link:
    """One link: its target, ``rel`` tokens (lower case) and other parameters (names in lower case)."""

    target: str
    rels: tuple[str, ...]
    params: dict[str, str] = field(hash=False)

    @property
    def datetime(self) -> datetime | None:
        return parse_memento_datetime(self.params.get("datetime", ""))


@dataclass(frozen=True, order=True)
class Memento:
    """A memento a TimeMap lists: when it was archived, and its URL in the archive."""

    datetime: datetime
    url: str


@dataclass
class TimeMap:
    """What a TimeMap (or one page of it) says about a URL."""

    original: str | None = None
    timegate: str | None = None
    self_url: str | None = None
    mementos: list[Memento] = field(default_factory=list)
    #: Further TimeMaps: the next pages of a paged TimeMap, or the members of an index.
    pages: list[str] = field(default_factory=list)


def parse_memento_datetime(text: str) -> datetime | None:
    """A ``Memento-Datetime`` / ``datetime=`` value (RFC 1123, GMT) in UTC, or None."""
    text = text.strip()
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_links(text: str) -> list[Link]:
    """The links of a ``Link`` header value or a link-format document, in order."""
    links: list[Link] = []
    i, n = 0, len(text)
    while i < n:
        start = text.find("<", i)
        if start < 0:
            break
        end = text.find(">", start + 1)
        if end < 0:
            break
        target = text[start + 1:end].strip()
        params: dict[str, str] = {}
        i = end + 1
        while True:
            i = _skip_space(text, i)
            if i >= n or text[i] != ";":
                break
            i = _skip_space(text, i + 1)
            name_end = i
            while name_end < n and text[name_end] not in "=;,<> \t\r\n":
                name_end += 1
            name = text[i:name_end].lower()
            i = _skip_space(text, name_end)
            value = ""
            if i < n and text[i] == "=":
                i = _skip_space(text, i + 1)
                value, i = _value(text, i)
            # The first occurrence of a parameter counts (RFC 8288 3.3 says so of rel).
            if name and name not in params:
                params[name] = value
        i = _skip_space(text, i)
        if i < n and text[i] != ",":
            # Junk after a link: resume at the next link, wherever it starts.
            i = _next_link(text, i)
        links.append(Link(target, tuple(params.get("rel", "").lower().split()), params))
    return links


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _value(text: str, i: int) -> tuple[str, int]:
    """A quoted string (backslash escapes undone) or a token, and the index after it."""
    n = len(text)
    if i < n and text[i] == '"':
        out: list[str] = []
        i += 1
        while i < n and text[i] != '"':
            if text[i] == "\\" and i + 1 < n:
                i += 1
            out.append(text[i])
            i += 1
        return "".join(out), i + 1
    end = i
    while end < n and text[end] not in ";,<> \t\r\n":
        end += 1
    return text[i:end], end


def _next_link(text: str, i: int) -> int:
    quoted = False
    while i < len(text):
        char = text[i]
        if char == '"':
            quoted = not quoted
        elif not quoted and char in ",<":
            return i
        i += 1
    return i


def parse_timemap(text: str | bytes) -> TimeMap:
    """A link-format TimeMap: its original URL, TimeGate, mementos (oldest first, one per
    datetime) and further pages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    timemap = TimeMap()
    seen: dict[datetime, Memento] = {}
    further: list[str] = []
    for link in parse_links(text):
        if "self" in link.rels:
            timemap.self_url = timemap.self_url or link.target
        elif "timemap" in link.rels:
            further.append(link.target)
        if "original" in link.rels and timemap.original is None:
            timemap.original = link.target
        if "timegate" in link.rels and timemap.timegate is None:
            timemap.timegate = link.target
        if "memento" in link.rels:
            when = link.datetime or _url_datetime(link.target)
            # Archives list one capture under several URL variants (http/https, :80):
            # one memento per second is enough to choose, and the first one listed is kept.
            if when is not None and when not in seen:
                seen[when] = Memento(when, link.target)
    timemap.mementos = sorted(seen.values())
    timemap.pages = [url for url in dict.fromkeys(further) if url != timemap.self_url]
    return timemap


def _url_datetime(url: str) -> datetime | None:
    # A memento link without datetime=: its URL's timestamp, when it has a Wayback-style one.
    for index in range(len(url)):
        if url[index] == "/" and index + 1 < len(url) and url[index + 1].isdigit():
            match = ARCHIVED_PATH.match(url, index + 1)
            if match is not None:
                return parse_timestamp(match["timestamp"])
    return None
