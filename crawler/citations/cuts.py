"""Where a URL cut at a line break goes on.

PDF text layers cut long URLs at the end of a line or a page, and documents converted from
PDF keep those cuts as line breaks. A cut is mended only when the next line can only be the
rest of the URL (see ``continues``): a wrong join invents an address, while a URL left cut
is at worst reported as it is written.

Word and LibreOffice wrap a long URL at any character of a justified line, so the cut can
fall inside the scheme ("<htt" / "ps://...", "https:" / "//...") or the host ("https://www." /
"gob.mx/..."). Read line by line, the rest of such a URL is a URL of its own with the
scheme "ps" or none at all, and the cited address is lost.
"""

from __future__ import annotations

import re

from crawler.citations.normalize import normalize_url
from crawler.citations.urls import SUPERSCRIPT_DIGITS, URL_START_RE, host_of, scan_line, valid_host

# Lines that open a block of their own (a note, a list item): never the rest of a URL.
_BLOCK_START = re.compile(rf"^\s*(?:[0-9]{{1,3}}[ \t\u00a0]|[{SUPERSCRIPT_DIGITS}]+|[-*+•][ \t]|\[)")
_URL_CHAR = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
# A cut right after these is inside a URL, never at its end as written in prose.
_STRONG_CUT = re.compile(r"(?:[-_.=&?%~+#:@]|%[0-9A-Fa-f])$")
# A word or number of prose: letters or digits only, then perhaps punctuation.
_PROSE_WORD = re.compile(r"[^\W_]+[.,;:!?)”’\"']*")
_SENTENCE_END = re.compile(r"[.!?][)”’\"']*$")
_URL_PUNCTUATION = re.compile(r"[/=&?%_#~]|\w\.\w|^[-./]")
# The rest of a slug cut at any character ("programa-sectorial-d" / "e-salud-2013-2018"): prose
# words seldom carry two hyphens, and then rarely all in lower case right after a URL.
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}")
_TRAILING = ".,;:!?)>\"'”’"
# The start of "http://" or "https://" ending a line, alone or after an opening bracket or
# quote: "<htt", "(https:", "http". It goes on only where the next line completes the
# scheme (``continues``), so "el protocolo http" / "es ..." stays prose.
_PARTIAL_SCHEME = re.compile(r"(?:^|(?<=[<(\[\"'“‘«]))h(?:t(?:t(?:p(?:s?:?)?)?)?)?$", re.IGNORECASE)
_WHOLE_SCHEME = re.compile(r"https?://[^\W_]", re.IGNORECASE)
_HOST_CHAR = re.compile(r"[^\W_]|-")


def open_url(text: str) -> tuple[str, bool] | None:
    """The URL a line ends inside (as written up to the end), and whether "<" opened it."""
    words = text.split()
    if not words:
        return None
    token = words[-1]
    match = URL_START_RE.search(token)
    if match is None:
        # "https:" is no URL start by itself (a URL needs something after the colon).
        partial = _PARTIAL_SCHEME.search(token)
        if partial is None:
            return None
        return partial.group(), token[: partial.start()].endswith("<")
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
    if not URL_START_RE.match(url):
        # A cut scheme goes on only where the next line finishes it: "htt" + "ps://x".
        return bool(_WHOLE_SCHEME.match(url + token))
    if URL_START_RE.match(token) or not _URL_CHAR.match(token[0]):
        return False
    verdict = _annotation_says(url, token, targets)
    if verdict is not None:
        return verdict
    if angle:
        # Inside "<...>" the URL runs to the ">": the next line is its rest when it closes
        # the brackets or is nothing but more of the URL, not when it goes on with prose.
        return ">" in token or not rest
    if _unfinished_host(url) and _HOST_CHAR.match(token) and not (url.endswith(".") and token[0].isupper()):
        # "https://www." / "gob.mx es el sitio": a host that is no host yet takes the next word
        # when that makes it one. A capital after a dot is a new sentence ("...localhost." / "Luego").
        joined = host_of(_first_url(url + token))
        if joined is not None and valid_host(joined):
            return True
    if url.endswith(".") and token[0].islower():
        # No sentence goes on in lower case after its full stop: "…/anual." / "pdf y los anexos".
        return True
    if _STRONG_CUT.search(url):
        # "…/some-" + "word and more prose" is a hyphenated word after a URL, not its rest.
        return not (_PROSE_WORD.fullmatch(token) and (rest or _SENTENCE_END.search(token)))
    word = token.rstrip(_TRAILING)
    return bool(_URL_PUNCTUATION.search(word) or _SLUG.fullmatch(word))


def _unfinished_host(url: str) -> bool:
    """Whether ``url`` stops inside its host: nothing after the host yet, and the host empty,
    ending in a dot or hyphen, or not a host name at all ("https://www.", "https://aplicaci")."""
    authority = url.partition("//")[2]
    if any(char in authority for char in "/?#"):
        return False
    host = authority.rpartition("@")[2]
    if host.endswith((".", "-")) or not host:
        return True
    return not valid_host(host.partition(":")[0])


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
