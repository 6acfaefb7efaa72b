"""The citation-time copy in the database: which lookups a crawl owes, and what is known.

A lookup (``crawler/memento/``, run by the spider) is owed once per cited URL and cited
date: for every target with a ``cited_at`` on one of its citations and no lookup of that
date that answered (``found`` or ``none``). A lookup that ended ``unreachable`` is owed
again by the next run; ``evidence lookup --refresh`` owes them all again.

Rows of ``mementos`` are only added. What is known of a (target, cited date) is its
latest ``found`` or ``none`` row; an ``unreachable`` one counts only while no lookup of
that date ever answered, so an archive that is down on a refresh does not wipe a memento
found before. ``cited_mementos`` gives that row per target: the hook for what compares
the live page with the copy of the cited date (status, report, diff).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import MementoError, NotFound, SettingError
from crawler.memento import Archive
from crawler.store.models import Capture, Citation, MementoLookup, Target

#: Outcomes that answer a lookup for good (until ``--refresh``).
ANSWERED = ("found", "none")


@dataclass(frozen=True)
class LookupTask:
    """One lookup owed: ``url`` (target ``target_id``) as cited on ``cited_at``."""

    url: str
    target_id: int
    cited_at: date


def archives_from(value: Any) -> list[Archive]:
    """The archives of an ``EVIDENCE_ARCHIVES`` value: a list, or a comma-separated string
    as ``-s`` and ``--archives`` give it; empty items are dropped, so ``""`` turns lookups off."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    try:
        return [Archive(str(item).strip()) for item in items if str(item).strip()]
    except MementoError as exc:
        raise SettingError(f"EVIDENCE_ARCHIVES: {exc}") from exc


def due_lookups(
    sessions: sessionmaker[Session], urls: Iterable[str] | None = None, *, refresh: bool = False
) -> list[LookupTask]:
    """The lookups owed for ``urls`` (None: every cited URL), in the order of ``urls``."""
    with sessions() as session:
        rows = session.execute(
            select(Target.url, Target.id, Citation.cited_at)
            .join(Citation, Citation.target_id == Target.id)
            .where(Citation.cited_at.is_not(None))
            .distinct()
        ).all()
        answered: set[tuple[int, date]] = set()
        if not refresh:
            answered = {
                (target_id, cited_at)
                for target_id, cited_at in session.execute(
                    select(MementoLookup.target_id, MementoLookup.cited_at).where(MementoLookup.outcome.in_(ANSWERED))
                )
            }
    by_url: dict[str, list[LookupTask]] = {}
    for url, target_id, cited_at in rows:
        if cited_at is not None and (target_id, cited_at) not in answered:
            by_url.setdefault(url, []).append(LookupTask(url, target_id, cited_at))
    order = list(dict.fromkeys(urls)) if urls is not None else sorted(by_url)
    return [task for url in order for task in sorted(by_url.get(url, []), key=lambda t: t.cited_at)]


def _best(rows: Sequence[MementoLookup]) -> MementoLookup | None:
    """What is known from ``rows`` of one (target, cited date), oldest first."""
    answered = [row for row in rows if row.outcome in ANSWERED] or list(rows)
    return answered[-1] if answered else None


def known_mementos(session: Session, target_ids: Iterable[int] | None = None) -> dict[tuple[int, date], MementoLookup]:
    """Per (target, cited date) looked up, what is known (module docstring)."""
    query = select(MementoLookup).order_by(MementoLookup.id)
    if target_ids is not None:
        query = query.where(MementoLookup.target_id.in_(list(target_ids)))
    grouped: dict[tuple[int, date], list[MementoLookup]] = {}
    for row in session.scalars(query):
        grouped.setdefault((row.target_id, row.cited_at), []).append(row)
    known = {key: _best(rows) for key, rows in grouped.items()}
    return {key: row for key, row in known.items() if row is not None}


def cited_mementos(session: Session, target_ids: Iterable[int] | None = None) -> dict[int, MementoLookup]:
    """Per target, the lookup of its earliest cited date (what the page said when it was
    first cited): a ``found`` row holds the memento; ``none``/``unreachable`` say why not.
    Targets never looked up are absent."""
    out: dict[int, MementoLookup] = {}
    for (target_id, _cited_at), row in sorted(known_mementos(session, target_ids).items(), key=lambda item: item[0][1]):
        out.setdefault(target_id, row)
    return out


def cited_memento(sessions: sessionmaker[Session], url: str) -> MementoLookup:
    """The memento of ``url``'s earliest cited date that has one, for ``show --cited``."""
    with sessions() as session:
        target_id = session.scalar(select(Target.id).where(Target.url == url))
        if target_id is None:
            raise NotFound(f"{url} is not cited by any document in the database; `evidence status` lists the cited URLs")
        known = known_mementos(session, [target_id])
        found = [row for _, row in sorted(known.items(), key=lambda item: item[0][1]) if row.outcome == "found"]
        if found:
            return found[0]
        if not known:
            dated = session.scalar(select(Citation.id).where(Citation.target_id == target_id, Citation.cited_at.is_not(None)))
            if dated is None:
                raise NotFound(
                    f"{url} has no cited date, so no memento was looked up; import its document again with "
                    "`evidence import --cited-at YYYY-MM-DD DOCUMENT`, then run `evidence lookup URL`"
                )
            raise NotFound(f"{url} was never looked up in a web archive; run `evidence lookup {url}`")
        outcomes = {row.outcome for row in known.values()}
        if "unreachable" in outcomes:
            raise NotFound(f"no memento of {url}: the web archives could not be reached; run `evidence lookup {url}` again")
        raise NotFound(
            f"no memento of {url}: the web archives hold no usable copy near its cited date; "
            "`evidence history URL` lists the lookups, `evidence lookup --refresh URL` asks again"
        )


def lookup_rows(session: Session, target_id: int) -> list[MementoLookup]:
    """Per cited date of a target, what is known, oldest cited date first (``history``)."""
    known = known_mementos(session, [target_id])
    return [row for _, row in sorted(known.items(), key=lambda item: item[0][1])]


def found_mementos(session: Session, target_ids: Iterable[int]) -> dict[int, MementoLookup]:
    """Per target, the found memento of its earliest cited date that has one (``show --cited``'s)."""
    out: dict[int, MementoLookup] = {}
    for (target_id, _cited_at), row in sorted(known_mementos(session, target_ids).items(), key=lambda item: item[0][1]):
        if row.outcome == "found":
            out.setdefault(target_id, row)
    return out


def memento_news(session: Session, run_id: int, gone: Iterable[int]) -> dict[int, MementoLookup]:
    """Of the targets ``gone`` in run ``run_id``, those whose memento is news in this run:
    the first run in which the target was gone with a memento already found (in this run's
    lookups or any before). A memento found while the page was present becomes news when
    the page goes; one found after it went, in the next crawl; never twice."""
    ids = list(gone)
    found = found_mementos(session, ids)
    if not found:
        return {}
    first_found: dict[int, int] = {
        target_id: first
        for target_id, first in session.execute(
            select(MementoLookup.target_id, func.min(MementoLookup.run_id))
            .where(MementoLookup.target_id.in_(list(found)), MementoLookup.outcome == "found")
            .group_by(MementoLookup.target_id)
        )
    }
    reported = {
        target_id
        for target_id, earlier_run in session.execute(
            select(Capture.target_id, Capture.run_id).where(
                Capture.target_id.in_(list(found)), Capture.state == "gone", Capture.run_id < run_id
            )
        )
        if earlier_run >= first_found[target_id]
    }
    return {target_id: row for target_id, row in found.items() if target_id not in reported}
