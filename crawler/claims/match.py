"""Finding a pinned passage in a page's text, tolerantly.

``find(passage, text)`` (or ``Page(text).find(passage)``, to search one text for many pins)
compares words as ``words.py`` folds them, so case, accents, line breaks, PDF hyphenation,
punctuation, quotes, dashes and thousands separators never make a difference. The verdicts:

``holds``
    every word of the passage is on the page, in order and together: the first such place
    is given. A page break may stand inside it: whole lines of at most ``NOISE_WORDS`` words
    (a running header, a page number, a footer) between two lines of the passage, at most
    ``NOISE_GAPS`` times, in a passage of at least ``NOISE_MIN_WORDS`` words. Anything else
    inside the passage, even one word, is a difference: a short pin never holds across
    a line of other text ("100\\nCancelado\\nmedidores").
``partial``
    the nearest place differs only in numbers ("40 medidores" for "100 medidores", 2018 for
    2017), whatever the score: numbers are what claims most often rest on, so a changed
    number is never ``holds`` and never lost; or else the nearest place scores at least
    ``PARTIAL_SCORE``: up to two words changed, missing or added in a passage of five, four
    in one of ten (a two-word pin with one word changed is lost).
``lost``
    nothing scores that much; ``nearest`` is the best place found (None when the page
    shares no word with the passage), for a report to show beside the pin.

The score is the Dice ratio of words, 2 * matched / (passage words + words of the place),
leaving out the noise lines of a page break: 1.0 for ``holds``, 0.8 for two words of ten
changed, 0.5 for "40 medidores" against "100 medidores".

Speed: the exact search is one ``str.find`` over the page's folded words. Otherwise the
passage's rarest words on the page (at most ``SEEDS`` of them, with at most
``SEED_POSITIONS`` occurrences in all) vote for where the passage would start, and only the
``CANDIDATES`` places with most votes are aligned word by word (difflib). A 2 MB PDF text
is folded once per ``Page`` and then searched for each pin in milliseconds.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from crawler.claims.words import Words, words
from crawler.exceptions import ClaimError

Status = Literal["holds", "partial", "lost"]

PARTIAL_SCORE = 0.6
NOISE_WORDS = 12
NOISE_GAPS = 2
NOISE_MIN_WORDS = 4
SEEDS = 6
SEED_POSITIONS = 20_000
CANDIDATES = 8
# Trimming stray matched words from a place's edges looks at every pair of matching blocks.
_TRIM_BLOCKS = 200
_SEPARATOR = "\x1f"  # never inside a folded word


@dataclass(frozen=True)
class Span:
    """``text`` stands at ``text[start:end]`` of the page, as written there."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Difference:
    """Words of the pin (``pinned``, as written in the pin) against the words at their
    place on the page (``found``, as written there); either is "" for words missing or
    added. ``number`` when both are numbers: "100" against "40"."""

    pinned: str
    found: str
    number: bool


@dataclass(frozen=True)
class Match:
    """Whether a page holds a passage. ``found`` is where (``holds`` and ``partial``);
    ``nearest`` is the best place of a ``lost`` passage, if the page shares any word with
    it; ``differences`` are those of ``found`` or ``nearest``."""

    status: Status
    score: float
    found: Span | None = None
    nearest: Span | None = None
    differences: tuple[Difference, ...] = ()


@dataclass(frozen=True)
class _Place:
    status: Status
    score: float
    start: int
    end: int
    differences: tuple[Difference, ...]


