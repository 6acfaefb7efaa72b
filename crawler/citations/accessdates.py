"""When a cited URL was consulted, as the note that cites it says ("consultado el 12 de marzo
de 2017", "accessed March 12, 2017", "Acesso em: 12 mar. 2017", "consulté le 12 mars 2017").

Only a date that follows an access phrase counts: a note also names publication dates
("Informe 2016", "publicado el 3 de mayo de 2016"), and those say when the source was
written, not when the author saw it. The phrases are Spanish (consultado, fecha de consulta,
consulta:, recuperado, visitado, último acceso, accedido), English (accessed, last accessed,
retrieved, viewed, visited, consulted, access date), Portuguese (acesso em, acessado,
consultado em, data de acesso, visualizado) and French (consulté, date de consultation,
dernière consultation). Between the phrase and its date only a colon, a bracket and a few
glue words ("el", "el día", "on", "em", "le", a weekday) may stand; the bare nouns
("consulta", "acceso", "acesso", "consultation") need a colon or "el"/"em"/"le"/"on" after
them, since "consulta del 12 de marzo" is more often an event than a visit.

Dates are whole days: ISO ``2017-03-12`` (or with slashes), a day and a month name in
either order ("12 de marzo de 2017", "12 mar. 2017", "March 12th, 2017", "1er mars 2017";
full or abbreviated names in the four languages, with or without the dot, accents
optional), or numbers ``12/03/2017`` (also with dots or dashes, and two-digit years as
20xx). Numbers are read day first after a Spanish, Portuguese or French phrase; after an
English one month first, unless the first number is over 12 ("accessed 25/03/2017" is the
25th). A month and year without a day ("accessed March 2017") is not a day and is not
taken. Impossible dates (31 de febrero), dates before 1990 and dates after today are
ignored: they are typing mistakes, and no one consulted the web then.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

_MONTH_NAMES = (
    ("january", "jan", "enero", "ene", "janeiro", "janvier", "janv"),
    ("february", "feb", "febrero", "fevereiro", "fev", "fevrier", "fevr"),
    ("march", "mar", "marzo", "marco", "mars"),
    ("april", "apr", "abril", "abr", "avril", "avr"),
    ("may", "mayo", "maio", "mai"),
    ("june", "jun", "junio", "junho", "juin"),
    ("july", "jul", "julio", "julho", "juillet", "juil"),
    ("august", "aug", "agosto", "ago", "aout"),
    ("september", "sep", "sept", "septiembre", "setiembre", "set", "setembro", "septembre"),
    ("october", "oct", "octubre", "outubro", "out", "octobre"),
    ("november", "nov", "noviembre", "novembro", "novembre"),
    ("december", "dec", "diciembre", "dic", "dezembro", "dez", "decembre"),
)
_MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun"
    r"|lunes|martes|miercoles|jueves|viernes|sabado|domingo"
    r"|segunda|terca|quarta|quinta|sexta)(?:-feira)?"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
)

# English phrases read numeric dates month first; every other language day first.
_ENGLISH = r"(?:last\s+|date\s+)?accessed|access\s+date|retrieved|viewed|(?:last\s+)?visited|consulted"
_OTHER = (
    r"fecha\s+de\s+(?:consulta|acceso)|ultim[oa]\s+(?:acceso|consulta)|consultad[oa]s?|recuperad[oa]s?"
    r"|visitad[oa]s?|accedid[oa]s?|accesad[oa]s?"
    r"|data\s+de\s+acesso|acessad[oa]s?|visualizad[oa]s?"
    r"|date\s+de\s+consultation|derniere\s+consultation|(?:page\s+)?consultee?s?"
)
_NOUN = r"consulta|acceso|acesso|consultation"
_GLUE_WORD = r"(?:on|el|em|en|le|the|at|al|dia|fecha|date)"
_GLUE = rf"[ \t\n:(\[\-–—]*(?:{_GLUE_WORD}\b[ \t\n:,]*){{0,2}}(?:(?:{_WEEKDAY})\b[ \t\n,]*)?"
_NOUN_GLUE = rf"[ \t\n]*(?::|\b(?:el|em|le|on)\b)[ \t\n:]*(?:(?:{_GLUE_WORD})\b[ \t\n:,]*)?(?:(?:{_WEEKDAY})\b[ \t\n,]*)?"

_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th|er|o|º|°)?"
_YEAR = r"(?:19|20)\d\d"
_DATE = (
    rf"(?P<iso>(?P<iy>{_YEAR})[-/](?P<im>0?[1-9]|1[0-2])[-/](?P<id>[0-3]?\d))(?!\d)"
    rf"|(?P<dm>(?P<dd>{_DAY})[ \t\n.\-/]*(?:de[ \t\n]+|of[ \t\n]+)?(?P<dmonth>{_MONTH})\b\.?"
    rf"[ \t\n,.\-/]*(?:de[ \t\n]+|del[ \t\n]+)?(?P<dy>{_YEAR}))(?!\d)"
    rf"|(?P<md>(?P<mmonth>{_MONTH})\b\.?[ \t\n]+(?P<md_day>{_DAY}),?[ \t\n]+(?P<my>{_YEAR}))(?!\d)"
    r"|(?P<num>(?P<n1>[0-3]?\d)(?P<sep>[/.\-])(?P<n2>[01]?\d)(?P=sep)(?P<ny>(?:19|20)\d\d|\d\d))(?![\d/.\-]\d)"
)
_ACCESS = rf"\b(?:(?P<en>{_ENGLISH})\b{_GLUE}|(?P<other>{_OTHER})\b{_GLUE}|(?P<noun>{_NOUN})\b{_NOUN_GLUE})(?:{_DATE})"
# Every access phrase starts with one of these; most notes hold none, and the full pattern
# costs 3 MB to compile, so it is only compiled for a text that might hold an access date.
_PHRASE_START = re.compile(
    r"\b(?:consult|acced|accesa|acceso|acess|access|fecha|data|date|ultim|recuperad|visit|retriev|viewed|derniere"
    r"|page|visualiz|last)"
)
_EARLIEST = date(1990, 1, 1)


@dataclass(frozen=True)
class AccessDate:
    """An access date in a note: the day, and where its phrase starts and its date ends."""

    start: int
    end: int
    day: date


def fold(text: str) -> str:
    """``text`` lowercased and without accents, character for character: offsets into it
    are offsets into ``text``."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


