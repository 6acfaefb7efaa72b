"""Memento (RFC 7089) client: finding what a cited URL said when it was cited, in web archives.

A citation carries the date it was made (``cited_at``); web archives such as the Internet
Archive's Wayback Machine, or any pywb collection, may hold the page as it was then. This
package knows how to ask them, as pure functions and a state machine that does no I/O of
its own, so that the crawl sends the requests itself (through its address guard,
politeness, User-Agent and WARC recorder):

- :mod:`.urls`: a Wayback-style collection (``https://web.archive.org/web/``) and the URLs it
  answers: TimeGate, TimeMap, raw ``id_`` mementos (the bytes as originally served, with no
  banner or rewriting), the CDX index; ``Accept-Datetime`` values; 14-digit timestamps.
- :mod:`.linkformat`: ``application/link-format`` TimeMaps and ``Link`` headers, and
  ``Memento-Datetime``.
- :mod:`.cdx`: archived statuses from a CDX index (pywb's and the Wayback Machine's shapes).
- :mod:`.choose`: which memento stands for a citation date.
- :mod:`.lookup`: :class:`Lookup`, one URL's lookup over an ordered list of archives.
"""

from crawler.memento.cdx import parse_cdx
from crawler.memento.choose import Candidate, candidates, choose
from crawler.memento.linkformat import Link, Memento, TimeMap, parse_links, parse_memento_datetime, parse_timemap
from crawler.memento.lookup import Found, Lookup, NoMemento, Outcome, Request, Skipped, Unreachable
from crawler.memento.urls import (
    Archive,
    ArchivedUrl,
    accept_datetime,
    format_timestamp,
    parse_timestamp,
)

__all__ = [
    "Archive", "ArchivedUrl", "Candidate", "Found", "Link", "Lookup", "Memento", "NoMemento", "Outcome",
    "Request", "Skipped", "TimeMap", "Unreachable", "accept_datetime", "candidates", "choose",
    "format_timestamp", "parse_cdx", "parse_links", "parse_memento_datetime", "parse_timemap",
    "parse_timestamp",
]
