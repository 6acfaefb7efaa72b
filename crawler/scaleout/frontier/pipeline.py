"""The evidence pipeline of a worker: record the capture, then release its lease as done.

The lease is released only after the capture's transaction committed, so a worker
killed before that leaves the URL leased to a dead worker, and it is fetched again by
another. If the URL was recorded meanwhile (by a worker presumed dead that was only
slow) the database's unique key refuses the second capture: it is dropped, not counted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crawler.crawl.lookups import MementoItem
from crawler.crawl.pipeline import EvidencePipeline
from crawler.crawl.spider import CaptureItem
from crawler.scaleout.frontier.state import RunFrontier, connect
from crawler.store.models import Capture, Target
from crawler.warc.runstore import FATAL_STAT

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class FrontierPipeline(EvidencePipeline):
    def __init__(self, crawler: Crawler) -> None:
        url = crawler.settings.get("EVIDENCE_FRONTIER_URL")
        if not url:
            raise NotConfigured("EVIDENCE_FRONTIER_URL is not set: not a frontier worker")
        super().__init__(crawler)
        self.frontier = RunFrontier(connect(url), self.run_id)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierPipeline:
        return cls(crawler)

    async def process_item(self, item: CaptureItem | MementoItem, spider: Spider | None = None) -> CaptureItem | MementoItem:
        if isinstance(item, MementoItem):
            # Workers run no lookups (the spider is handed none); were one handed, it is
            # no frontier URL to complete.
            return await super().process_item(item, spider)
        try:
            result = await super().process_item(item, spider)
        except IntegrityError as exc:
            if not self._recorded(item.url):
                raise
            self.stats.inc_value("evidence/frontier/duplicate")
            self.frontier.complete(item.url)
            raise DropItem(f"already recorded in run {self.run_id} by another worker: {item.url}") from exc
        if self.stats.get_value(FATAL_STAT):
            # The archive failed while committing: the capture was rolled back. The URL
            # stays leased and goes back to the queue when this worker leaves.
            raise DropItem(f"not recorded, the archive failed: {item.url}")
        self.frontier.complete(item.url)
        self.stats.inc_value("evidence/frontier/completed")
        return result

    def _recorded(self, url: str) -> bool:
        with self.sessions() as session:
            found = session.scalar(
                select(Capture.id).join(Target).where(Capture.run_id == self.run_id, Target.url == url)
            )
        return found is not None
