"""Pins in the database: making, listing and removing them, recording each capture's
results, and reading them back for news, ``status``, ``history`` and the report.

A pin is also checked on the web archive's memento of each cited date of its URL (when it
is made, and by the crawl when a lookup finds one later): whether the passage was on the
page when it was cited. A pin lost there may have been cited wrongly from the start. These
results are never news: news is about the live page changing.

A pin names a target (the URL) and, as far as given, a document and a footnote: it applies
to every citation of the URL that matches (``applies``). Citations are re-derived on each
import, pins are not, so a pin outlives re-imports of its document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.claims.check import CHECKED_STATES, RANK, Result, capture_text, check_text, memento_text
from crawler.claims.words import words
from crawler.exceptions import ArchiveError, ClaimError, NotFound
from crawler.reports.queries import document_label
from crawler.store.mementos import known_mementos
from crawler.store.models import Capture, Citation, Document, MementoLookup, Pin, PinResult, Target, utcnow

PIN_COLUMNS = [
    "pin", "document", "footnote", "url", "quote", "claim", "score", "found", "differs", "nearest", "checked_at",
    "cited_claim", "cited_memento", "note", "created_at", "removed_at", "removed_note",
]
_RESULTS = PinResult.metadata.tables[PinResult.__tablename__]


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass(frozen=True)
class CitedCheck:
    """A pin on the memento of the earliest cited date of its citations that has one."""

    memento_id: int
    cited_at: date
    memento_url: str | None
    memento_datetime: datetime | None
    #: the archive's base URL
    archive: str | None
    #: None: not checked on it (its WARC record could not be read)
    result: Result | None

    @property
    def claim(self) -> str:
        return self.result.status if self.result is not None else "unchecked"


@dataclass(frozen=True)
class Checked:
    """A pin as made (or found already made), with its result on the latest whole capture."""

    pin_id: int
    url: str
    quote: str
    new: bool
    result: Result | None
    #: the capture it was checked on: when it was taken
    checked_at: datetime | None
    #: why it could not be checked now (no capture yet, an unreadable WARC record)
    problem: str | None = None
    #: on the memento of its cited date (None: no memento found, or none looked up yet)
    cited: CitedCheck | None = None


def _target(session: Session, url: str) -> Target:
    target = session.scalar(select(Target).where(Target.url == url))
    if target is None:
        raise NotFound(f"{url} is not a cited URL in the database; `evidence status` lists them")
    return target


def _document(session: Session, name: str) -> Document:
    for document in session.scalars(select(Document).order_by(Document.id)):
        if name in (document.name, document_label(document.name)):
            return document
    raise NotFound(f"no document named {name!r} in the database; `evidence status` lists them")


def add_pins(
    sessions: sessionmaker[Session],
    archive_dir: Path,
    url: str,
    quotes: Sequence[str],
    *,
    document: str | None = None,
    footnote: str | None = None,
    note: str = "",
    origin: str = "given",
) -> list[Checked]:
    """Pin each of ``quotes`` to ``url`` (for ``document`` and ``footnote``, if given: they
    must cite it), then check them against the URL's latest whole capture. A passage already
    pinned there is not pinned twice."""
    for quote in quotes:
        if not words(quote).words:
            raise ClaimError(f"the passage {quote[:60]!r} has no word or number to look for")
    with sessions() as session, session.begin():
        target = _target(session, url)
        document_id = _document(session, document).id if document is not None else None
        citing = select(Citation.id).where(Citation.target_id == target.id)
        if document_id is not None:
            citing = citing.where(Citation.document_id == document_id)
        if footnote is not None:
            citing = citing.where(Citation.footnote == footnote)
        cited = session.execute(citing.add_columns(Citation.document_id, Citation.footnote).limit(2)).all()
        if not cited:
            where = " ".join(part for part in (f"in {document}" if document else "", f"at footnote {footnote}" if footnote else "") if part)
            raise NotFound(f"{url} is not cited {where}; `evidence status` lists its citations")
        if len(cited) == 1:
            # Cited once: the pin is that citation's, and says so when its URL is cited again.
            _, document_id, footnote = cited[0]
        made: list[tuple[Pin, bool]] = []
        for quote in dict.fromkeys(" ".join(quote.split()) for quote in quotes):
            existing = session.scalar(
                select(Pin).where(
                    Pin.target_id == target.id, Pin.removed_at.is_(None), Pin.quote == quote,
                    Pin.document_id.is_(None) if document_id is None else Pin.document_id == document_id,
                    Pin.footnote.is_(None) if footnote is None else Pin.footnote == footnote,
                )
            )
            if existing is not None:
                made.append((existing, False))
                continue
            pin = Pin(target_id=target.id, document_id=document_id, footnote=footnote, quote=quote, note=note,
                      origin=origin, created_at=utcnow())
            session.add(pin)
            made.append((pin, True))
        session.flush()
        return _check_now(session, archive_dir, target, made)


def _check_now(session: Session, archive_dir: Path, target: Target, made: list[tuple[Pin, bool]]) -> list[Checked]:
    """Check pins against their target's latest whole capture and the mementos of its cited
    dates, recording new results."""
    check_on_mementos(session, archive_dir, [pin for pin, _ in made])
    cited = cited_checks(session, [pin for pin, _ in made])
    capture = latest_whole(session, target.id)
    if capture is None:
        return [Checked(pin.id, target.url, pin.quote, new, None, None, "no capture of the page yet", cited.get(pin.id))
                for pin, new in made]
    try:
        text = capture_text(archive_dir, capture)
    except ArchiveError as exc:
        return [Checked(pin.id, target.url, pin.quote, new, None, None, f"its last capture cannot be read: {exc}", cited.get(pin.id))
                for pin, new in made]
    done = dict(session.execute(
        select(PinResult.pin_id, PinResult.id).where(PinResult.capture_id == capture.id, PinResult.pin_id.in_([p.id for p, _ in made]))
    ).all())
    results = check_text(((pin.id, pin.quote) for pin, _ in made), text)
    record_results(session, [(pin.id, capture.id, results[pin.id]) for pin, _ in made if pin.id not in done])
    return [Checked(pin.id, target.url, pin.quote, new, results[pin.id], capture.checked_at, cited=cited.get(pin.id))
            for pin, new in made]


def check_on_mementos(session: Session, archive_dir: Path, pins: Sequence[Pin]) -> None:
    """Check ``pins`` on every found memento of their targets' cited dates that holds no
    result of theirs yet, each memento's text read back from the WARC once. A memento whose
    record cannot be read gets no result (a missing text is not a lost passage)."""
    if not pins:
        return
    found = [row for row in known_mementos(session, {pin.target_id for pin in pins}).values() if row.outcome == "found"]
    if not found:
        return
    done = {
        (pin_id, memento_id)
        for pin_id, memento_id in session.execute(
            select(PinResult.pin_id, PinResult.memento_id)
            .where(PinResult.memento_id.in_([row.id for row in found]), PinResult.pin_id.in_([pin.id for pin in pins]))
        )
    }
    for memento in found:
        owed = [(pin.id, pin.quote) for pin in pins if pin.target_id == memento.target_id and (pin.id, memento.id) not in done]
        if not owed:
            continue
        try:
            text = memento_text(archive_dir, memento)
        except ArchiveError:
            continue
        record_memento_results(session, memento.id, check_text(owed, text).items())


def record_memento_results(
    session: Session, memento_id: int, results: Iterable[tuple[int, Result]], checked_at: datetime | None = None
) -> None:
    """Record results on a memento: ``(pin id, result)``."""
    when = checked_at or utcnow()
    rows = [{"pin_id": pin_id, "memento_id": memento_id, "checked_at": when, **result.row()} for pin_id, result in results]
    if rows:
        session.connection().execute(insert(_RESULTS), rows)


def cited_checks(session: Session, pins: Sequence[Pin]) -> dict[int, CitedCheck]:
    """Per pin, its result on the memento of the earliest cited date, among the citations it
    applies to, that has a memento found (as ``status`` and ``show --cited`` pick one); pins
    without one are absent."""
    if not pins:
        return {}
    targets = {pin.target_id for pin in pins}
    citations = session.execute(
        select(Citation.target_id, Citation.document_id, Citation.footnote, Citation.cited_at)
        .where(Citation.target_id.in_(targets), Citation.cited_at.is_not(None))
    ).all()
    known = known_mementos(session, targets)
    chosen: dict[int, MementoLookup] = {}
    for pin in pins:
        days = sorted({
            cited_at for target_id, document_id, footnote, cited_at in citations
            if target_id == pin.target_id and cited_at is not None and _applies(pin, document_id, footnote)
        })
        for day in days:
            row = known.get((pin.target_id, day))
            if row is not None and row.outcome == "found":
                chosen[pin.id] = row
                break
    if not chosen:
        return {}
    results = {
        (row.pin_id, row.memento_id): _result(row)
        for row in session.scalars(
            select(PinResult).where(PinResult.memento_id.in_({m.id for m in chosen.values()}),
                                    PinResult.pin_id.in_(list(chosen)))
        )
    }
    return {
        pin_id: CitedCheck(m.id, m.cited_at, m.memento_url, m.memento_datetime, m.archive, results.get((pin_id, m.id)))
        for pin_id, m in chosen.items()
    }


def latest_whole(session: Session, target_id: int) -> Capture | None:
    """The latest capture of a target that archived the whole cited page."""
    return session.scalar(
        select(Capture)
        .where(Capture.target_id == target_id, Capture.state.in_(CHECKED_STATES), Capture.warc_filename.is_not(None),
               Capture.truncated.is_(None))
        .order_by(Capture.checked_at.desc(), Capture.id.desc())
        .limit(1)
    )


def record_results(session: Session, results: Iterable[tuple[int, int | None, Result]], checked_at: datetime | None = None) -> None:
    """Record results: ``(pin id, capture id, result)``; the capture id is None for a
    text that is no capture of ours (a memento)."""
    when = checked_at or utcnow()
    rows = [{"pin_id": pin_id, "capture_id": capture_id, "checked_at": when, **result.row()} for pin_id, capture_id, result in results]
    if rows:
        session.connection().execute(insert(_RESULTS), rows)


def remove_pin(sessions: sessionmaker[Session], pin_id: int, note: str = "") -> dict[str, Any]:
    """Unpin: the pin is no longer checked, and stays in the database with when and why."""
    with sessions() as session, session.begin():
        pin = session.get(Pin, pin_id)
        if pin is None:
            raise NotFound(f"no pin {pin_id}; `evidence pins` lists them")
        if pin.removed_at is not None:
            raise NotFound(f"pin {pin_id} was already removed on {_time(pin.removed_at)}; `evidence pins --removed` lists it")
        pin.removed_at = utcnow()
        pin.removed_note = note
        session.flush()
        return {"pin": pin.id, "url": pin.target.url, "quote": pin.quote, "removed_at": _time(pin.removed_at)}


def pin_rows(
    sessions: sessionmaker[Session], url: str | None = None, document: str | None = None, *, removed: bool = False
) -> list[dict[str, Any]]:
    """One row per pin (with ``removed``, removed ones too) and its latest known result."""
    with sessions() as session:
        query = select(Pin).order_by(Pin.target_id, Pin.id)
        if url is not None:
            query = query.where(Pin.target_id == _target(session, url).id)
        if document is not None:
            # The document's own pins, and those of every citation of a URL it cites.
            document_id = _document(session, document).id
            cited = select(Citation.target_id).where(Citation.document_id == document_id)
            query = query.where(or_(Pin.document_id == document_id, Pin.document_id.is_(None) & Pin.target_id.in_(cited)))
        if not removed:
            query = query.where(Pin.removed_at.is_(None))
        pins = list(session.scalars(query))
        latest = latest_results(session, [pin.id for pin in pins])
        on_mementos = cited_checks(session, pins)
        rows = []
        for pin in pins:
            result, when = latest.get(pin.id, (None, None))
            on_memento = on_mementos.get(pin.id)
            rows.append({
                "pin": pin.id,
                "document": document_label(pin.document.name) if pin.document else None,
                "footnote": pin.footnote,
                "url": pin.target.url,
                "quote": pin.quote,
                "claim": result.status if result else "unchecked",
                "score": result.score if result else None,
                # As one line: a PDF's passage keeps its line breaks in the database.
                "found": _one_line(result.matched) if result else None,
                "differs": differences_text(result.differs) if result and result.status == "partial" else None,
                "nearest": _one_line(result.nearest) if result else None,
                "checked_at": _time(when),
                # On the memento of the cited date: none when no memento was found (yet).
                "cited_claim": on_memento.claim if on_memento else "none",
                "cited_memento": on_memento.memento_url if on_memento else None,
                "note": pin.note,
                "created_at": _time(pin.created_at),
                "removed_at": _time(pin.removed_at),
                "removed_note": pin.removed_note,
            })
        return rows


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) if text is not None else None


def differences_text(differs: list[dict[str, Any]]) -> str | None:
    """``"100" -> "40"; "instalados" -> ""``: what differs, for a table cell."""
    return "; ".join(f'"{d["pinned"]}" -> "{d["found"]}"' for d in differs) or None


def _result(row: PinResult) -> Result:
    return Result(row.status, row.score, row.matched, row.start, row.end, list(row.differs or []), row.nearest)


def latest_results(session: Session, pin_ids: Sequence[int]) -> dict[int, tuple[Result, datetime]]:
    """Per pin, its result on the latest capture that told something (not ``unknown``),
    with when that capture was taken."""
    latest: dict[int, tuple[Result, datetime]] = {}
    if not pin_ids:
        return latest
    rows = session.execute(
        select(PinResult, Capture.checked_at)
        .join(Capture, Capture.id == PinResult.capture_id)
        .where(PinResult.pin_id.in_(pin_ids), PinResult.status != "unknown")
        .order_by(Capture.checked_at, Capture.id)
    )
    for row, when in rows:
        latest[row.pin_id] = (_result(row), when)
    return latest


def active_pins(session: Session) -> dict[int, list[tuple[int, str]]]:
    """Per target id, its pins in force as ``(id, quote)``: what a crawl checks."""
    pins: dict[int, list[tuple[int, str]]] = {}
    for pin_id, target_id, quote in session.execute(
        select(Pin.id, Pin.target_id, Pin.quote).where(Pin.removed_at.is_(None)).order_by(Pin.id)
    ):
        pins.setdefault(target_id, []).append((pin_id, quote))
    return pins


def last_checked(session: Session) -> dict[int, tuple[str | None, Result]]:
    """Per pin in force, its latest result on a capture of ours, with that capture's
    payload digest: a capture with the same bytes has the same results."""
    found: dict[int, tuple[str | None, Result]] = {}
    rows = session.execute(
        select(PinResult, Capture.payload_digest)
        .join(Capture, Capture.id == PinResult.capture_id)
        .join(Pin, Pin.id == PinResult.pin_id)
        .where(Pin.removed_at.is_(None))
        .order_by(Capture.id)
    )
    for row, digest in rows:
        found[row.pin_id] = (digest, _result(row))
    return found


@dataclass
class Claims:
    """What the pins of one capture say: ``hold`` (all in force hold), ``lost`` (some
    did not), with each pin that fell since its previous result."""

    pins: int = 0
    holding: int = 0
    #: pins that went from holds to partial or lost (or partial to lost) on this capture:
    #: (pin id, quote, previous status, result)
    fell: list[tuple[int, str, str, Result]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "hold" if self.pins and self.holding == self.pins else "lost" if self.fell else "mixed"


def run_claims(session: Session, run_id: int) -> dict[int, Claims]:
    """Per capture of run ``run_id`` with results of pins in force: its ``Claims``."""
    rows = session.execute(
        select(PinResult.pin_id, PinResult.capture_id, Pin.quote)
        .join(Capture, Capture.id == PinResult.capture_id)
        .join(Pin, Pin.id == PinResult.pin_id)
        .where(Capture.run_id == run_id, Pin.removed_at.is_(None))
    ).all()
    if not rows:
        return {}
    pin_ids = sorted({pin_id for pin_id, _, _ in rows})
    history: dict[int, list[tuple[int, PinResult]]] = {}
    for row, capture_id in session.execute(
        select(PinResult, PinResult.capture_id)
        .where(PinResult.pin_id.in_(pin_ids), PinResult.capture_id.is_not(None))
        .order_by(PinResult.capture_id)
    ):
        history.setdefault(row.pin_id, []).append((capture_id or 0, row))
    claims: dict[int, Claims] = {}
    for pin_id, capture_id, quote in rows:
        results = history.get(pin_id, [])
        now = next(row for cid, row in results if cid == capture_id)
        if now.status == "unknown":
            continue
        item = claims.setdefault(capture_id or 0, Claims())
        item.pins += 1
        item.holding += now.status == "holds"
        before = [row for cid, row in results if cid < (capture_id or 0) and row.status != "unknown"]
        if before and RANK[before[-1].status] > RANK[now.status]:
            item.fell.append((pin_id, quote, before[-1].status, _result(now)))
    return claims


def _applies(pin: Pin, document_id: int, footnote: str) -> bool:
    return (pin.document_id is None or pin.document_id == document_id) and (pin.footnote is None or pin.footnote == footnote)


def citation_claims(session: Session) -> tuple[list[Pin], dict[int, tuple[Result, datetime]]]:
    """Every pin in force and its latest known result: for ``status`` and the report."""
    pins = list(session.scalars(select(Pin).where(Pin.removed_at.is_(None)).order_by(Pin.id)))
    return pins, latest_results(session, [pin.id for pin in pins])


def pins_for(pins: list[Pin], target_id: int, document_id: int, footnote: str) -> list[Pin]:
    """The pins of ``pins`` that apply to a citation."""
    return [pin for pin in pins if pin.target_id == target_id and _applies(pin, document_id, footnote)]


def claims_word(pins: list[Pin], latest: dict[int, tuple[Result, datetime]]) -> str:
    """A citation's claims in a word: ``unpinned``; else the worst latest result of its
    pins (``lost``, ``partial``, ``holds``), ``unchecked`` while one has none."""
    if not pins:
        return "unpinned"
    statuses = [latest[pin.id][0].status if pin.id in latest else "unchecked" for pin in pins]
    if "unchecked" in statuses:
        return "unchecked"
    return min(statuses, key=lambda status: RANK[status])


def capture_claims(session: Session, capture_ids: Sequence[int]) -> dict[int, list[str]]:
    """Per capture, each pin's result as a short line: ``pin 3 holds``, ``pin 4 partial
    0.5 ("100" -> "40")``, ``pin 5 lost``; removed pins included (the history is the audit)."""
    shown: dict[int, list[str]] = {}
    if not capture_ids:
        return shown
    for row in session.scalars(
        select(PinResult).where(PinResult.capture_id.in_(capture_ids)).order_by(PinResult.capture_id, PinResult.pin_id)
    ):
        line = f"pin {row.pin_id} {row.status}"
        if row.status == "partial":
            line += f" {row.score:.2f}"
            differs = differences_text(list(row.differs or []))
            if differs:
                line += f" ({differs})"
        shown.setdefault(row.capture_id or 0, []).append(line)
    return shown


def fallen(claims: Claims) -> list[dict[str, Any]]:
    """The pins that fell on a capture, for the run's news (``News.fell``)."""
    return [
        {
            "pin": pin_id, "quote": quote, "was": was, "now": result.status, "score": result.score,
            "found": result.matched, "nearest": result.nearest, "differs": result.differs,
        }
        for pin_id, quote, was, result in claims.fell
    ]


