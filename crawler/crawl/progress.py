"""Progress of a long run on stderr: done/total, the host being fetched, and the rate.

Only for a person watching: the extension switches itself off when stderr is not a
terminal (cron, a pipe, a log file) or with ``-q``, so scheduled runs stay silent.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from scrapy import signals

from crawler.crawl.lookups import MementoItem
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler


class Progress:
    def __init__(self, stream: TextIO, interval: float) -> None:
        self.stream = stream
        self.interval = interval
        self.total = 0
        self.done = 0
        self.host = ""
        self.started = time.monotonic()
        self._loop: task.LoopingCall | None = None
        self._width = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        if not crawler.settings.getbool("EVIDENCE_PROGRESS_ENABLED") or not sys.stderr.isatty():
            # No message: Scrapy logs a NotConfigured that has one as a warning, and cron would mail it.
            raise NotConfigured
        extension = cls(sys.stderr, crawler.settings.getfloat("EVIDENCE_PROGRESS_INTERVAL", 1.0))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.request_reached_downloader, signal=signals.request_reached_downloader)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.total = len(getattr(spider, "targets", []))
        self.started = time.monotonic()
        self._loop = task.LoopingCall(self.show)
        self._loop.start(self.interval, now=True)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.host = ""
        self.show()
        self.stream.write("\n")
        self.stream.flush()

    def item_scraped(self, item: Any, spider: Spider) -> None:
        # A web archive lookup (crawler/crawl/lookups.py) is no cited URL done.
        if not isinstance(item, MementoItem):
            self.done += 1

    def request_reached_downloader(self, request: Request, spider: Spider) -> None:
        self.host = urlsplit(request.url).netloc

    def line(self) -> str:
        minutes = max(time.monotonic() - self.started, 1e-6) / 60
        text = f"{self.done}/{self.total} URLs  {self.done / minutes:.1f}/min"
        return f"{text}  {self.host}" if self.host else text

    def show(self) -> None:
        text = self.line()
        # Overwrite the previous line in place; pad in case it was longer.
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)
