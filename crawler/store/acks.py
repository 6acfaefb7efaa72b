"""Acknowledgements: a person has reviewed a change or a removal, so repeating it is not news.

An acknowledgement names a capture. It stays in force while later captures say the same
thing: the same text for a present page, the same destination for a move, gone for gone.
Unreachable captures in between neither renew nor end it (a gone page that timed out one
night and answers 404 again is the removal already reviewed). The first capture that says
something else ends it, so the next real change is news again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.claims.store import NO_MARKS, Marks, claim_marks
from crawler.exceptions import NotFound
from crawler.store.models import Ack, Capture, Target, utcnow
from crawler.verdicts import news_kind

Signature = tuple[str, str | None]


def signature(capture: Capture) -> Signature:
    """What a capture says about the evidence, for comparing it with an acknowledged one."""
    if capture.state in ("ok", "changed"):
        return ("present", capture.fingerprint)
    if capture.state == "moved":
        return ("moved", capture.final_url)
    return (capture.state, None)


def in_force(ack_capture: Capture, later: Iterable[Capture]) -> bool:
    """Whether an acknowledgement of ``ack_capture`` still covers the last of ``later``."""
    reference = signature(ack_capture)
    last: Capture | None = None
    for capture in later:
        last = capture
        if capture.state != "unreachable" and signature(capture) != reference:
            return False
    return last is None or signature(last) == reference


@dataclass(frozen=True)
class Acknowledged:
    url: str
    #: the capture acknowledged: the latest of the URL
    run_id: int
    state: str
    reason: str
    checked_at: datetime
    acked_at: datetime
    note: str
    #: the news this answers, as (kind, run), if the URL had news waiting for review
    news: tuple[str, int] | None = None


def captures_of(session: Session, target_id: int) -> list[Capture]:
    return list(session.scalars(select(Capture).where(Capture.target_id == target_id).order_by(Capture.run_id, Capture.id)))


def acks_of(session: Session, target_id: int) -> list[Ack]:
    return list(session.scalars(select(Ack).where(Ack.target_id == target_id).order_by(Ack.id)))


def covering_ack(acks: list[Ack], captures: list[Capture], capture: Capture) -> Ack | None:
    """The acknowledgement, made on an earlier capture, that still covers ``capture``."""
    for ack in reversed(acks):
        if ack.capture_id >= capture.id:
            continue
        earlier = next((c for c in captures if c.id == ack.capture_id), None)
        if earlier is None:
            continue
        later = [c for c in captures if earlier.id < c.id <= capture.id]
        return ack if in_force(earlier, later) else None
    return None


def news_captures(captures: list[Capture], acks: list[Ack], marks: Marks = NO_MARKS) -> list[tuple[Capture, str]]:
    """The captures of one target that were news when made (after acknowledgements), with
    their kind; ``marks`` say what its pinned passages did (``crawler.claims.store.claim_marks``):
    a pin that fell is news (``claim_lost``) whatever the page's state, and a change under
    pins that all hold is not."""
    found = []
    previous: str | None = None
    for capture in captures:
        kind = news_kind(capture.state, capture.reason, previous)
        previous = capture.state
        if kind == "changed" and capture.id in marks.held:
            kind = None
        if capture.id in marks.fell and kind in (None, "changed"):
            # News once, on the capture it fell on: never a repeat an acknowledgement covers.
            found.append((capture, "claim_lost"))
        elif kind is not None and covering_ack(acks, captures, capture) is None:
            found.append((capture, kind))
    return found


def is_acknowledged(session: Session, capture: Capture) -> bool:
    """Whether news on ``capture`` only repeats what a person already acknowledged."""
    acks = acks_of(session, capture.target_id)
    return bool(acks) and covering_ack(acks, captures_of(session, capture.target_id), capture) is not None


def unreviewed(captures: list[Capture], acks: list[Ack], marks: Marks = NO_MARKS) -> bool:
    """News on this target that no acknowledgement has answered yet."""
    news = news_captures(captures, acks, marks)
    if not news:
        return False
    last_news = news[-1][0]
    return not any(ack.capture_id >= last_news.id for ack in acks)


def acknowledge(sessions: sessionmaker[Session], url: str, note: str = "") -> Acknowledged:
    """Acknowledge the latest capture of ``url``."""
    with sessions() as session, session.begin():
        target = session.scalar(select(Target).where(Target.url == url))
        if target is None:
            raise NotFound(f"{url} is not a cited URL in the database; `evidence status` lists them")
        captures = captures_of(session, target.id)
        if not captures:
            raise NotFound(f"{url} has not been checked yet; run `evidence crawl` first")
        return _record(session, url, captures, acks_of(session, target.id), note, claim_marks(session, target.id))


def acknowledge_all(sessions: sessionmaker[Session], note: str = "") -> list[Acknowledged]:
    """Acknowledge the latest capture of every target with news nobody has acknowledged."""
    done = []
    with sessions() as session, session.begin():
        for target in session.scalars(select(Target).order_by(Target.id)):
            captures = captures_of(session, target.id)
            acks = acks_of(session, target.id)
            marks = claim_marks(session, target.id)
            if captures and unreviewed(captures, acks, marks):
                done.append(_record(session, target.url, captures, acks, note, marks))
    return done


def _record(session: Session, url: str, captures: list[Capture], acks: list[Ack], note: str, marks: Marks) -> Acknowledged:
    capture = captures[-1]
    news = news_captures(captures, acks, marks) if unreviewed(captures, acks, marks) else []
    ack = Ack(target_id=capture.target_id, capture_id=capture.id, acked_at=utcnow(), note=note)
    session.add(ack)
    session.flush()
    last = (news[-1][1], news[-1][0].run_id) if news else None
    return Acknowledged(url, capture.run_id, capture.state, capture.reason, capture.checked_at, ack.acked_at, note, last)
