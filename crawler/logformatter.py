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
