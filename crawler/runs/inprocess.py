"""One Scrapy crawl in this process: the spider over a list of URLs, with the logging,
memory and collector tuning a crawl runs under. The one door both a local run
(``crawler.runs.local``) and each ``--processes`` child (``crawler.scaleout.processes``)
go through, so that neither has to import the other."""

from __future__ import annotations

import ctypes
import logging
import platform
import sys
from collections.abc import Callable

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from sqlalchemy.orm import Session, sessionmaker

from crawler.crawl.compat import offline_public_suffixes
from crawler.crawl.spider import CitationSpider
from crawler.runs.gctuning import crawl_pace
from crawler.runs.lifecycle import known_digests, originals, rendered_before
from crawler.store.mementos import LookupTask, archives_from, due_lookups
from crawler.warc.runstore import FATAL_STAT


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
        rendered=rendered_before(sessions, urls),
    )
    if before_start is not None:
        before_start(process)
    with crawl_pace():
        process.start()
    finish_reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    fatal = crawler.stats.get_value(FATAL_STAT) if crawler.stats else None
    return finish_reason, fatal


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


