"""Pins proposed from a document: what a citing sentence or a note puts in quotation marks.

A note that quotes its source ("se instalarán «100 medidores»") says which passage it relies
on. ``quotes`` finds every quotation in a text: straight "..." and '...', curly “...” and
‘...’, «...», ‹...›, the low-opening „...“ and ‚...‘, and quotations nested in others (the
Spanish ‘...’ inside «...»; both are proposed, the outer first). Titles of documents in
quotation marks are proposed too: only the researcher knows whether the note relies on one.

What is not a quotation: an apostrophe between letters ("l’État", "don't", "Ministry’s"),
a quotation mark that opens nothing (no closing mark before the text ends: a stray "), and
a quotation of a single word without a digit ("so-called “reforms”"); one word with a
digit is kept ("“2017”", "«26»").
"""

from __future__ import annotations

import re

# Opening mark -> the marks that close it.
_CLOSERS = {
    "“": "”",
    "„": "“”",
    "‘": "’",
    "‚": "‘’",
    "«": "»",
    "‹": "›",
    '"': '"',
    "'": "'",
}
_WORD = re.compile(r"\w+")


def quotes(text: str) -> list[str]:
    """The quoted passages of ``text`` worth proposing as pins, in the order they open,
    each once, with its spaces and line breaks made single spaces."""
    found: list[tuple[int, str]] = []
    stack: list[tuple[str, int]] = []  # (opening mark, offset after it)
    for offset, char in enumerate(text):
        if char not in _CLOSERS and char not in "”’»›":
            continue
        before = text[offset - 1] if offset else " "
        after = text[offset + 1] if offset + 1 < len(text) else " "
        if char in "'’" and before.isalnum() and after.isalnum():
            continue  # an apostrophe
        closes = next((depth for depth in range(len(stack) - 1, -1, -1) if char in _CLOSERS[stack[depth][0]]), None)
        if closes is not None and _can_close(char, before, after):
            start = stack[closes][1]
            del stack[closes:]  # marks opened inside and never closed were not quotations
            found.append((start, text[start:offset]))
        elif char in _CLOSERS and _can_open(char, before, after):
            stack.append((char, offset + 1))
    passages: list[str] = []
    for _, quoted in sorted(found):
        passage = " ".join(quoted.split())
        if _worth(passage) and passage not in passages:
            passages.append(passage)
    return passages


def _can_open(char: str, before: str, after: str) -> bool:
    if after.isspace():
        return False
    # Straight and English quotation marks open after a space, a bracket or another mark;
    # an "'" after a letter or digit is an apostrophe or a foot sign.
    return char in "«‹„‚" or not before.isalnum()


def _can_close(char: str, before: str, after: str) -> bool:
    if char in "'’":
        return not before.isspace() and not after.isalnum()
    return not before.isspace() or char in "»›"


def _worth(passage: str) -> bool:
    count = len(_WORD.findall(passage))
    return count >= 2 or (count == 1 and any(char.isdigit() for char in passage))
