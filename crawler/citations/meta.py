"""A document's title and date, guessed from its first lines when nothing better says them.

PDF metadata, HTML ``<title>`` and Word's document properties are often empty or wrong
("Microsoft Word - borrador3.docx"), so every reader also falls back to these guesses over
the text it extracted.
"""

from __future__ import annotations

import re

from crawler.citations.urls import shorten

MAX_TITLE = 200

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


def front_matter(lines: list[str]) -> dict[str, str]:
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


def guess_title(lines: list[str]) -> str:
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
    return shorten(text.strip(" #"), MAX_TITLE)


def guess_date(lines: list[str]) -> str:
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


_METADATA_DATE = re.compile(r"^(?:D:)?(?P<year>(?:19|20)\d\d)-?(?P<mm>0[1-9]|1[0-2])?-?(?P<dd>0[1-9]|[12]\d|3[01])?")
# Titles that say nothing about the document: left by the program that made the file.
_NO_TITLE = re.compile(r"^(?:untitled|sin título|document\d*|microsoft word\s*-.*|.*\.(?:docx?|pdf|odt|rtf|txt))$", re.IGNORECASE)


def usable_title(title: str) -> str:
    """A title from a file's metadata, or "" when it is empty or only a file name."""
    title = " ".join(title.split())
    if not title or _NO_TITLE.match(title):
        return ""
    return shorten(title, MAX_TITLE)


def iso_date(value: str) -> str:
    """"2018-11-05" (or "2018-11", "2018") from a metadata date such as "D:20181105120000Z"
    or "2018-11-05T12:00:00Z"; "" when there is none."""
    match = _METADATA_DATE.match(value.strip())
    if match is None:
        return ""
    parts = [match["year"]] + [part for part in (match["mm"], match["dd"] if match["mm"] else None) if part]
    return "-".join(parts)