@functools.cache
def _fold_char(char: str) -> str:
    return unicodedata.normalize("NFKD", char.lower())[:1] or char


@functools.cache
def _access() -> re.Pattern[str]:
    return re.compile(_ACCESS)


def access_dates(text: str, today: date | None = None) -> list[AccessDate]:
    """Every access date ``text`` states, in order."""
    folded = fold(text)
    if not _PHRASE_START.search(folded):
        return []
    latest = today or date.today()
    found: list[AccessDate] = []
    for match in _access().finditer(folded):
        day = _day(match)
        if day is not None and _EARLIEST <= day <= latest:
            found.append(AccessDate(match.start(), match.end(), day))
    return found


def _day(match: re.Match[str]) -> date | None:
    try:
        if match["iso"]:
            return date(int(match["iy"]), int(match["im"]), int(match["id"]))
        if match["dm"]:
            return date(int(match["dy"]), _MONTHS[match["dmonth"]], _number(match["dd"]))
        if match["md"]:
            return date(int(match["my"]), _MONTHS[match["mmonth"]], _number(match["md_day"]))
        first, second = int(match["n1"]), int(match["n2"])
        year = int(match["ny"]) + (2000 if len(match["ny"]) == 2 else 0)
        if match["en"] and first <= 12:
            first, second = second, first
        return date(year, second, first)
    except ValueError:
        return None


def _number(day: str) -> int:
    return int(re.match(r"\d+", day).group())  # type: ignore[union-attr]


def dates_for(text: str, spans: Sequence[tuple[int, int]], today: date | None = None) -> list[date | None]:
    """The access date of each URL at ``spans`` (start, end offsets, in order) of the note
    ``text``.

    One date (or the same date said twice) applies to every URL of the note: "A y B,
    consultados el 12 de marzo de 2017". Where the note states different dates, the note's
    style decides: if its first date comes before its first URL ("Retrieved March 12, 2017,
    from URL"), each URL takes the last date before it; otherwise ("URL (accessed ...)")
    the first date after it. A URL looks first in its own stretch of the note, between the
    URLs on either side of it, then beyond.
    """
    found = access_dates(text, today)
    if not found:
        return [None] * len(spans)
    if len({item.day for item in found}) == 1:
        return [found[0].day] * len(spans)
    before_style = bool(spans) and found[0].start < spans[0][0]
    # Dates do not overlap, so their starts and ends are both in order: bisecting them keeps
    # a list of 10,000 dated URLs linear rather than quadratic.
    starts = [item.start for item in found]
    ends = [item.end for item in found]
    result: list[date | None] = []
    for index, (start, end) in enumerate(spans):
        low = spans[index - 1][1] if index else 0
        high = spans[index + 1][0] if index + 1 < len(spans) else len(text)
        before_at = bisect.bisect_right(ends, start) - 1
        after_at = bisect.bisect_left(starts, end)
        before = found[before_at] if before_at >= 0 else None
        after = found[after_at] if after_at < len(found) else None
        own_before = before if before is not None and before.start >= low else None
        own_after = after if after is not None and after.start < high else None
        if before_style:
            choices = (own_before, own_after, before, after)
        else:
            choices = (own_after, own_before, after, before)
        chosen = next((choice for choice in choices if choice is not None), None)
        result.append(chosen.day if chosen else None)
    return result
