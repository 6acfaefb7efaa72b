"""The scrapy-redis queue of a run's URLs, where popping a URL leases it to the worker.

Entries are the cited URLs themselves, not pickled requests: the worker builds each
request as a local crawl would (``CitationSpider.request_for``), with the conditional
validators of its own database read, so the queue holds nothing a worker must trust.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy_redis.queue import FifoQueue

from crawler.crawl import compat as scrapycompat
from crawler.crawl.spider import TARGET_META_KEY
from crawler.scaleout.frontier.state import RunFrontier


class LeasedQueue(FifoQueue):  # type: ignore[misc]
    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        settings = spider.settings
        self.frontier = RunFrontier(server, settings.getint("EVIDENCE_RUN_ID"))
        self.worker = settings.get("EVIDENCE_FRONTIER_WORKER_ID")

    def encode_url(self, request: Request) -> bytes:
        """scrapy-redis's ``_encode_request``, installed in its place below."""
        return str(request.meta.get(TARGET_META_KEY, request.url)).encode("utf-8")

    def decode_url(self, encoded_request: bytes) -> Request:
        """scrapy-redis's ``_decode_request``, installed in its place below."""
        request: Request = self.spider.request_for(encoded_request.decode("utf-8"))
        return request

    def pop(self, timeout: int = 0) -> Request | None:
        url = self.frontier.lease(self.worker)
        return None if url is None else self.decode_url(url.encode("utf-8"))


scrapycompat.QUEUE_ENCODE_REQUEST.override(LeasedQueue, LeasedQueue.encode_url)
scrapycompat.QUEUE_DECODE_REQUEST.override(LeasedQueue, LeasedQueue.decode_url)
