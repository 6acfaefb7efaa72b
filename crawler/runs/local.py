"""Running one crawl: choose the cited URLs, run the spider in-process, sum up the news
(the run's life itself is ``crawler.runs.lifecycle``)."""

from __future__ import annotations

import ctypes
import logging
import platform
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.citations import Document as ParsedDocument
from crawler.citations.importer import all_cited_urls, has_documents, import_seed, record_file, require_citations
from crawler.exceptions import NotFound, RunFailed, SettingError
from crawler.store.models import MementoLookup
from crawler.runs.gctuning import crawl_pace
from crawler.store.mementos import LookupTask, archives_from, due_lookups
from crawler.runs.lifecycle import (
    RunSummary,
    build_settings,
    fail_run,
    finish_run,
    known_digests,
    originals,
    recorded_settings,
    recover,
    start_run,
)
from crawler.crawl.compat import offline_public_suffixes
from crawler.crawl.spider import CitationSpider
from crawler.warc.runstore import FATAL_STAT

logger = logging.getLogger(__name__)


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
            return summary

    finish_reason, fatal = crawl_here(sessions, settings, urls)
    if fatal:
        raise RunFailed(fail_run(sessions, run_id, fatal))

    return finish_run(sessions, run_id, urls, finish_reason)


def crawl_here(
    sessions: sessionmaker[Session],
    settings: Settings,
    urls: list[str],
    before_start: Callable[[CrawlerProcess], None] | None = None,
    lookups: list[LookupTask] | None = None,
) -> tuple[str | None, str | None]:
    """One Scrapy crawl of ``urls`` in this process: its finish reason and fatal archive
    failure, if any. ``before_start`` is called once the reactor is installed.

    ``lookups`` are the web archive lookups to run (default: those ``urls`` owe,
    ``crawler.store.mementos.due_lookups``); none when ``EVIDENCE_ARCHIVES`` is empty."""
    if not archives_from(settings.get("EVIDENCE_ARCHIVES")):
        lookups = []
    elif lookups is None:
        lookups = due_lookups(sessions, urls)
    offline_public_suffixes()
    _fixed_mmap_threshold()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(CitationSpider)
    tune_logging_on_start(crawler)
    process.crawl(
        crawler, targets=urls, known_digests=known_digests(sessions, urls), originals=originals(sessions), lookups=lookups,
    )
    if before_start is not None:
        before_start(process)
    with crawl_pace():
        process.start()
    finish_reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    fatal = crawler.stats.get_value(FATAL_STAT) if crawler.stats else None
    return finish_reason, fatal


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


def tune_logging_on_start(crawler: Crawler) -> None:
    """Tune logging (below) once the engine starts: Scrapy puts the root logger back to
    NOTSET each time a crawl applies its settings, which is after the crawler is made."""
    level_name = crawler.settings.get("LOG_LEVEL")

    def tune() -> None:
        _tune_logging(level_name)

    crawler.signals.connect(tune, signals.engine_started, weak=False)


def _tune_logging(level_name: str) -> None:
    """Quiet what is not news, after Scrapy has (re)configured logging."""
    level = logging.getLevelName(level_name) if isinstance(level_name, str) else int(level_name)
    # Scrapy leaves the root logger at NOTSET, sets its own "scrapy" logger to DEBUG and
    # filters in its handler, so every debug line of every request was formatted into a
    # record and then dropped (1.4% of a crawl).
    logging.getLogger().setLevel(level)
    logging.getLogger("scrapy").setLevel(level)
    # A URL still down after its retries is a verdict (unreachable) in the summary;
    # Scrapy's ERROR line for it would make cron mail on every run.
    if level >= logging.WARNING:
        logging.getLogger("scrapy.downloadermiddlewares.retry").setLevel(logging.CRITICAL)


def _fixed_mmap_threshold() -> None:
    """Keep glibc handing bodies of 1 MiB and more back to the system when freed.

    glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB),
    so after the first dataset the next ones were carved from the heap, whose freed space
    stayed in the process: a 10,000-URL crawl citing ten 8 MB files peaked 11 MB higher.
    A fixed threshold costs an mmap and a munmap per large body.
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
    except (OSError, AttributeError):
        pass


_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