class Page:
    """A page's text, folded once, to search for any number of pinned passages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words: Words = words(text)
        folded = self.words.words
        self._joined = _SEPARATOR + _SEPARATOR.join(folded) + _SEPARATOR
        # Where each folded word begins in _joined, to turn a str.find hit into a word index.
        self._offsets = list(itertools.accumulate((len(word) + 1 for word in folded), initial=1))
        self._index: dict[str, list[int]] | None = None

    def find(self, passage: str) -> Match:
        """Whether this page holds ``passage``; ``ClaimError`` if the passage has no word
        or number to look for (empty, or punctuation only)."""
        pinned = words(passage)
        if not pinned.words:
            raise ClaimError(f"the passage {passage[:60]!r} has no word or number to look for")
        start = self._exact(pinned.words)
        if start is not None:
            end = start + len(pinned.words) - 1
            return Match("holds", 1.0, found=self._span(self.words.starts[start], self.words.ends[end]))
        best: _Place | None = None
        for low, high in self._candidates(pinned.words):
            place = self._align(pinned, low, high)
            if place is not None and (best is None or _rank(place) > _rank(best)):
                best = place
        if best is None:
            return Match("lost", 0.0)
        span = self._span(best.start, best.end)
        if best.status == "lost":
            return Match("lost", best.score, nearest=span, differences=best.differences)
        return Match(best.status, best.score, found=span, differences=best.differences)

    def _span(self, start: int, end: int) -> Span:
        return Span(start, end, self.text[start:end])

    def _exact(self, folded: list[str]) -> int | None:
        hit = self._joined.find(_SEPARATOR + _SEPARATOR.join(folded) + _SEPARATOR)
        return None if hit < 0 else bisect.bisect_left(self._offsets, hit + 1)

    def _candidates(self, folded: list[str]) -> list[tuple[int, int]]:
        """Word ranges of the page worth aligning with the passage: where its rarest words
        on the page say it would start."""
        if self._index is None:
            index: dict[str, list[int]] = {}
            for position, word in enumerate(self.words.words):
                index.setdefault(word, []).append(position)
            self._index = index
        places: dict[str, list[int]] = {}
        for position, word in enumerate(folded):
            places.setdefault(word, []).append(position)
        seeds = sorted((len(self._index[word]), word) for word in places if word in self._index)
        size = len(folded)
        width = max(4, size // 2)
        votes: Counter[int] = Counter()
        used = 0
        for count, word in seeds[:SEEDS]:
            positions = self._index[word]
            if used and used + count > SEED_POSITIONS:
                break
            if count > SEED_POSITIONS:
                # Only common words to go by (a page of one repeated word): a sample of them.
                positions = positions[:: count // SEED_POSITIONS + 1]
            for offset in places[word]:
                for position in positions:
                    votes[(position - offset) // width] += 1
            used += len(positions)
        total = len(self.words.words)
        return [
            (max(0, bucket * width - size), min(total, (bucket + 1) * width + 2 * size))
            for bucket, _ in votes.most_common(CANDIDATES)
        ]

    def _align(self, pinned: Words, low: int, high: int) -> _Place | None:
        """The best place for the passage among page words ``low:high``, judged."""
        folded = pinned.words
        size = len(folded)
        window = self.words.words[low:high]
        forward = [
            (block.a, block.b, block.size)
            for block in SequenceMatcher(None, folded, window, autojunk=False).get_matching_blocks()
            if block.size
        ]
        if not forward:
            return None
        # difflib settles ties between equally long matches on the earliest: a word of the
        # pin also found just before its place ("A A 0" for "A 1") would pull the place
        # early. Aligned backwards too, that word is taken where it is nearest the rest.
        backward = [
            (size - block.a - block.size, len(window) - block.b - block.size, block.size)
            for block in SequenceMatcher(None, folded[::-1], window[::-1], autojunk=False).get_matching_blocks()
            if block.size
        ][::-1]
        places = [self._judge(pinned, low, window, blocks) for blocks in (forward, backward)]
        return max(places, key=_rank)

    def _judge(self, pinned: Words, low: int, window: list[str], blocks: list[tuple[int, int, int]]) -> _Place:
        """The place that matching ``blocks`` of the pin and ``window`` (page words from
        ``low``) point to, judged."""
        folded = pinned.words
        size = len(folded)
        first, last = _trim(blocks, size)
        # Unmatched words of the pin before its first matched word (and after its last)
        # stand against as many page words: "100" against "40" rather than against nothing.
        begin = max(0, blocks[first][1] - blocks[first][0])
        finish = min(len(window), blocks[last][1] + blocks[last][2] + (size - blocks[last][0] - blocks[last][2]))
        region = window[begin:finish]
        operations = SequenceMatcher(None, folded, region, autojunk=False).get_opcodes()
        offset = low + begin
        noise = [op for op in operations if op[0] == "insert" and self._is_noise(offset + op[3], offset + op[4])]
        noise_words = sum(op[4] - op[3] for op in noise)
        matched = sum(op[2] - op[1] for op in operations if op[0] == "equal")
        changes = [op for op in operations if op[0] != "equal" and op not in noise]
        score = 2 * matched / (size + len(region) - noise_words)
        if not changes and len(noise) <= NOISE_GAPS and size >= NOISE_MIN_WORDS:
            status: Status = "holds"
            score = 1.0
        elif self._numbers_only(pinned, offset, changes) and any(
            not pinned.is_number(index) for op in operations if op[0] == "equal" for index in range(op[1], op[2])
        ):
            status = "partial"
        else:
            status = "partial" if score >= PARTIAL_SCORE else "lost"
        differences = tuple(self._difference(pinned, offset, op) for op in changes)
        start = self.words.starts[offset]
        end = self.words.ends[offset + len(region) - 1]
        return _Place(status, score, start, end, differences)

    def _is_noise(self, first: int, stop: int) -> bool:
        """Page words ``first:stop`` are whole lines, short enough to be a page break's."""
        if stop - first > NOISE_WORDS or first == 0 or stop >= len(self.words.words):
            return False
        text, starts, ends = self.text, self.words.starts, self.words.ends
        return "\n" in text[ends[first - 1]:starts[first]] and "\n" in text[ends[stop - 1]:starts[stop]]

    def _numbers_only(self, pinned: Words, offset: int, changes: Sequence[tuple[str, int, int, int, int]]) -> bool:
        return bool(changes) and all(
            all(pinned.is_number(index) for index in range(op[1], op[2]))
            and all(self.words.is_number(offset + index) for index in range(op[3], op[4]))
            for op in changes
        )

    def _difference(self, pinned: Words, offset: int, op: tuple[str, int, int, int, int]) -> Difference:
        _, pin_low, pin_high, page_low, page_high = op
        was = _text_of(pinned, pin_low, pin_high)
        now = _text_of(self.words, offset + page_low, offset + page_high)
        number = (
            pin_high > pin_low
            and page_high > page_low
            and all(pinned.is_number(index) for index in range(pin_low, pin_high))
            and all(self.words.is_number(offset + index) for index in range(page_low, page_high))
        )
        return Difference(was, now, number)


