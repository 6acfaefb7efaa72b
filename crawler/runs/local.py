"""Running one crawl: choose the cited URLs, run the spider (``crawler.runs.inprocess``, or
several processes), sum up the news (the run's life itself is ``crawler.runs.lifecycle``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.citations import Document as ParsedDocument
from crawler.citations.importer import all_cited_urls, has_documents, import_seed, record_file, require_citations
from crawler.exceptions import NotFound, RunFailed, SettingError
from crawler.store.models import MementoLookup
from crawler.store.mementos import archives_from, due_lookups
from crawler.runs.lifecycle import (
    RunSummary,
    build_settings,
    fail_run,
    finish_run,
    recorded_settings,
    recover,
    stamp_closed_files,
    start_run,
)
from crawler.runs.inprocess import crawl_here

def run_crawl(
    sessions: sessionmaker[Session],
    db_url: str,
    documents: list[ParsedDocument],
    overrides: dict[str, Any],
    *,
    locked: bool = False,
) -> RunSummary:
    """Import ``documents`` (or the embedded seed into an empty database) and crawl.

    With documents, only their URLs are visited; without, every URL the database's
    documents cite; ``documents`` is emptied once they are recorded (``cited_urls``).
    One Scrapy crawl per process: the Twisted reactor cannot restart.
    ``locked`` says the caller holds the database's run lock (``crawler/runs/lock.py``).
    """
    urls = cited_urls(sessions, documents)
    settings = build_settings({**overrides, "EVIDENCE_DB_URL": db_url})
    recover(sessions, Path(settings.get("EVIDENCE_ARCHIVE_DIR")), every=locked)
    run_id = start_run(sessions, urls, recorded_settings(settings))
    settings.set("EVIDENCE_RUN_ID", run_id, priority="cmdline")

    processes = max(settings.getint("EVIDENCE_PROCESSES"), 1)
    if processes > 1:
        from crawler.scaleout.processes import crawl_in_processes, shard_by_host

        shards = shard_by_host(urls, processes)
        if len(shards) > 1:
            outcome = crawl_in_processes(
                {**overrides, "EVIDENCE_DB_URL": db_url, "EVIDENCE_RUN_ID": run_id}, settings, shards, sessions
            )
            if outcome.fatal:
                raise RunFailed(fail_run(sessions, run_id, outcome.fatal))
            summary = finish_run(sessions, run_id, urls, outcome.finish_reason)
            summary.problems = outcome.problems
            return stamp_closed_files(sessions, summary, overrides)

    finish_reason, fatal = crawl_here(sessions, settings, urls)
    if fatal:
        raise RunFailed(fail_run(sessions, run_id, fatal))

    return stamp_closed_files(sessions, finish_run(sessions, run_id, urls, finish_reason), overrides)


def run_lookups(
    sessions: sessionmaker[Session],
    db_url: str,
    url: str | None,
    overrides: dict[str, Any],
    *,
    refresh: bool = False,
    locked: bool = False,
) -> LookupSummary:
    """``evidence lookup``: the web archive lookups of ``url`` (None: every cited URL) that
    are owed, or all of them with ``refresh``, as a run of their own that captures nothing."""
    settings = build_settings({**overrides, "EVIDENCE_DB_URL": db_url})
    if not archives_from(settings.get("EVIDENCE_ARCHIVES")):
        raise SettingError("no web archive to ask: EVIDENCE_ARCHIVES is empty; give --archives URL,...")
    tasks = due_lookups(sessions, [url] if url is not None else None, refresh=refresh)
    if url is not None and not tasks and not due_lookups(sessions, [url], refresh=True):
        raise NotFound(
            f"{url} is not a cited URL with a cited date; `evidence status` lists the cited URLs and their "
            "cited_at (`evidence import --cited-at YYYY-MM-DD DOCUMENT` gives one)"
        )
    if not tasks:
        return LookupSummary(None, Counter())
    recover(sessions, Path(settings.get("EVIDENCE_ARCHIVE_DIR")), every=locked)
    run_id = start_run(sessions, [], {**recorded_settings(settings), "lookups": len(tasks)})
    settings.set("EVIDENCE_RUN_ID", run_id, priority="cmdline")
    finish_reason, fatal = crawl_here(sessions, settings, [], lookups=tasks)
    if fatal:
        raise RunFailed(fail_run(sessions, run_id, fatal))
    finish_run(sessions, run_id, [], finish_reason)
    with sessions() as session:
        outcomes = Counter(session.scalars(select(MementoLookup.outcome).where(MementoLookup.run_id == run_id)))
    return LookupSummary(run_id, outcomes, len(tasks))


@dataclass(frozen=True)
class LookupSummary:
    """What ``evidence lookup`` did: its run (None: nothing was owed) and outcomes."""

    run_id: int | None
    outcomes: Counter[str]
    owed: int = 0

    @property
    def missing(self) -> int:
        """Lookups owed that recorded nothing (the run was stopped)."""
        return self.owed - sum(self.outcomes.values())


def cited_urls(sessions: sessionmaker[Session], documents: list[ParsedDocument]) -> list[str]:
    """Import ``documents`` and return the URLs they cite; without documents, every URL the
    database's documents cite (the embedded seed imported into an empty database).

    ``documents`` is emptied once recorded, so that the caller does not hold the parsed
    citations (15 MB for 10,000 URLs) through the crawl. A document that cites nothing is
    refused (``NoCitations``) before any is recorded."""
    for document in documents:
        require_citations(document)
    if documents:
        imported = [record_file(sessions, document) for document in documents]
        documents.clear()
        return list(dict.fromkeys(url for item in imported for url in item.urls))
    if not has_documents(sessions):
        import_seed(sessions)
    return all_cited_urls(sessions)
