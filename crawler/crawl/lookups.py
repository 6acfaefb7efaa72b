"""The crawl's side of a Memento lookup (``crawler/memento/``): each request a ``Lookup``
names is sent as an ordinary Scrapy request, so the address guard, timeouts, the archive
host's politeness, the User-Agent and the WARC recorder apply to it as to a cited URL.

A lookup request never carries the cited URL's target key (``TARGET_META_KEY``): it is
no capture, is never probed, and its answer goes back to the ``Lookup``, not to the
verdict. Its priority is below every cited URL's, so lookups take the downloader's
free slots and a live capture never waits behind one. Redirects are left to the lookup
(an archived redirect is part of what is looked up), and any status reaches it.

An archive that did not answer at all (refused, timed out) is not asked again in the
same run: each later lookup records it unreachable at once, rather than each waiting
out the timeout; the next run asks again.

The memento chosen is judged before it is kept: an archived "page not found" served
with 200 (the soft-404 signals that need no probe: its title, a redirect to the home
page or an error page) is skipped like an archived 404, and the next candidate tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.crawl.failures import classify
from crawler.crawl.throttle import EXPECTED_STATUSES_META_KEY
from crawler.memento import Archive, Found, Lookup, Outcome, Request
from crawler.store.mementos import LookupTask
from crawler.verdicts.fingerprint import Meaning, meaning
from crawler.verdicts.soft404 import signals
from crawler.warc.recorder import HOPS_META_KEY, Hop

LOOKUP_META_KEY = "evidence_lookup"
_ASKED_META_KEY = "evidence_lookup_request"
#: Below every cited URL's request (priority 0) and probe.
LOOKUP_PRIORITY = -100
#: Soft-404 signals that make an archived 200 a "page not found": not the cited page.
UNUSABLE = frozenset({"error_title", "redirect_to_home", "redirect_to_error", "maintenance"})
# What an archive answers, when well, for a URL it has no memento of.
_EXPECTED = frozenset({403, 404})


@dataclass
class MementoItem:
    """One lookup, decided: its outcome, every exchange with the archives, and for a
    memento found its final response and what it says."""

    task: LookupTask
    outcome: Outcome
    started: datetime
    hops: list[Hop] = field(default_factory=list)
    #: the found memento's (raw ``id_``) response, and its body as received
    memento: Hop | None = None
    body: bytes = b""
    page: Meaning | None = None
    signals: list[str] = field(default_factory=list)


@dataclass
class _Job:
    task: LookupTask
    lookup: Lookup
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    hops: list[Hop] = field(default_factory=list)


class Lookups:
    """The lookups of one crawl, driven by the spider's callbacks."""

    def __init__(self, tasks: list[LookupTask], archives: list[Archive]) -> None:
        self.tasks = tasks if archives else []
        self.archives = archives
        #: archives that gave no answer at all in this run
        self.down: dict[str, str] = {}

    def first_requests(self) -> list[_Job]:
        return [_Job(task, Lookup(task.url, task.cited_at, self.archives)) for task in self.tasks]

    def next(self, job: _Job) -> scrapy.Request | MementoItem:
        """The job's next request, or its item once decided."""
        while (asked := job.lookup.next_request()) is not None:
            if asked.archive in self.down:
                job.lookup.fail(f"{asked.archive} did not answer earlier in this run ({self.down[asked.archive]})")
                continue
            return self._request(job, asked)
        assert job.lookup.outcome is not None
        return MementoItem(job.task, job.lookup.outcome, job.started, job.hops)

    def _request(self, job: _Job, asked: Request) -> scrapy.Request:
        meta: dict[str, Any] = {
            LOOKUP_META_KEY: job,
            _ASKED_META_KEY: asked,
            "dont_redirect": True,
            "handle_httpstatus_all": True,
            # An archive is asked as nobody in particular: no cookies kept or sent.
            "dont_merge_cookies": True,
            EXPECTED_STATUSES_META_KEY: _EXPECTED,
        }
        return scrapy.Request(
            asked.url, headers=asked.headers, dont_filter=True, priority=LOOKUP_PRIORITY, meta=meta,
            callback=self.answered, errback=self.failed,
        )

    def answered(self, response: Response) -> Any:
        job: _Job = response.meta[LOOKUP_META_KEY]
        hops: list[Hop] = response.meta.get(HOPS_META_KEY, [])
        job.hops.extend(hops)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items()
            for value in values
        ]
        job.lookup.feed(response.status, headers, response.body)
        found = job.lookup.outcome
        if isinstance(found, Found):
            last = hops[-1] if hops else None
            encoding = response.headers.get(b"Content-Encoding")
            page = meaning(
                response.body, last.content_type if last else None,
                encoding.decode("latin-1") if encoding else None, found.memento_datetime,
            )
            fired = judge(found, page, last.content_type if last else None, self._archive(found.archive))
            reason = rejection(fired)
            if reason is not None:
                job.lookup.reject(reason)
            else:
                yield MementoItem(job.task, found, job.started, job.hops, last, response.body, page, fired)
                return
        yield self.next(job)

    def failed(self, failure: Failure) -> Any:
        request = failure.request  # type: ignore[attr-defined]
        job: _Job = request.meta[LOOKUP_META_KEY]
        asked: Request = request.meta[_ASKED_META_KEY]
        job.hops.extend(request.meta.get(HOPS_META_KEY, []))
        exc = failure.value
        reason = f"{classify(exc) if exc is not None else 'error'}: {type(exc).__name__}: {exc}"[:300]
        if asked.kind != "cdx":
            self.down.setdefault(asked.archive, reason)
        job.lookup.fail(reason)
        yield self.next(job)

    def _archive(self, base: str) -> Archive:
        for archive in self.archives:
            if archive.base == base:
                return archive
        return Archive(base)


def judge(found: Found, page: Meaning, content_type: str | None, archive: Archive) -> list[str]:
    """The soft-404 signals of a memento that need no probe, read as the archived site's
    own answers: its archived redirects in the site's URLs, then the page."""
    chain: list[tuple[str, int]] = []
    for url in found.redirects:
        parsed = archive.parse(url)
        chain.append((parsed.url if parsed else url, 301))
    chain.append((found.original_url, found.status))
    return signals(found.url, chain, content_type, None, page, None, found.memento_datetime)


def rejection(fired: list[str]) -> str | None:
    """Why a memento whose signals are ``fired`` is not the cited page (for
    :meth:`Lookup.reject` and its skipped list), or None when it is usable."""
    bad = sorted(UNUSABLE.intersection(fired))
    return f"archived page not found ({', '.join(bad)})" if bad else None
