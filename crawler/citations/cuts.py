"""Where a URL cut at a line break goes on.

PDF text layers cut long URLs at the end of a line or a page, and documents converted from
PDF keep those cuts as line breaks. A cut is mended only when the next line can only be the
rest of the URL (see ``continues``): a wrong join invents an address, while a URL left cut
is at worst reported as it is written.
"""

from __future__ import annotations

import re

from crawler.citations.normalize import normalize_url
from crawler.citations.urls import SUPERSCRIPT_DIGITS, URL_START_RE, scan_line

# Lines that open a block of their own (a note, a list item): never the rest of a URL.
_BLOCK_START = re.compile(rf"^\s*(?:[0-9]{{1,3}}[ \t\u00a0]|[{SUPERSCRIPT_DIGITS}]+|[-*+•][ \t]|\[)")
_URL_CHAR = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
# A cut right after these is inside a URL, never at its end as written in prose.
_STRONG_CUT = re.compile(r"(?:[-_.=&?%~+#:@]|%[0-9A-Fa-f])$")
# A word or number of prose: letters or digits only, then perhaps punctuation.
_PROSE_WORD = re.compile(r"[^\W_]+[.,;:!?)”’\"']*")
_SENTENCE_END = re.compile(r"[.!?][)”’\"']*$")
_URL_PUNCTUATION = re.compile(r"[/=&?%_#~]|\w\.\w|^[-./]")
_TRAILING = ".,;:!?)>\"'”’"


def open_url(text: str) -> tuple[str, bool] | None:
    """The URL a line ends inside (as written up to the end), and whether "<" opened it."""
    words = text.split()
    if not words:
        return None
    token = words[-1]
    match = URL_START_RE.search(token)
    if match is None:
        return None
    url = token[match.start():]
    angle = token[: match.start()].endswith("<")
    if ">" in url or (not angle and url[-1:] in ")]\"'”’"):
        return None
    return url, angle


def continues(url: str, angle: bool, following: str, targets: set[str]) -> bool:
    """Whether ``following`` starts with the rest of ``url``, cut at the end of its line."""
    line = following.lstrip()
    words = line.split(maxsplit=1)
    if not words or _BLOCK_START.match(line):
        return False
    token, rest = words[0], (words[1] if len(words) > 1 else "")
    if URL_START_RE.match(token) or not _URL_CHAR.match(token[0]):
        return False
    verdict = _annotation_says(url, token, targets)
    if verdict is not None:
        return verdict
    if angle:
        return True
    if _STRONG_CUT.search(url):
        # "…/some-" + "word and more prose" is a hyphenated word after a URL, not its rest.
        return not (_PROSE_WORD.fullmatch(token) and (rest or _SENTENCE_END.search(token)))
    return bool(_URL_PUNCTUATION.search(token.rstrip(_TRAILING)))


def _annotation_says(url: str, token: str, targets: set[str]) -> bool | None:
    """True when a link target on the page is the joined URL (or starts with it), False when
    one is the URL as cut; None when the annotations do not tell."""
    if not targets:
        return None
    as_cut = _first_url(url)
    joined = _first_url(url + token)
    candidates = [joined] + ([_first_url(url[:-1] + token)] if url.endswith("-") else [])
    if any(target.startswith(candidate) for target in targets for candidate in candidates if candidate):
        return True
    if as_cut and normalize_url(as_cut) in {normalize_url(target) for target in targets}:
        return False
    return None


def _first_url(text: str) -> str:
    spans = scan_line(text)
    return spans[0].text if spans else ""