def _text_of(found: Words, low: int, high: int) -> str:
    """Words ``low:high`` as written, a number group widened to its whole number."""
    if high <= low:
        return ""
    start, end = found.starts[low], found.ends[high - 1]
    if found.is_number(low):
        start = found.whole_number(low)[0]
    if found.is_number(high - 1):
        end = found.whole_number(high - 1)[1]
    return found.text[start:end]


def _trim(blocks: list[tuple[int, int, int]], size: int) -> tuple[int, int]:
    """The run of matching blocks (first, last) with the best Dice ratio: a common word
    matched far from the rest is left out of the place."""
    if len(blocks) > _TRIM_BLOCKS:
        return 0, len(blocks) - 1
    sums = list(itertools.accumulate((block[2] for block in blocks), initial=0))
    best, pair = -1.0, (0, len(blocks) - 1)
    for first in range(len(blocks)):
        for last in range(first, len(blocks)):
            # The place also takes in as many page words as the pin has unmatched words
            # beyond the run, on each side (see _align).
            span = blocks[last][1] + blocks[last][2] - blocks[first][1] + blocks[first][0] + size - blocks[last][0] - blocks[last][2]
            ratio = 2 * (sums[last + 1] - sums[first]) / (size + span)
            if ratio > best:
                best, pair = ratio, (first, last)
    return pair


def _rank(place: _Place) -> tuple[int, float, int]:
    return ({"holds": 2, "partial": 1, "lost": 0}[place.status], place.score, -place.start)


@functools.lru_cache(maxsize=2)
def _page(text: str) -> Page:
    return Page(text)


def find(passage: str, text: str) -> Match:
    """Whether ``text`` (a page's extracted text) holds ``passage``; see the module's
    docstring for the verdicts. Searching one text for several passages folds it once."""
    return _page(text).find(passage)
