"""Which memento stands for a citation date.

A citation says "as of this day", not "at this second", and a person citing a page read
what had been published by then: so the memento preferred is the latest one archived at
or before the end of the cited day (UTC), and failing that the earliest one after it.
Mementos more than ``window`` days away on either side are not near enough to say what
the page said when it was cited.

Archives differ on this: a TimeGate (pywb's, the Wayback Machine's) answers with the
memento nearest in absolute time, which may be one from after the citation when an
earlier one exists. That is why lookups read the TimeMap and choose here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from crawler.memento.linkformat import Memento
from crawler.memento.urls import format_timestamp

#: Days from the cited date beyond which a memento does not stand for it.
DEFAULT_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Candidate:
    """A memento in order of preference, with its distance from the cited date.

    ``offset_days`` is the memento's UTC date minus the cited date: negative or 0 for one
    archived at or before the cited day, positive (how many days after) for a later one.
    """

    memento: Memento
    offset_days: int
    #: The archived status when a CDX index told it, else None (known only once fetched).
    status: int | None = None

    @property
    def after(self) -> bool:
        return self.offset_days > 0


def cited_day(cited_at: date) -> date:
    """The cited date, in UTC when a time of day comes with it."""
    if isinstance(cited_at, datetime):
        return (cited_at.replace(tzinfo=UTC) if cited_at.tzinfo is None else cited_at.astimezone(UTC)).date()
    return cited_at


def end_of_day(cited_at: date) -> datetime:
    """The last instant of the cited day, UTC: the time a TimeGate is asked about."""
    return datetime.combine(cited_day(cited_at), time(23, 59, 59), tzinfo=UTC)


def candidates(
    mementos: Iterable[Memento],
    cited_at: date,
    *,
    window: int = DEFAULT_WINDOW_DAYS,
    statuses: Mapping[str, int | None] | None = None,
) -> list[Candidate]:
    """The mementos within ``window`` days, best first: those at or before the cited day
    latest first, then those after it earliest first. Those whose archived status is known
    (``statuses``, by 14-digit timestamp) and is an error are left out; a redirect stays,
    since it is followed to the page it led to."""
    day = cited_day(cited_at)
    limit = end_of_day(day)
    before: list[Candidate] = []
    after: list[Candidate] = []
    for memento in mementos:
        offset = (memento.datetime.astimezone(UTC).date() - day).days
        if abs(offset) > window:
            continue
        status = (statuses or {}).get(format_timestamp(memento.datetime))
        if status is not None and not (200 <= status < 400):
            continue
        candidate = Candidate(memento, offset, status)
        (before if memento.datetime <= limit else after).append(candidate)
    before.sort(key=lambda c: c.memento.datetime, reverse=True)
    after.sort(key=lambda c: c.memento.datetime)
    return before + after


def choose(mementos: Iterable[Memento], cited_at: date, *, window: int = DEFAULT_WINDOW_DAYS) -> Candidate | None:
    """The memento that stands for ``cited_at``, or None when none is near enough."""
    ranked = candidates(mementos, cited_at, window=window)
    return ranked[0] if ranked else None

