"""What ``evidence report`` shows, gathered once for every output format.

One entry per citation (document, footnote, URL, when it was cited), with the URL's current state and
since when, its first and last capture, the last capture in which the page was
present (the archived copy worth opening), the text diff when the evidence no longer
says what it said when first captured, the acknowledgement in force, and its pinned
passages: where each was last found and, when lost, the nearest passage now on the page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.claims.store import PinReport, claim_marks, pins_for, report_pins
from crawler.exceptions import EvidenceError, NotFound
from crawler.reports.diff import text_diff
from crawler.reports.drift import OVERALL, DriftJudge, summarize
from crawler.reports.queries import document_label
from crawler.reports.screenshots import Shot, shots_of
from crawler.store.acks import acks_of, captures_of, covering_ack, unreviewed
from crawler.store.models import Ack, Capture, Citation, Document, Run

STATES = ("ok", "changed", "moved", "gone", "unreachable")
#: Lines of a diff shown in a report; ``evidence diff`` prints all of them.
MAX_DIFF_LINES = 120


@dataclass
class Entry:
    footnote: str
    url: str
    state: str
    reason: str
    since: datetime | None = None
    first: datetime | None = None
    last: datetime | None = None
    #: the last capture in which the page was present (ok or changed): the copy to open
    copy: Capture | None = None
    diff: str = ""
    diff_label: str = ""
    ack: Ack | None = None
    unreviewed: bool = False
    problem: str = ""
    #: when this citation was made, and what says so ("note", "document", "given")
    cited_at: date | None = None
    cited_at_source: str | None = None
    #: against the web archive's copy of the cited date (``crawler.reports.drift``)
    since_citation: str = "unknown"
    memento_url: str | None = None
    memento_datetime: str | None = None
    #: the passages pinned for this citation (``evidence pin``), each with where it was
    #: last found and what the page says now
    pins: list[PinReport] = field(default_factory=list)
    #: the screenshot of the latest rendered capture (``crawler/browser/``)
    shot: Shot | None = None
    #: where the evidence changed and either capture was rendered: the two captures the
    #: diff compares, older first, as (what it is, when, its screenshot or None)
    shot_pair: list[tuple[str, datetime, Shot | None]] = field(default_factory=list)

    @property
    def cited_label(self) -> str:
        """``2017-03-12 (note)``: the day of the citation and what says so."""
        return f"{self.cited_at:%Y-%m-%d} ({self.cited_at_source})" if self.cited_at else ""


@dataclass
class Section:
    label: str
    title: str
    entries: list[Entry] = field(default_factory=list)


@dataclass
class RunColumn:
    run_id: int
    started_at: datetime
    status: str
    counts: Counter[str]


@dataclass
class ReportData:
    generated_at: datetime
    database: str
    sections: list[Section]
    runs: list[RunColumn]
    #: the reference-rot figures: one row per document, then the overall row
    #: (``crawler.reports.drift.summarize``)
    drift: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(entry.state for section in self.sections for entry in section.entries)

    @property
    def problems(self) -> list[str]:
        return [entry.problem for section in self.sections for entry in section.entries if entry.problem]


def collect(
    sessions: sessionmaker[Session], archive_dir: Path, database: str, now: datetime, document: str | None = None
) -> ReportData:
    with sessions() as session:
        sections: list[Section] = []
        targets: dict[int, Entry] = {}
        pinned = report_pins(session)
        for doc in session.scalars(select(Document).order_by(Document.id)):
            label = document_label(doc.name)
            if document is not None and document not in (label, doc.name):
                continue
            section = Section(label, doc.title)
            for citation in doc.citations:
                if citation.target_id not in targets:
                    targets[citation.target_id] = _entry(session, archive_dir, citation)
                shared = targets[citation.target_id]
                entry = _copy(shared, citation)
                entry.pins = [
                    shown for pin, shown in pinned.get(citation.target_id, [])
                    if pin in pins_for([pin], citation.target_id, citation.document_id, citation.footnote)
                ]
                section.entries.append(entry)
            _drift(session, archive_dir, doc.citations, section.entries)
            sections.append(section)
        if document is not None and not sections:
            raise NotFound(f"no document named {document!r} in the database; `evidence status` lists them")
        figures = [summarize([vars(e) for e in section.entries], section.label) for section in sections]
        figures.append(summarize([vars(e) for section in sections for e in section.entries], OVERALL))
        return ReportData(now, database, sections, _runs(session, list(targets)), figures)


def _drift(session: Session, archive_dir: Path, citations: list[Citation], entries: list[Entry]) -> None:
    """Each entry's drift since citation, judged as ``status --document`` judges it: against
    the memento of the earliest day this document cites the URL that has one."""
    cited: dict[int, set[date]] = {}
    for citation in citations:
        if citation.cited_at is not None:
            cited.setdefault(citation.target_id, set()).add(citation.cited_at)
    judge = DriftJudge(session, archive_dir, [citation.target_id for citation in citations])
    latest: dict[int, int] = {
        target_id: capture_id
        for target_id, capture_id in session.execute(
            select(Capture.target_id, func.max(Capture.id))
            .where(Capture.target_id.in_([citation.target_id for citation in citations]))
            .group_by(Capture.target_id)
        )
    }
    for citation, entry in zip(citations, entries, strict=True):
        capture_id = latest.get(citation.target_id)
        capture = session.get(Capture, capture_id) if capture_id is not None else None
        found = judge.judge(citation.target_id, cited.get(citation.target_id, ()), capture)
        entry.since_citation, entry.memento_url, entry.memento_datetime = (
            found.since_citation, found.memento_url, found.memento_datetime,
        )
    judge.keep()


def _copy(entry: Entry, citation: Citation) -> Entry:
    """The URL's entry, for one of the citations of it."""
    mine = {"footnote": citation.footnote, "cited_at": citation.cited_at, "cited_at_source": citation.cited_at_source}
    return Entry(**{**vars(entry), **mine})


