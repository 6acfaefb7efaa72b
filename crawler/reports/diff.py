"""``evidence diff``: what a reader would see removed or added between two captures.

A capture rendered in the browser shows the text of its rendered DOM (what it was judged
on), one that was not the text of the HTML the server sent; each side's label says which.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import NotFound
from crawler.store.mementos import cited_memento
from crawler.store.models import Capture, MementoLookup, Target
from crawler.verdicts.fingerprint import mask, meaning
from crawler.warc.snapshots import Located, judged_payload, load_snapshot


def _stamp(capture: Capture) -> str:
    rendered = ", rendered" if capture.dom_filename is not None else ""
    return f"{capture.checked_at:%Y-%m-%dT%H:%M:%SZ} (run {capture.run_id}, {capture.state}{rendered})"


def pick_pair(
    sessions: sessionmaker[Session], url: str, since: datetime | None, until: datetime | None
) -> tuple[Capture, Capture]:
    """The captures to compare: the last at or before each time; by default the last two."""
    with sessions() as session:
        target_id = session.scalar(select(Target.id).where(Target.url == url))
        if target_id is None:
            raise NotFound(f"{url} is not a cited URL in the database; `evidence status` lists them")
        captures = list(
            session.scalars(
                select(Capture)
                .where(Capture.target_id == target_id, Capture.warc_filename.is_not(None))
                .order_by(Capture.checked_at.desc(), Capture.id.desc())
            )
        )

    def latest(at: datetime | None) -> Capture | None:
        return next((c for c in captures if at is None or c.checked_at <= at), None)

    newer = latest(until)
    if newer is None:
        older = None
    elif since is not None:
        older = latest(since)
    else:  # the capture just before the newer one
        older = next(iter(captures[captures.index(newer) + 1 :]), None)
    if newer is None or older is None or older is newer:
        raise NotFound(f"{url} has fewer than two archived captures in that range; `evidence history {url}` lists them")
    return older, newer


def text_diff(archive_dir: Path, older: Capture, newer: Capture, url: str) -> str:
    """A unified diff of the two captures' extracted text (empty when the text is the same)."""
    texts = [_text(archive_dir, capture, capture.checked_at) for capture in (older, newer)]
    lines = _unified(texts, (older.checked_at, newer.checked_at), f"{url} {_stamp(older)}", f"{url} {_stamp(newer)}")
    return "\n".join(lines) + "\n" if lines else ""


def cited_pair(sessions: sessionmaker[Session], url: str, until: datetime | None) -> tuple[MementoLookup, Capture]:
    """``diff --from cited``: the memento of the earliest cited date that has one (as
    ``show --cited``), and the latest capture at or before ``until``."""
    memento = cited_memento(sessions, url)
    with sessions() as session:
        query = select(Capture).where(Capture.target_id == memento.target_id, Capture.warc_filename.is_not(None))
        if until is not None:
            query = query.where(Capture.checked_at <= until)
        newer = session.scalar(query.order_by(Capture.checked_at.desc(), Capture.id.desc()).limit(1))
    if newer is None:
        raise NotFound(f"{url} has no archived capture to compare with its memento; `evidence history {url}` lists them")
    return memento, newer


def cited_diff(archive_dir: Path, memento: MementoLookup, newer: Capture, url: str) -> str:
    """A unified diff of the memento's extracted text and a capture's (empty when the same)."""
    assert memento.memento_datetime is not None  # a found memento has its time
    texts = [_text(archive_dir, memento, memento.memento_datetime), _text(archive_dir, newer, newer.checked_at)]
    label = f"{memento.memento_url} {memento.memento_datetime:%Y-%m-%dT%H:%M:%SZ} (memento, cited {memento.cited_at:%Y-%m-%d})"
    lines = _unified(texts, (memento.memento_datetime, newer.checked_at), label, f"{url} {_stamp(newer)}")
    return "\n".join(lines) + "\n" if lines else ""


def _text(archive_dir: Path, located: Located, when: datetime) -> list[str]:
    if isinstance(located, Capture):
        page = meaning(*judged_payload(archive_dir, located), when)
    else:
        snapshot = load_snapshot(archive_dir, located, decode=False)
        page = meaning(snapshot.body, snapshot.content_type, snapshot.content_encoding, when)
    return page.text.splitlines() if page.kind != "bytes" else [f"(binary payload, {page.fingerprint})"]


def _unified(texts: list[list[str]], when: tuple[datetime, datetime], from_label: str, to_label: str) -> list[str]:
    """A unified diff that matches lines by their masked text, so a line whose only
    difference is a clock or a token is not shown as changed, and prints them as they are."""
    a, b = texts
    matcher = difflib.SequenceMatcher(
        None, [mask(line, when[0]) for line in a], [mask(line, when[1]) for line in b], autojunk=False
    )
    out: list[str] = []
    for group in matcher.get_grouped_opcodes(3):
        if not out:
            out += [f"--- {from_label}", f"+++ {to_label}"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in b[j1:j2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return out
