"""The spider: one request per distinct cited URL, every outcome turned into an item."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.failures import classify
from crawler.middlewares.warcrecorder import CHECKED_AT_META_KEY, HOPS_META_KEY, Hop

TARGET_META_KEY = "evidence_target"


@dataclass
class CaptureItem:
    """What one visit of one cited URL produced, archived hops included."""

    url: str
    checked_at: datetime
    hops: list[Hop] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None


class CitationSpider(scrapy.Spider):
    name = "citations"

    def __init__(self, targets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = list(dict.fromkeys(targets))

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.targets:
            yield scrapy.Request(
                url,
                callback=self.parse,
                errback=self.failed,
                # Re-checks must fetch every time; the spider already de-duplicates.
                dont_filter=True,
                meta={TARGET_META_KEY: url},
            )

    def parse(self, response: Response, **kwargs: Any) -> Iterable[CaptureItem]:
        meta = response.meta
        yield CaptureItem(url=meta[TARGET_META_KEY], checked_at=_checked_at(meta), hops=meta.get(HOPS_META_KEY, []))

    def failed(self, failure: Failure) -> Iterable[CaptureItem]:
        request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        exc = failure.value
        assert exc is not None  # an errback's failure always carries its exception
        yield CaptureItem(
            url=meta[TARGET_META_KEY],
            checked_at=_checked_at(meta),
            hops=meta.get(HOPS_META_KEY, []),
            error_kind=classify(exc),
            error=f"{type(exc).__name__}: {exc}"[:500],
        )


def _checked_at(meta: dict[str, Any]) -> datetime:
    # Set by the recorder when the first attempt left; a request that never reached
    # the downloader (refused by robots.txt, say) is checked now.
    return meta.get(CHECKED_AT_META_KEY) or datetime.now(timezone.utc)