def pin_quotes(
    sessions: sessionmaker[Session], archive_dir: Path, name: str, quotes: Sequence[tuple[str, ...]]
) -> list[Checked]:
    """Pin what a document quotes (``import --pin-quotes``): ``quotes[i]`` are the passages
    proposed for its citation at position ``i`` (``Citation.quotes``), each pinned to that
    citation's URL, document and footnote."""
    with sessions() as session:
        citations = session.execute(
            select(Citation.position, Citation.footnote, Target.url)
            .join(Target, Target.id == Citation.target_id)
            .join(Document, Document.id == Citation.document_id)
            .where(Document.name == name)
            .order_by(Citation.position)
        ).all()
    done: list[Checked] = []
    for position, footnote, url in citations:
        proposed = quotes[position] if position < len(quotes) else ()
        if proposed:
            done += add_pins(sessions, archive_dir, url, proposed, document=name, footnote=footnote,
                             note="quoted in the document", origin="document")
    return done


def cited_claim_text(cited: CitedCheck | None) -> str:
    """Whether a pinned passage was on the page when it was cited, for the report's cell:
    ``held in the copy of 2017-03-01``; lost there, a warning that the citation may have been
    wrong from the start."""
    if cited is None:
        return "no copy of the cited date"
    day = f"{cited.memento_datetime:%Y-%m-%d}" if cited.memento_datetime else "?"
    if cited.result is None:
        return f"copy of {day} not checked"
    status = cited.result.status
    if status == "holds":
        return f"held in the copy of {day}"
    if status == "partial":
        return f"partial ({cited.result.score or 0:.2f}) in the copy of {day}"
    if status == "lost":
        return f"NOT in the copy of {day}: the citation may have been wrong from the start"
    return f"copy of {day} has no readable text"


