"""Drift since citation: the cited page now against the web archive's copy of the day it was cited.

Each citation gets ``since_citation``:

- ``same``: the latest capture's evidence fingerprint equals the memento's;
- ``changed``: it does not (``evidence diff URL --from cited`` shows the text that moved);
- ``gone``: the live page is gone (404/410, a soft 404, a failure that lasted
  ``EVIDENCE_GONE_AFTER`` runs) and a memento was found: the memento is the evidence left;
- ``unknown``: no memento (never archived near that date, not looked up yet, archives
  unreachable), no cited date, never captured, the live page is only ``unreachable``, or
  its latest capture was rendered in the browser (the memento is not: crawler/browser/).

Live ``unreachable`` with a memento is ``unknown``, not a fifth value: a server down
tonight is not a page gone (the crawl's own rule, see ``crawler.verdicts.rules``), and
after ``gone_after`` runs it becomes ``gone`` anyway; nothing the page says is known.

The memento compared is the one of the earliest cited date (among the citations shown)
that has one, as ``show --cited`` and ``diff --from cited`` use. Fingerprints are only
compared on equal terms: one made under other rules than those in force with the
target's learned noise (the memento is fingerprinted with no noise), or deferred on a
first capture, is re-extracted from its WARC record first. A record that cannot be read
back leaves the verdict ``unknown``: a rule difference is never called a change.

What was re-extracted is kept on the row it belongs to (:meth:`DriftJudge.keep`), as the
crawl's pipeline rewrites a deferred fingerprint when it resolves one: every capture of
the target holding the same fingerprint under the same rules, or the memento row, gets
the fingerprint (and a capture its boilerplate fingerprint) with its basis, so the next
``status``, ``export`` or ``report`` compares stored fingerprints and reads no WARC. A
new capture has its own row, and newly learned noise changes the basis a fingerprint
must have, so neither is hidden by what was kept. The rewrite says what the row already
meant, under the rules in force, and only where the row still holds what was read
(compare-and-set), so it is safe beside a running crawl without its lock: one short
transaction after judging, that waits at most ``KEEP_WAIT_MS`` for the database (WAL
lets it write beside a crawl's readers) and is given up, not failed, when the database
is busy or read-only: the answer is the same, only the next call pays the reads again.

The summary (``status --summary``, the report's opening figures) counts citations, not
URLs, per document and overall, under the names reference-rot studies use: ``intact``
(same), ``drifted`` (changed), ``rotted`` (gone), ``unknown``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.exceptions import ArchiveError
from crawler.store.mementos import known_mementos
from crawler.store.models import Capture, MementoLookup, Target
from crawler.store.db import BUSY_TIMEOUT_MS
from crawler.verdicts.fingerprint import Meaning, Noise, as_bytes, bytes_fingerprint, is_current, is_deferred, meaning
from crawler.verdicts.rules import PRESENT_STATES
from crawler.warc.snapshots import Located, load_snapshot

logger = logging.getLogger(__name__)

VERDICTS = ("same", "changed", "gone", "unknown")
#: How long keeping re-extracted fingerprints waits for a database a crawl is writing to:
#: a read-only command must not stall behind it (nor hold it up), and loses nothing by
#: leaving the rows for the next call.
KEEP_WAIT_MS = 250
#: The words of the reference-rot summary, per verdict.
SHARES = {"same": "intact", "changed": "drifted", "gone": "rotted", "unknown": "unknown"}
SUMMARY_COLUMNS = [
    "document", "citations", "intact", "drifted", "rotted", "unknown",
    "intact_share", "drifted_share", "rotted_share", "unknown_share",
]
OVERALL = "(all documents)"
METHOD = (
    "Counts are of citations, not URLs: a URL cited twice counts twice. Each cited page as last captured is "
    "compared with the web archive's copy (memento) of the earliest day its document cites it (the access date "
    "of its note, else the document's date, else the date given on import), nearest at or before that day, else "
    "the earliest after. intact: the text a reader sees (evidence fingerprint, both made under the same "
    "extraction rules and learned noise) is the same as the memento's; drifted: that text differs; rotted: "
    "the page is gone now (404/410, a soft 404, or failing for several runs in a row) and only the memento is "
    "left; unknown: no memento, no cited date, never captured, or unreachable at the last crawl."
)


@dataclass(frozen=True)
class Drift:
    since_citation: str
    memento_url: str | None = None
    memento_datetime: str | None = None


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


class DriftJudge:
    """Judges drift since citation for targets of one database, reading WARC records back
    from ``archive_dir`` where fingerprints must be remade (each at most once)."""

    def __init__(self, session: Session, archive_dir: Path, target_ids: Iterable[int]) -> None:
        self.session = session
        self.archive_dir = archive_dir
        ids = list(dict.fromkeys(target_ids))
        self.known = known_mementos(session, ids)
        self.noise = {
            target_id: Noise(noise or ())
            for target_id, noise in session.execute(select(Target.id, Target.noise).where(Target.id.in_(ids)))
        }
        self._remade: dict[tuple[str, int, str, int], str | None] = {}
        #: what was re-extracted, to keep: (kind, row id, target id, stored fingerprint,
        #: stored basis) -> the meaning made under the rules in force
        self._kept: dict[tuple[str, int, int, str | None, str | None], Meaning] = {}

    def memento(self, target_id: int, cited: Iterable[date]) -> MementoLookup | None:
        """The found memento of the earliest of the ``cited`` dates that has one."""
        for day in sorted(set(cited)):
            row = self.known.get((target_id, day))
            if row is not None and row.outcome == "found":
                return row
        return None

    def judge(self, target_id: int, cited: Iterable[date], capture: Capture | None) -> Drift:
        memento = self.memento(target_id, cited)
        if memento is None:
            return Drift("unknown")
        shown = {"memento_url": memento.memento_url, "memento_datetime": _time(memento.memento_datetime)}
        if capture is None:
            return Drift("unknown", **shown)
        if capture.state == "gone":
            return Drift("gone", **shown)
        if capture.state not in PRESENT_STATES:
            return Drift("unknown", **shown)
        if capture.dom_filename is not None:
            # Judged on its rendered DOM, while the memento is the archive's copy as served,
            # never rendered (for an application, the shell): no equal terms to compare on.
            # Nor may its row be re-made from the shell in its response record (``keep``).
            return Drift("unknown", **shown)
        noise = self.noise.get(target_id, Noise())
        live = self._fingerprint(
            "capture", capture.id, target_id, capture, capture.fingerprint, capture.basis, capture.checked_at, noise
        )
        then = self._fingerprint(
            "memento", memento.id, target_id, memento, memento.fingerprint, memento.basis, memento.memento_datetime, noise
        )
        if live is None or then is None:
            return Drift("unknown", **shown)
        return Drift("same" if live == then else "changed", **shown)

    def _fingerprint(
        self, kind: str, row_id: int, target_id: int, located: Located, stored: str | None, basis: str | None,
        when: datetime | None, noise: Noise,
    ) -> str | None:
        """``stored`` if made under the rules in force with ``noise``; else remade from the
        WARC record (None when it cannot be read back)."""
        if is_current(stored, basis, noise):
            return stored
        key = (kind, row_id, basis or "", len(noise))
        if key not in self._remade:
            fingerprint: str | None = None
            if located.warc_filename is not None and located.warc_offset is not None:
                try:
                    snapshot = load_snapshot(self.archive_dir, located, decode=False)
                except ArchiveError:
                    pass
                else:
                    # The payload read back must be the one a deferred fingerprint names
                    # (as the pipeline checks before resolving one).
                    if not is_deferred(stored) or bytes_fingerprint(snapshot.body, snapshot.content_encoding) == as_bytes(stored):
                        page = meaning(snapshot.body, snapshot.content_type, snapshot.content_encoding, _utc(when), noise=noise)
                        fingerprint = page.fingerprint
                        if is_current(page.fingerprint, page.basis, noise):
                            self._kept[(kind, row_id, target_id, stored, basis)] = page
            self._remade[key] = fingerprint
        return self._remade[key]

    def keep(self) -> int:
        """Write what was re-extracted to the rows it belongs to (module docstring), in a
        session of its own; returns the rows rewritten (0 when the database was busy or
        read-only: nothing is lost but the next call's time)."""
        if not self._kept:
            return 0
        rewritten = 0
        with Session(self.session.get_bind()) as writer:
            dialect = writer.get_bind().dialect.name
            try:
                if dialect == "sqlite":
                    writer.execute(text(f"PRAGMA busy_timeout={KEEP_WAIT_MS}"))
                elif dialect == "postgresql":
                    writer.execute(text(f"SET LOCAL lock_timeout = '{KEEP_WAIT_MS}ms'"))
                for (kind, row_id, target_id, stored, basis), page in self._kept.items():
                    if kind == "capture":
                        same_rules = Capture.basis.is_(None) if basis is None else Capture.basis == basis
                        statement = (
                            update(Capture)
                            .where(Capture.target_id == target_id, Capture.fingerprint == stored, same_rules)
                            .values(fingerprint=page.fingerprint, boilerplate=page.boilerplate_fingerprint, basis=page.basis)
                        )
                    else:
                        same_rules = MementoLookup.basis.is_(None) if basis is None else MementoLookup.basis == basis
                        statement = (
                            update(MementoLookup)
                            .where(MementoLookup.id == row_id, MementoLookup.fingerprint == stored, same_rules)
                            .values(fingerprint=page.fingerprint, basis=page.basis)
                        )
                    result = writer.execute(statement.execution_options(synchronize_session=False))
                    rewritten += int(getattr(result, "rowcount", 0) or 0)
                writer.commit()
            except SQLAlchemyError as exc:
                writer.rollback()
                logger.info("re-extracted fingerprints not kept (next call reads the WARC again): %s", exc)
                rewritten = 0
            finally:
                if dialect == "sqlite":
                    # The pool hands this connection on: its usual patience back.
                    try:
                        writer.execute(text(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"))
                    except SQLAlchemyError:
                        pass
        self._kept.clear()
        return rewritten


def summarize(rows: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """One summary row: counts and shares (0 to 1, 4 decimals) of ``rows``' verdicts."""
    counts = Counter(str(row.get("since_citation") or "unknown") for row in rows)
    total = len(rows)
    out: dict[str, Any] = {"document": label, "citations": total}
    for verdict, word in SHARES.items():
        out[word] = counts[verdict]
    for verdict, word in SHARES.items():
        out[f"{word}_share"] = round(counts[verdict] / total, 4) if total else None
    return out


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def render_summary(rows: list[dict[str, Any]], fmt: str) -> str:
    """``status --summary`` as a table (shares as percentages, then the method), JSON (an
    object: the method and the rows, so the figures travel with what they mean) or CSV."""
    from crawler.reports.output import render

    if fmt == "json":
        import json

        body = {"method": METHOD, "documents": [{c: row.get(c) for c in SUMMARY_COLUMNS} for row in rows]}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return render(rows, SUMMARY_COLUMNS, fmt)
    shown = [{**row, **{c: percent(row[c]) for c in SUMMARY_COLUMNS if c.endswith("_share")}} for row in rows]
    return render(shown, SUMMARY_COLUMNS, fmt) + "\n" + _wrap("Method: " + METHOD) + "\n"


def _wrap(text: str, width: int = 100) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
