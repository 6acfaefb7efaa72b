"""Queries behind ``status``, ``history`` and ``show``; they return plain rows."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import NotFound
from crawler.reports.drift import OVERALL, DriftJudge, summarize
from crawler.store.mementos import lookup_rows
from crawler.store.models import Ack, Capture, Citation, Document, MementoLookup, Record, Target
from crawler.warc.rendered import SCREENSHOT_PREFIX

# ``render``: how the capture was rendered in the browser (``rendered``, ``capped``: as it
# stood at the time cap, ``failed``: judged on its HTML), empty when it was not.
STATUS_COLUMNS = [
    "document", "footnote", "url", "state", "reason", "http_status", "checked_at", "differs_from_first", "snapshot",
    "cited_at", "since_citation", "memento_url", "memento_datetime", "claims", "render",
]
HISTORY_COLUMNS = [
    "source", "run", "checked_at", "state", "reason", "change", "signals", "http_status", "final_url", "payload_digest", "snapshot",
    "acked", "claims", "render",
]


def document_label(name: str) -> str:
    if name.startswith("embedded:"):
        return name.removeprefix("embedded:")
    return PurePath(name).name


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def ack_text(ack: Ack) -> str:
    """``2026-11-27T05:00:00Z "note"``: when a person acknowledged a capture, and why."""
    return f'{_time(ack.acked_at)} "{ack.note}"' if ack.note else str(_time(ack.acked_at))


def status_rows(
    sessions: sessionmaker[Session], document: str | None = None, archive_dir: Path = Path("archive")
) -> list[dict[str, Any]]:
    """One row per citation, with the latest capture of its URL.

    ``cited_at`` is the earliest day the URL was cited among the citations shown (those of
    ``document``, when given): the copy that matters is the one from when it was first
    relied on, and a URL cited twice has two rows that should not disagree. Likewise
    ``since_citation`` and the memento: the earliest of those days with a memento
    (``crawler.reports.drift``; fingerprints are remade from ``archive_dir`` when needed).

    ``claims`` is what the citation's pinned passages say (``crawler.claims.store.claims_word``):
    ``unpinned``, or the worst latest result of its pins: ``lost``, ``partial``, ``holds``
    (``unchecked`` while a pin has none)."""
    from crawler.claims.store import citation_claims, claims_word, pins_for

    latest = (
        select(Capture.target_id, func.max(Capture.id).label("capture_id")).group_by(Capture.target_id).subquery()
    )
    query = (
        select(Document.name, Citation.footnote, Citation.cited_at, Target.id, Target.url, Capture, Document.id)
        .join(Citation, Citation.document_id == Document.id)
        .join(Target, Citation.target_id == Target.id)
        .outerjoin(latest, latest.c.target_id == Target.id)
        .outerjoin(Capture, Capture.id == latest.c.capture_id)
        .order_by(Document.id, Citation.position)
    )
    rows = []
    targets: list[int] = []
    earliest: dict[int, date] = {}
    cited: dict[int, set[date]] = {}
    latest_capture: dict[int, Capture | None] = {}
    with sessions() as session:
        pins, latest_results = citation_claims(session)
        for name, footnote, cited_at, target_id, url, capture, document_id in session.execute(query):
            label = document_label(name)
            if document is not None and document not in (label, name):
                continue
            if cited_at is not None and (target_id not in earliest or cited_at < earliest[target_id]):
                earliest[target_id] = cited_at
            if cited_at is not None:
                cited.setdefault(target_id, set()).add(cited_at)
            latest_capture[target_id] = capture
            targets.append(target_id)
            rows.append(
                {
                    "document": label,
                    "footnote": footnote,
                    "url": url,
                    "state": capture.state if capture else "unchecked",
                    "reason": capture.reason if capture else "",
                    "http_status": capture.http_status if capture else None,
                    "checked_at": _time(capture.checked_at) if capture else None,
                    "differs_from_first": capture.differs_from_first if capture else None,
                    "snapshot": capture.snapshot if capture else None,
                    "claims": claims_word(pins_for(pins, target_id, document_id, footnote), latest_results),
                    "render": capture.render if capture else None,
                }
            )
        judge = DriftJudge(session, archive_dir, cited)
        drifts = {
            target_id: judge.judge(target_id, cited.get(target_id, ()), capture)
            for target_id, capture in latest_capture.items()
        }
        judge.keep()
    if document is not None and not rows:
        raise NotFound(f"no document named {document!r} in the database; `evidence status` lists them")
    for row, target_id in zip(rows, targets, strict=True):
        day = earliest.get(target_id)
        row["cited_at"] = day.isoformat() if day else None
        row.update(vars(drifts[target_id]))
    return rows


def summary_rows(sessions: sessionmaker[Session], document: str | None = None, archive_dir: Path = Path("archive")) -> list[dict[str, Any]]:
    """The reference-rot summary (``crawler.reports.drift``): one row per document, each
    citation judged as ``status --document`` judges it, then the overall row, their sum."""
    with sessions() as session:
        names = [name for (name,) in session.execute(select(Document.name).order_by(Document.id))]
    if document is not None:
        names = [name for name in names if document in (document_label(name), name)]
        if not names:
            raise NotFound(f"no document named {document!r} in the database; `evidence status` lists them")
    out = []
    every: list[dict[str, Any]] = []
    for name in names:
        rows = status_rows(sessions, name, archive_dir)
        every += rows
        out.append(summarize(rows, document_label(name)))
    out.append(summarize(every, OVERALL))
    return out


def _target_id(session: Session, url: str) -> int:
    target_id = session.scalar(select(Target.id).where(Target.url == url))
    if target_id is None:
        raise NotFound(f"{url} is not a cited URL in the database; `evidence status` lists them")
    return target_id


def history_rows(sessions: sessionmaker[Session], url: str) -> list[dict[str, Any]]:
    """Every capture of ``url``, newest first; ``claims`` lists each pin's result on it
    (``pin 3 holds``, ``pin 4 partial 0.50 ("100" -> "40")``)."""
    from crawler.claims.store import capture_claims

    with sessions() as session:
        target_id = _target_id(session, url)
        captures = list(session.scalars(
            select(Capture).where(Capture.target_id == target_id).order_by(Capture.checked_at.desc(), Capture.id.desc())
        ))
        claims = capture_claims(session, [capture.id for capture in captures])
        acked: dict[int, list[str]] = {}
        for ack in session.scalars(select(Ack).where(Ack.target_id == target_id).order_by(Ack.id)):
            acked.setdefault(ack.capture_id, []).append(ack_text(ack))
        live = [
            {
                "source": "live",
                "run": capture.run_id,
                "checked_at": _time(capture.checked_at),
                "state": capture.state,
                "reason": capture.reason,
                "change": capture.change,
                "signals": capture.signals,
                "http_status": capture.http_status,
                "final_url": capture.final_url,
                "payload_digest": capture.payload_digest,
                "snapshot": capture.snapshot,
                "acked": "; ".join(acked.get(capture.id, [])) or None,
                "claims": claims.get(capture.id, []),
                "render": capture.render,
            }
            for capture in captures
        ]
        archived = [memento_row(row) for row in lookup_rows(session, target_id)]
    # The copy of the cited date sits among the captures by the time the archive made it.
    return sorted(live + archived, key=lambda row: row["checked_at"] or "", reverse=True)


def memento_row(row: MementoLookup) -> dict[str, Any]:
    """A ``history`` row for the web archive's copy of a cited date (``source: archive``):
    when found, the time the archive captured it; else the time it was looked up."""
    found = row.outcome == "found"
    reason = f"cited {row.cited_at.isoformat()}"
    if not found:
        reason += ", " + ("no memento near it" if row.outcome == "none" else "archives unreachable")
    return {
        "source": "archive",
        "run": row.run_id,
        "checked_at": _time(row.memento_datetime if found else row.looked_up_at),
        "state": "memento" if found else f"memento {row.outcome}",
        "reason": reason,
        "change": None,
        "signals": row.signals,
        "http_status": row.http_status,
        "final_url": row.memento_url if found else (row.archive or "").replace("\n", ", "),
        "payload_digest": row.payload_digest,
        "snapshot": row.snapshot,
        "acked": None,
        "render": None,
    }


def snapshot_capture(sessions: sessionmaker[Session], url: str, at: datetime | None = None) -> Capture:
    """The latest capture of ``url`` that archived a whole response, at or before ``at``;
    the latest partial one (cut by the deadline, the length cap, the server) only where
    no whole one was ever archived: a cut body is not what the page said."""
    with sessions() as session:
        target_id = _target_id(session, url)
        query = select(Capture).where(Capture.target_id == target_id, Capture.warc_filename.is_not(None))
        if at is not None:
            query = query.where(Capture.checked_at <= at)
        newest = (Capture.checked_at.desc(), Capture.id.desc())
        capture = session.scalar(query.where(Capture.truncated.is_(None)).order_by(*newest).limit(1))
        if capture is None:
            capture = session.scalar(query.order_by(*newest).limit(1))
        if capture is None:
            when = f" at or before {at:%Y-%m-%dT%H:%M:%SZ}" if at else ""
            raise NotFound(f"no archived snapshot of {url}{when}; `evidence history {url}` lists its captures")
        return capture


def screenshot_of(sessions: sessionmaker[Session], url: str, at: datetime | None = None) -> tuple[Capture, Record]:
    """The latest capture of ``url`` at or before ``at`` that was rendered with a screenshot,
    and its ``urn:screenshot:`` resource record (``evidence show --screenshot``)."""
    with sessions() as session:
        target_id = _target_id(session, url)
        query = (
            select(Capture, Record)
            .join(Record, Record.capture_id == Capture.id)
            .where(Capture.target_id == target_id, Record.record_type == "resource",
                   Record.target_uri.startswith(SCREENSHOT_PREFIX, autoescape=True))
        )
        if at is not None:
            query = query.where(Capture.checked_at <= at)
        # A capture's own render comes first among its records; a second render (to learn
        # its noise, crawler/verdicts/capture.py) after it.
        found = session.execute(
            query.order_by(Capture.checked_at.desc(), Capture.id.desc(), Record.position).limit(1)
        ).first()
        if found is None:
            when = f" at or before {at:%Y-%m-%dT%H:%M:%SZ}" if at else ""
            raise NotFound(
                f"no screenshot of {url}{when}: no capture of it was rendered in the browser "
                f"(`evidence crawl --browser always`); `evidence history {url}` lists its captures"
            )
        capture, record = found
        return capture, record