@dataclass(frozen=True)
class PinReport:
    """A pinned passage as the report shows it beside its footnote."""

    pin_id: int
    quote: str
    #: the latest result that told something (holds, partial, lost), or "unchecked"
    status: str
    score: float | None
    #: what the page says now: the passage found (holds, partial) or the nearest one (lost)
    now: str | None
    differs: str | None
    #: the latest capture in which the passage held, and where in its text
    last_found: datetime | None
    found_at: tuple[int, int] | None
    #: on the memento of its cited date: whether the passage was on the page when cited
    cited: CitedCheck | None = None


def report_pins(session: Session) -> dict[int, list[tuple[Pin, PinReport]]]:
    """Per target, its pins in force as the report shows them (``pins_for`` picks a
    citation's)."""
    pins, latest = citation_claims(session)
    cited = cited_checks(session, pins)
    held: dict[int, tuple[datetime, int | None, int | None]] = {}
    if pins:
        for pin_id, when, start, end in session.execute(
            select(PinResult.pin_id, Capture.checked_at, PinResult.start, PinResult.end)
            .join(Capture, Capture.id == PinResult.capture_id)
            .where(PinResult.pin_id.in_([pin.id for pin in pins]), PinResult.status == "holds")
            .order_by(Capture.checked_at, Capture.id)
        ):
            held[pin_id] = (when, start, end)
    shown: dict[int, list[tuple[Pin, PinReport]]] = {}
    for pin in pins:
        result = latest[pin.id][0] if pin.id in latest else None
        last_held = held.get(pin.id)
        shown.setdefault(pin.target_id, []).append((pin, PinReport(
            pin.id, pin.quote, result.status if result else "unchecked", result.score if result else None,
            _one_line(result.nearest if result and result.status == "lost" else result.matched if result else None),
            differences_text(result.differs) if result and result.status == "partial" else None,
            last_held[0] if last_held else None,
            (last_held[1], last_held[2]) if last_held and last_held[1] is not None and last_held[2] is not None else None,
            cited.get(pin.id),
        )))
    return shown


