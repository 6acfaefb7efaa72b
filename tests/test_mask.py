"""The windowed ``mask`` must blank exactly what the plain sequence of patterns blanks."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.verdicts import fingerprint
from crawler.verdicts.fingerprint import _VOLATILE, _day_spellings, mask

WHEN = datetime(2026, 1, 1, 0, 30, tzinfo=timezone.utc)


def reference_mask(text: str, when: datetime | None) -> str:
    """The definition: every date spelling of the capture day +-1, then each volatile pattern,
    over the whole text."""
    if when is not None:
        days = [(when + timedelta(days=offset)).date() for offset in (-1, 0, 1)]
        spellings = sorted({s for day in days for s in _day_spellings(day)}, key=len, reverse=True)
        pattern = re.compile(r"(?<!\d)(?:" + "|".join(re.escape(s) for s in spellings) + r")(?!\d)", re.I)
        text = pattern.sub("#", text)
    for volatile in _VOLATILE:
        text = volatile.sub("#", text)
    return text


PIECES = [
    "31/12/2025", "1 de enero de 2026", "January 1, 2026", "2026-01-02", "31-Dec-2025", "01/01/26",
    "4:17 p.m.", "12:30:05", "10:00 a. m.", "2026", "1234567890123", "deadbeefdeadbeef00",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRva2VuMTIz", "0f8fad5b-d9cb-469f-a165-70867728950e",
    "plan", "de", "acción", "meta", "-", "/", ":", "#", "15/03/2018", "p.m.", "  ", "\n", "\u00a0",
    "x1", "__VIEWSTATE=", "2018", "45.3%", "7", "1" * 40, "p.m.x", "ab12" * 9,
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=40),
       st.lists(st.sampled_from([" ", "", "\n", "-", "/"]), min_size=40, max_size=40),
       st.booleans())
def test_windowed_mask_equals_the_definition(pieces: list[str], glue: list[str], dated: bool) -> None:
    text = "".join(piece + sep for piece, sep in zip(pieces, glue, strict=False))
    when = WHEN if dated else None
    assert mask(text, when) == reference_mask(text, when)


def test_long_prose_far_from_numbers_is_untouched_and_numbers_far_apart_are_masked() -> None:
    prose = "gobierno abierto " * 500
    text = f"{prose}consultado el 1 de enero de 2026 a las 4:17 p.m. {prose}folio 12345678901 {prose}"
    masked = mask(text, WHEN)
    assert masked == reference_mask(text, WHEN)
    assert "consultado el # a las # " in masked and "folio # " in masked
    assert fingerprint._digit_windows(prose) == []


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789 aé\u00b2\u00bd\n\u0660\u20ac"), max_size=60))
def test_digit_runs_are_what_the_regular_expression_finds(text: str) -> None:
    # \u00b2 and \u00bd are Latin-1 but not decimal digits; \u0660 (Arabic-Indic zero) is one, outside Latin-1.
    assert list(fingerprint._digit_runs(text)) == [found.span() for found in re.finditer(r"\d+", text)]
