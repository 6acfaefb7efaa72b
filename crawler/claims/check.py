"""Checking pinned passages against a capture's text.

The text is the fingerprint's (``crawler.verdicts.fingerprint.meaning``): an HTML page's
(a rendered page's DOM's: what a person saw) main content, then the rest of its visible text (a passage that a redesign moved out of
the main content still holds), or a PDF's text. Where a capture answered but no text can
be had from it (a body cut short, a PDF without a text layer, an image) every pin is
``unknown``: a missing text is not a lost passage. Captures that did not answer the page
itself (gone, unreachable, moved elsewhere) are not checked at all (``CHECKED_STATES``).

``check_text`` takes any text, so a web archive's memento of a cited date is checked as a
capture is (``memento_text``): the same extraction, of the bytes archived here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crawler.claims.match import Match, Page
from crawler.exceptions import ArchiveError
from crawler.store.models import Capture, MementoLookup
from crawler.verdicts.fingerprint import Meaning, meaning

#: The states of a capture that answered with the cited page: only these are checked.
CHECKED_STATES = ("ok", "changed")
#: holds > partial > lost: a pin whose result falls in this order is news (``claim_lost``).
RANK = {"holds": 2, "partial": 1, "lost": 0}


@dataclass(frozen=True)
class Result:
    """One pin against one text; the fields of a ``pin_results`` row (``PinResult``)."""

    status: str
    score: float | None = None
    #: the passage found (holds, partial), as written on the page, and where
    matched: str | None = None
    start: int | None = None
    end: int | None = None
    #: for partial and lost: each difference as {"pinned", "found", "number"}
    differs: list[dict[str, Any]] = field(default_factory=list)
    #: for lost: the best passage left on the page, if it shares any word with the pin
    nearest: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "status": self.status, "score": self.score, "matched": self.matched, "start": self.start,
            "end": self.end, "differs": self.differs, "nearest": self.nearest,
        }


UNKNOWN = Result("unknown")


def result_of(match: Match) -> Result:
    differs = [{"pinned": d.pinned, "found": d.found, "number": d.number} for d in match.differences]
    score = round(match.score, 3)
    if match.found is not None:
        return Result(match.status, score, match.found.text, match.found.start, match.found.end, differs)
    return Result(match.status, score, differs=differs, nearest=match.nearest.text if match.nearest else None)


def check_text(quotes: Iterable[tuple[int, str]], text: str | None) -> dict[int, Result]:
    """Each pin ``(id, quote)`` against ``text`` (folded once for all of them); every pin is
    ``unknown`` when there is no text."""
    pins = list(quotes)
    if not text or not text.strip():
        return {pin_id: UNKNOWN for pin_id, _ in pins}
    page = Page(text)
    return {pin_id: result_of(page.find(quote)) for pin_id, quote in pins}


def text_of(page: Meaning) -> str | None:
    """The text pins are looked for in: the evidence text, then the rest of the page's
    visible text; None for a payload without text (or whose text was deferred)."""
    if page.kind not in ("html", "pdf") or not page.text.strip() and not page.boilerplate.strip():
        return None
    return page.text + ("\n\n" + page.boilerplate if page.boilerplate else "")


def payload_text(body: bytes, content_type: str | None, content_encoding: str | None, when: datetime | None) -> str | None:
    """``text_of`` a payload, extracted now (never deferred)."""
    return text_of(meaning(body, content_type, content_encoding, when))


def capture_text(archive_dir: Path, capture: Capture) -> str | None:
    """The text of an archived capture, read back from its WARC record (a rendered
    capture's from its rendered DOM, as it was judged); None when the capture is cut short
    or has no text (``ArchiveError`` when the record cannot be read)."""
    from crawler.warc.snapshots import judged_payload

    if capture.truncated or capture.warc_filename is None:
        return None
    return payload_text(*judged_payload(archive_dir, capture), capture.checked_at)


def memento_text(archive_dir: Path, memento: MementoLookup) -> str | None:
    """The text of a found memento, read back from the WARC record of its fetch, extracted
    as a capture's (``ArchiveError`` when the record cannot be read)."""
    from crawler.warc.snapshots import load_snapshot

    if memento.outcome != "found" or memento.warc_filename is None:
        return None
    snapshot = load_snapshot(archive_dir, memento, decode=False)
    when = memento.memento_datetime.replace(tzinfo=timezone.utc) if memento.memento_datetime else None
    return payload_text(snapshot.body, snapshot.content_type, snapshot.content_encoding, when)


def readable(archive_dir: Path, capture: Capture) -> str | None:
    """``capture_text``, or None (no result recorded) when its record is unreadable."""
    try:
        return capture_text(archive_dir, capture)
    except ArchiveError:
        return None


class PinChecker:
    """A crawl's checking of pins: per target its pins in force (``store.active_pins``) and
    each pin's latest result with its capture's payload digest (``store.last_checked``),
    so that bytes already checked are not extracted again."""

    def __init__(self, pins: dict[int, list[tuple[int, str]]], last: dict[int, tuple[str | None, Result]]) -> None:
        self.pins = pins
        self.last = last

    def wants_text(self, target_id: int) -> bool:
        return target_id in self.pins

    def check(
        self,
        target_id: int,
        *,
        state: str,
        truncated: str | None,
        payload_digest: str | None,
        page: Meaning | None,
        body: bytes,
        content_type: str | None,
        content_encoding: str | None,
        when: datetime | None,
    ) -> list[tuple[int, Result]]:
        """The results of the target's pins on a capture judged ``state``: none for a capture
        that did not answer with the page, ``unknown`` for one cut short."""
        pins = self.pins.get(target_id)
        if not pins or state not in CHECKED_STATES:
            return []
        if truncated:
            return [(pin_id, UNKNOWN) for pin_id, _ in pins]
        known = [self.last.get(pin_id) for pin_id, _ in pins]
        if payload_digest is not None and all(item is not None and item[0] == payload_digest for item in known):
            return [(pin_id, item[1]) for (pin_id, _), item in zip(pins, known, strict=True) if item is not None]
        text = text_of(page) if page is not None and page.text else payload_text(body, content_type, content_encoding, when)
        results = check_text(pins, text)
        for pin_id, result in results.items():
            self.last[pin_id] = (payload_digest, result)
        return list(results.items())
