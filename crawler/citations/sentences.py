"""The citing sentence: where a sentence around a spot in a paragraph starts and ends.

Every format ends up here: a URL in body text is quoted with its own sentence, a URL in a
footnote with the body sentence that carries the footnote's marker.
"""

from __future__ import annotations

import bisect
import functools
import re

from crawler.citations.urls import SUPERSCRIPT_DIGITS

MAX_CONTEXT = 300

_SENTENCE_END = re.compile(
    rf"[.!?]+[\"'”’»)\]*_{SUPERSCRIPT_DIGITS}]*(?=\s+[\"'“‘«(\[*_¿¡]*[A-ZÀ-Þ0-9])"
)
_LIST_BULLET = re.compile(r"\s*(?:[-*+•]|\d{1,3}[.)])[ \t]+")
_WORD_BEFORE = re.compile(r"(\S+)$")
_FIRST_SPACE = re.compile(r"\s")
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "cf", "vs", "no", "nos", "vol", "pp", "p", "art", "fig", "ed", "eds", "mr", "mrs",
     "ms", "dr", "prof", "st", "sr", "sra", "lic", "ing", "núm", "pág", "ej", "approx", "dept", "inc",
     "ltd", "co", "jr"}
)


def sentence_at(text: str, offset: int) -> str:
    """The sentence of ``text`` around ``offset``, clipped to ``MAX_CONTEXT`` characters."""
    ends = _sentence_ends(text)
    after = bisect.bisect_right(ends, offset)
    start = ends[after - 1] if after else 0
    end = ends[after] if after < len(ends) else len(text)
    # A list bullet opens the paragraph, not the sentence.
    if bullet := _LIST_BULLET.match(text, start):
        start = min(bullet.end(), offset)
    return clip(text[start:end], offset - start)


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


def clip(sentence: str, offset: int) -> str:
    """Whitespace collapsed; if too long, a window around ``offset`` cut at word boundaries."""
    reach = 4 * MAX_CONTEXT
    if len(sentence) > 3 * reach:
        # A list of bare URLs is one long "sentence": flattening all of it for each of
        # its URLs made importing 10,000 of them quadratic. The window only needs the
        # neighbourhood, cut at whitespace so no word is split.
        low, high = max(offset - reach, 0), min(offset + reach, len(sentence))
        piece = sentence[low:high]
        head = _FIRST_SPACE.search(piece) if low else None
        tail = _last_space(piece) if high < len(sentence) else -1
        cut_low = head.start() if head else 0
        cut_high = tail if tail >= 0 else len(piece)
        piece = ("… " if low else "") + piece[cut_low:cut_high] + (" …" if high < len(sentence) else "")
        return clip(piece, offset - low - cut_low + (2 if low else 0))
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


def _last_space(text: str) -> int:
    """Index of the last whitespace character of ``text``, or -1. Scanned from the end: a
    regular expression anchored at the end tries every position from the start, and this
    ran once per URL of a long list."""
    for index in range(len(text) - 1, -1, -1):
        if text[index].isspace():
            return index
    return -1
