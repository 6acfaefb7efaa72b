"""The one WARC store of a crawl, shared by the recorder (exchanges) and the pipeline
(metadata records), with every closed file's checksum recorded in the database.

A file can close (roll over) in the middle of the pipeline's transaction; writing its
row from a second connection then would wait on that transaction's lock. Closed files
are queued instead and recorded by whoever next holds a session (``record_closed``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.orm import Session

from crawler.store.models import WarcFile
from crawler.warc.writer import ClosedFile, WarcStore

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_ATTRIBUTE = "_evidence_warc_store"


def store_for(crawler: Crawler) -> WarcStore:
    """The crawl's store, created on first use from the crawler's settings."""
    store: WarcStore | None = getattr(crawler, _ATTRIBUTE, None)
    if store is None:
        settings = crawler.settings
        store = WarcStore(
            settings.get("EVIDENCE_ARCHIVE_DIR"),
            prefix=settings.get("EVIDENCE_WARC_PREFIX"),
            max_size=settings.getint("EVIDENCE_WARC_MAX_SIZE"),
            warcinfo=[
                ("operator", settings.get("EVIDENCE_OPERATOR") or "not given"),
                ("http-header-user-agent", settings.get("USER_AGENT")),
                ("robots", "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore"),
                (
                    "description",
                    "HTTP heads are stored byte for byte as the client sent and received "
                    "them (a record rebuilt from another download handler's parsed head says "
                    "so in WARC-Evidence-Reconstructed); bodies are stored as received with "
                    "transfer coding removed and content coding kept.",
                ),
            ],
            on_close=_queue(crawler),
            compression=settings.get("EVIDENCE_WARC_COMPRESSION"),
        )
        setattr(crawler, _ATTRIBUTE, store)
    return store


FATAL_STAT = "evidence/fatal"


def stop_for_archive_failure(crawler: Crawler, exc: Exception) -> None:
    """Nothing more can be archived (disk full, folder gone): end the crawl, keep the reason.

    Captures already committed stay; nothing after this point is recorded, since a row
    must never point at bytes that are not on disk.
    """
    assert crawler.stats is not None
    if crawler.stats.get_value(FATAL_STAT) is None:
        crawler.stats.set_value(FATAL_STAT, str(exc))
        assert crawler.engine is not None
        deferred_from_coro(crawler.engine.close_spider_async(reason="archive_failed"))


_QUEUE_ATTRIBUTE = "_evidence_closed_warcs"


def _queue(crawler: Crawler) -> Callable[[ClosedFile], None]:
    queue: list[ClosedFile] = []
    setattr(crawler, _QUEUE_ATTRIBUTE, queue)
    return queue.append


def record_closed(crawler: Crawler, session: Session) -> None:
    """Add the rows of files closed since the last call to ``session``'s transaction."""
    queue: list[ClosedFile] = getattr(crawler, _QUEUE_ATTRIBUTE, [])
    while queue:
        closed = queue.pop(0)
        session.merge(WarcFile(name=closed.name, sha256=closed.sha256, size=closed.size))
