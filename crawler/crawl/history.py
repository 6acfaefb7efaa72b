"""What the verdict needs to know of each target's past, read once when the crawl opens.

Asking the database per capture cost five queries each (a third of the pipeline's time
on a 10,000-URL run); a handful of grouped queries at the start cost a few milliseconds
per thousand targets and keep the per-capture path free of reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.store.models import Capture, Citation, Document, Target

GOOD_STATES = ("ok", "changed")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Good:
    """The parts of an earlier capture that archived the page as present."""

    payload_digest: str | None
    fingerprint: str | None
    content_type: str | None
    #: where its payload is archived and when it was taken, to read it back and resolve a
    #: ``deferred:`` fingerprint (see crawler/verdicts/fingerprint.py)
    capture_id: int | None = None
    checked_at: datetime | None = None
    warc_filename: str | None = None
    warc_offset: int | None = None
    payload_filename: str | None = None
    payload_offset: int | None = None
    #: the rules its fingerprints were made under, and its boilerplate's fingerprint
    basis: str | None = None
    boilerplate: str | None = None
    #: how it was rendered (``captures.render``: None, rendered, capped, failed) and where its
    #: rendered DOM's ``resource`` record is: a rendered capture's fingerprints were made
    #: from that DOM, and are re-made from it, never from the shell in its response record
    render: str | None = None
    dom_filename: str | None = None
    dom_offset: int | None = None

    @property
    def rendered(self) -> bool:
        """Judged on its rendered DOM (a failed render was judged on its HTML)."""
        return self.dom_filename is not None and self.dom_offset is not None


@dataclass(slots=True)
class TargetHistory:
    target_id: int
    #: the last good capture of an earlier run
    previous: Good | None = None
    #: (state, reason) of the latest earlier captures, newest first
    recent: list[tuple[str, str]] = field(default_factory=list)
    #: the first good capture ever, i.e. what was cited
    first: Good | None = None
    #: (document name, title, footnote) of every citation of the target
    cited_by: list[tuple[str, str, str]] = field(default_factory=list)
    #: the noise learned for the target (crawler.verdicts.fingerprint.Noise templates)
    noise: list[str] | None = None


def load_histories(session: Session, urls: set[str], run_id: int, recent: int) -> dict[str, TargetHistory]:
    """The history of every target among ``urls``, as of before run ``run_id``."""
    # Core rows streamed from the cursor: an ORM-enabled execute fetches every row first.
    rows = session.connection().execute
    # Held for every target through the crawl, so the strings that repeat (a document's
    # name, a WARC file name, a state) are kept once, not once per row: with slots, this
    # took the histories of a 10,000-URL re-check from 28 MB to half of it.
    shared: dict[Any, Any] = {}

    def once(value: T) -> T:
        return shared.setdefault(value, value)  # type: ignore[no-any-return]

    def shared_good(row: Sequence[Any]) -> Good:
        (digest, fingerprint, content_type, capture_id, checked_at, warc_file, warc_offset, payload_file, payload_offset,
         basis, boilerplate, render, dom_file, dom_offset) = row
        return Good(
            digest, fingerprint, once(content_type), capture_id, checked_at, once(warc_file), warc_offset,
            once(payload_file), payload_offset, once(basis), boilerplate, once(render), once(dom_file), dom_offset,
        )

    histories = {
        url: TargetHistory(target_id, noise=noise)
        for target_id, url, noise in rows(select(Target.id, Target.url, Target.noise)) if url in urls
    }
    by_id = {history.target_id: history for history in histories.values()}
    if not by_id:
        return histories

    newest = func.row_number().over(partition_by=Capture.target_id, order_by=Capture.run_id.desc()).label("n")
    latest = (
        select(Capture.target_id, Capture.state, Capture.reason, newest)
        .where(Capture.run_id != run_id)
        .subquery()
    )
    for target_id, state, reason, _ in rows(
        select(latest).where(latest.c.n <= recent).order_by(latest.c.target_id, latest.c.n)
    ):
        if target_id in by_id:
            by_id[target_id].recent.append(once((state, reason)))

    is_good = Capture.state.in_(GOOD_STATES)
    columns = (
        Capture.target_id, Capture.payload_digest, Capture.fingerprint, Capture.content_type, Capture.id,
        Capture.checked_at, Capture.warc_filename, Capture.warc_offset, Capture.payload_filename, Capture.payload_offset,
        Capture.basis, Capture.boilerplate, Capture.render, Capture.dom_filename, Capture.dom_offset,
    )
    last_good = select(*columns, newest).where(is_good, Capture.run_id != run_id).subquery()
    for target_id, *rest, _ in rows(select(last_good).where(last_good.c.n == 1)):
        if target_id in by_id:
            by_id[target_id].previous = shared_good(rest)

    oldest = func.row_number().over(partition_by=Capture.target_id, order_by=Capture.run_id).label("n")
    first_good = select(*columns, oldest).where(is_good).subquery()
    for target_id, *rest, _ in rows(select(first_good).where(first_good.c.n == 1)):
        if target_id in by_id:
            history = by_id[target_id]
            # Often one and the same capture (rest[3] is Capture.id): the first good one is also the last.
            same = history.previous is not None and history.previous.capture_id == rest[3]
            history.first = history.previous if same else shared_good(rest)

    for target_id, name, title, footnote in rows(
        select(Citation.target_id, Document.name, Document.title, Citation.footnote)
        .join(Document, Citation.document_id == Document.id)
        .order_by(Document.id, Citation.position)
    ):
        if target_id in by_id:
            by_id[target_id].cited_by.append(once((name, title, footnote)))
    return histories
