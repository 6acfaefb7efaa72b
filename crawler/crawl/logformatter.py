"""Scrapy log formatter that does not dump whole items into the log."""

from __future__ import annotations

from typing import Any

from scrapy.logformatter import LogFormatter


class QuietLogFormatter(LogFormatter):
    def scraped(self, item: Any, response: Any, spider: Any) -> Any:
        entry = super().scraped(item, response, spider)
        entry["msg"] = "Recorded %(item)s"
        entry["args"] = {"item": getattr(item, "url", "item")}
        return entry

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> Any:
        # The item holds the body: say why and which URL, not a dump of its bytes.
        entry = super().dropped(item, exception, response, spider)
        entry["msg"] = "Dropped: %(exception)s"
        entry["args"] = {"exception": exception}
        return entry
