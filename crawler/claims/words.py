"""A text as comparable words, each knowing where it stands in the original.

Claims are compared word by word, not character by character: what a citation relies on is
its words and numbers, and punctuation between them (commas, quotes of any kind, dashes,
ellipses, bullets, footnote marks) is what pages and PDF extractions vary most without
changing what they say. Each word is folded so that spellings of one word compare equal:

- case (``casefold``), compatibility forms and ligatures (NFKD: "ﬁ" is "fi", "ª" is "a") and
  accents (combining marks dropped: "instalación" is "instalacion");
- a line-end hyphen inside a word is PDF hyphenation ("medi-\\ndores" is "medidores") when
  the next line goes on in lower case; a soft hyphen is always hyphenation. A hyphen between
  letters joins them into one word compared without it ("co-creación" is "cocreación"), so a
  compound broken at its own hyphen at a line end is found either way;
- typographic apostrophes are the plain one, and stay inside the word ("l’État" is "l'etat");
- superscript and subscript digits are not words: they are footnote marks ("medidores²");
- numbers are read with their separators (``_number``): "1,000", "1.000", "1 000" (with any
  space, as extraction turns NBSP and thin spaces into plain ones) and "1000" are all the
  groups "1" "000"; "1,5" and "1.5" are "1.5", which differs from "15".

A word keeps the span it came from, so a match is reported in the original characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Scanning works on a same-length copy of the text with a few characters replaced, so the
# offsets found in it are offsets in the original.
_COMBINING = [(0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F)]
_SCAN: dict[int, str] = {}
for _low, _high in _COMBINING:
    _SCAN.update({code: "a" for code in range(_low, _high + 1)})  # accents stay inside their word
_SCAN.update({0x200C: "a", 0x200D: "a", 0x2060: "a"})  # joiners stay inside their word
_SCAN.update({0x00AD: "-", 0x2010: "-", 0x2011: "-"})  # soft and typographic hyphens
_SCAN.update({0x2019: "'", 0x2018: "'", 0x02BC: "'"})  # typographic apostrophes
_SCAN.update({code: " " for code in (0x00B9, 0x00B2, 0x00B3, *range(0x2070, 0x20A0))})  # note marks

_TOKEN = re.compile(r"([^\W\d_]+(?:(?:'|-(?:[ \t]*\r?\n[ \t]*)?)[^\W\d_]+)*)|(\d+(?:[.,]\d+)*)")
_SCAN_CHARS = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_SCAN)) + "]")
_LINE_JOINT = re.compile(r"[-\u00ad\u2010\u2011][ \t]*\r?\n[ \t]*")
_INSIDE = re.compile(r"[\s\-\u00ad\u2010\u2011\u200c\u200d\u2060]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_SEPARATOR = re.compile(r"([.,])")


@dataclass
class Words:
    """The words of ``text``: ``words[i]`` is folded, ``text[starts[i]:ends[i]]`` is where it
    came from. The groups of one number written without spaces ("1,000") share its span."""

    text: str
    words: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.words)

    def is_number(self, index: int) -> bool:
        return self.words[index][:1].isdigit()

    def whole_number(self, index: int) -> tuple[int, int]:
        """The span of the number that word ``index`` is a group of: "1 500" for its "500"
        (groups after a single space are one number only when they are three digits)."""
        start, end = self.starts[index], self.ends[index]
        left = index
        while left > 0 and self.is_number(left - 1) and self._grouped(left - 1, left):
            left -= 1
        right = index
        while right + 1 < len(self.words) and self.is_number(right + 1) and self._grouped(right, right + 1):
            right += 1
        return min(start, self.starts[left]), max(end, self.ends[right])

    def _grouped(self, before: int, after: int) -> bool:
        if self.starts[after] == self.starts[before]:
            return True  # groups of one written number
        gap = self.text[self.ends[before]:self.starts[after]]
        group = self.text[self.starts[after]:self.ends[after]]
        return len(gap) == 1 and gap.isspace() and re.fullmatch(r"\d{3}(?:[.,]\d+)?", group) is not None


def words(text: str) -> Words:
    """``text`` as folded words with their spans."""
    # Splitting finds the words in C: a 2 MB text has some 300,000 of them, and a loop over
    # match objects was half the cost.
    scan = _SCAN_CHARS.sub(_scanned, text)
    pieces = _TOKEN.split(scan)[:-1]  # separator, word, number, separator, word, number, ...
    found = Words(text)
    cache: dict[str, str | tuple[tuple[int, int, str], ...]] = {}
    position = 0
    append_word, append_start, append_end = found.words.append, found.starts.append, found.ends.append
    for separator, word, number in zip(pieces[0::3], pieces[1::3], pieces[2::3], strict=True):
        start = position + len(separator)
        end = start + len(word or number)
        position = end
        original = text[start:end]
        folded = cache.get(original)
        if folded is None:
            folded = cache[original] = _fold(original, number is not None)
        if isinstance(folded, str):
            append_word(folded)
            append_start(start)
            append_end(end)
        else:
            for low, high, part in folded:
                append_word(part)
                append_start(start + low)
                append_end(start + high)
    return found


def _scanned(char: re.Match[str]) -> str:
    return _SCAN[ord(char.group())]


def _fold(token: str, number: bool) -> str | tuple[tuple[int, int, str], ...]:
    """The folded word of one scanned token, or its folded words with spans relative to it
    where it is several."""
    if number:
        groups = _number(token)
        return groups[0] if len(groups) == 1 else tuple((0, len(token), group) for group in groups)
    pieces: list[tuple[int, int]] = []
    start = 0
    for joint in _LINE_JOINT.finditer(token):
        following = token[joint.end():joint.end() + 1]
        if token[joint.start()] != "\u00ad" and not following.islower():
            # A new line that starts in capitals is a new word (a heading, a name), not the
            # rest of a hyphenated one.
            pieces.append((start, joint.start()))
            start = joint.end()
    if not pieces:
        return _word(token)
    pieces.append((start, len(token)))
    return tuple((low, high, _word(token[low:high])) for low, high in pieces)


def _word(token: str) -> str:
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", _INSIDE.sub("", token)).casefold())
    return "".join(char for char in folded if not unicodedata.combining(char)).translate(_APOSTROPHES)


def _number(token: str) -> list[str]:
    """A written number as its groups of three digits from the right, the decimals on the
    last: "1.234,5" -> ["1", "234.5"]. A separator followed by exactly three digits groups
    thousands ("1.000" and "1,000" are a thousand, as in most Spanish and English writing);
    one followed by other counts of digits, or after a lone 0, is a decimal mark; numbers
    that fit neither ("12.03.2017", "2.19.1") are kept as written with "." for ",". """
    if not token.isascii():
        token = "".join(str(unicodedata.digit(char)) if char.isdigit() else char for char in token)
    pieces = _SEPARATOR.split(token)
    groups, separators = pieces[0::2], pieces[1::2]
    whole, decimals = groups[0], ""
    if separators:
        thousands_only = all(len(group) == 3 for group in groups[1:]) and len(set(separators)) == 1
        if thousands_only and not (len(groups) == 2 and set(groups[0]) == {"0"}):
            whole = "".join(groups)
        elif all(len(group) == 3 for group in groups[1:-1]) and (
            len(separators) == 1 or (len(set(separators[:-1])) == 1 and separators[-1] != separators[0])
        ):
            whole, decimals = "".join(groups[:-1]), groups[-1]
        else:
            return [token.replace(",", ".")]
    split = [whole[max(0, end - 3):end] for end in range(len(whole), 0, -3)][::-1]
    if decimals:
        split[-1] += "." + decimals
    return split