@dataclass(frozen=True)
class Marks:
    """What a target's pins in force did on its captures (ids), for acknowledgements and the
    report: ``fell`` where one fell (from holds to partial or lost, or partial to lost), and
    ``held`` where every one held (a change there is not news)."""

    fell: frozenset[int] = frozenset()
    held: frozenset[int] = frozenset()


NO_MARKS = Marks()


def claim_marks(session: Session, target_id: int) -> Marks:
    fell: set[int] = set()
    statuses: dict[int, set[str]] = {}
    previous: dict[int, str] = {}
    for pin_id, capture_id, status in session.execute(
        select(PinResult.pin_id, PinResult.capture_id, PinResult.status)
        .join(Pin, Pin.id == PinResult.pin_id)
        .where(Pin.target_id == target_id, Pin.removed_at.is_(None), PinResult.capture_id.is_not(None),
               PinResult.status != "unknown")
        .order_by(PinResult.capture_id)
    ):
        if capture_id is None:
            continue
        before = previous.get(pin_id)
        if before is not None and RANK[before] > RANK[status]:
            fell.add(capture_id)
        previous[pin_id] = status
        statuses.setdefault(capture_id, set()).add(status)
    held = {capture_id for capture_id, seen in statuses.items() if seen == {"holds"}}
    return Marks(frozenset(fell), frozenset(held))