def _entry(session: Session, archive_dir: Path, citation: Citation) -> Entry:
    url = citation.target.url
    captures = captures_of(session, citation.target_id)
    if not captures:
        return Entry(citation.footnote, url, "unchecked", "")
    latest = captures[-1]
    acks = acks_of(session, citation.target_id)
    entry = Entry(citation.footnote, url, latest.state, latest.reason, first=captures[0].checked_at, last=latest.checked_at)
    # Since the first capture of the latest run of captures in the same state.
    index = len(captures) - 1
    while index > 0 and captures[index - 1].state == latest.state:
        index -= 1
    entry.since = captures[index].checked_at
    present = [c for c in captures if c.state in ("ok", "changed") and c.warc_filename is not None]
    entry.copy = present[-1] if present else None
    if acks and (acks[-1].capture_id == latest.id or covering_ack(acks, captures, latest) is acks[-1]):
        entry.ack = acks[-1]
    entry.unreviewed = unreviewed(captures, acks, claim_marks(session, citation.target_id))
    shots = shots_of(session, captures)
    entry.shot = next((shots[c.id] for c in reversed(captures) if c.id in shots), None)
    if present:
        older = present[0] if present[-1].differs_from_first else present[-2] if latest.state == "changed" and len(present) > 1 else None
        if older is not None and older is not present[-1]:
            if older.id in shots or present[-1].id in shots:
                entry.shot_pair = [
                    ("first capture" if older is present[0] else "capture before", older.checked_at, shots.get(older.id)),
                    ("latest capture", present[-1].checked_at, shots.get(present[-1].id)),
                ]
            entry.diff_label = (
                "text of the first capture" if older is present[0] else "text of the capture before"
            ) + f" ({older.checked_at:%Y-%m-%d}) and of the latest ({present[-1].checked_at:%Y-%m-%d})"
            try:
                entry.diff = _trim(text_diff(archive_dir, older, present[-1], url), url)
            except EvidenceError as exc:
                entry.problem = f"{url}: {exc}"
    return entry


def _trim(diff: str, url: str) -> str:
    lines = diff.splitlines()
    if len(lines) <= MAX_DIFF_LINES:
        return diff
    rest = len(lines) - MAX_DIFF_LINES
    return "\n".join(lines[:MAX_DIFF_LINES]) + f"\n... {rest} more lines: evidence diff {url}\n"


def _runs(session: Session, target_ids: list[int]) -> list[RunColumn]:
    """Per run, how many of these URLs were in each state."""
    rows = session.execute(
        select(Capture.run_id, Capture.state, func.count())
        .where(Capture.target_id.in_(target_ids))
        .group_by(Capture.run_id, Capture.state)
    )
    counts: dict[int, Counter[str]] = {}
    for run_id, state, n in rows:
        counts.setdefault(run_id, Counter())[state] = n
    runs = session.scalars(select(Run).where(Run.id.in_(list(counts))).order_by(Run.id))
    return [RunColumn(run.id, run.started_at, run.status, counts[run.id]) for run in runs]
