"""One cited URL's lookup in an ordered list of web archives, as a state machine without I/O.

The caller sends each request that :meth:`Lookup.next_request` names, by whatever means
it fetches the web (the crawl sends them as Scrapy requests, so that its address guard,
politeness, User-Agent and WARC recorder apply), and hands the answer to
:meth:`Lookup.feed`, or a transport failure to :meth:`Lookup.fail`, until
:attr:`Lookup.outcome` is set. Redirects are the lookup's to follow: the caller must not
follow them itself, since an archived redirect is part of what is being looked up.

Per archive, in order: its TimeMap (every page of it) -> optionally its CDX index, for
archived statuses -> the raw (``id_``) memento of the best candidate
(:func:`crawler.memento.choose.candidates`) -> an archived redirect is followed inside the
archive, a few hops at most -> an archived answer that is not 200 means the next
candidate. The first archive that gives a 200 memento ends the lookup (:class:`Found`);
one that has nothing near enough passes to the next archive; one that is down (no answer,
5xx, 429, a TimeMap that is not one) also passes to the next, and the lookup ends
:class:`Unreachable` rather than :class:`NoMemento` unless another archive found it, so
that the caller asks again next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

from crawler.memento.cdx import parse_cdx
from crawler.memento.choose import DEFAULT_WINDOW_DAYS, Candidate, candidates
from crawler.memento.linkformat import Memento, parse_memento_datetime, parse_timemap
from crawler.memento.urls import Archive, format_timestamp

#: Mementos fetched per archive before it counts as having none near enough: each archived
#: error costs one request, and a URL captured as a 404 a thousand times is no evidence.
MAX_MEMENTOS = 5
#: Redirects followed inside an archive from one memento (archived and the archive's own).
MAX_HOPS = 5
#: Pages of one paged TimeMap read (the Wayback Machine pages very large ones).
MAX_PAGES = 20

Kind = Literal["timemap", "cdx", "memento"]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class Request:
    """The next request to send: GET ``url`` with ``headers``, redirects not followed."""

    url: str
    headers: dict[str, str]
    kind: Kind
    archive: str


@dataclass(frozen=True)
class Skipped:
    """A memento passed over: its archived (or the archive's) status and why."""

    archive: str
    url: str
    datetime: datetime | None
    status: int
    reason: str


@dataclass(frozen=True)
class Found:
    """A 200 memento standing for the cited date."""

    url: str
    archive: str
    #: The raw (``id_``) URL of the memento whose bytes are the evidence (after redirects).
    memento_url: str
    memento_datetime: datetime
    #: The URL that memento archives: the cited URL, or where its archived redirects led.
    original_url: str
    #: The final archived status (200).
    status: int
    #: The chosen memento's UTC date minus the cited date, in days (> 0: archived after).
    offset_days: int
    #: The raw URLs of the archived redirects followed to get there, in order.
    redirects: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    kind: Literal["found"] = "found"


@dataclass(frozen=True)
class NoMemento:
    """Every archive answered, and none holds a 200 memento near enough to the cited date."""

    url: str
    archives: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()
    kind: Literal["none"] = "none"


@dataclass(frozen=True)
class Unreachable:
    """No archive that answered holds one, and these could not be asked: try again later."""

    url: str
    archives: tuple[str, ...]
    reasons: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()
    kind: Literal["unreachable"] = "unreachable"


Outcome = Found | NoMemento | Unreachable


@dataclass
class _State:
    """Where the lookup stands in the current archive."""

    archive: Archive
    pages: list[str] = field(default_factory=list)
    seen_pages: set[str] = field(default_factory=set)
    mementos: list[Memento] = field(default_factory=list)
    ranked: list[Candidate] = field(default_factory=list)
    tries: int = 0
    candidate: Candidate | None = None
    hops: int = 0
    visited: set[str] = field(default_factory=set)
    redirects: list[str] = field(default_factory=list)


class Lookup:
    """The lookup of ``url`` as cited on ``cited_at`` in ``archives`` (base URLs or
    :class:`Archive`), in order. With no archives the outcome is at once :class:`NoMemento`."""

    def __init__(
        self,
        url: str,
        cited_at: date,
        archives: Sequence[str | Archive],
        *,
        window: int = DEFAULT_WINDOW_DAYS,
        max_mementos: int = MAX_MEMENTOS,
        max_hops: int = MAX_HOPS,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.url = url
        self.cited_at = cited_at
        self.archives = [a if isinstance(a, Archive) else Archive(a) for a in archives]
        self.window = window
        self.max_mementos = max_mementos
        self.max_hops = max_hops
        self.max_pages = max_pages
        self.outcome: Outcome | None = None
        self._index = -1
        self._state: _State | None = None
        self._pending: Request | None = None
        self._skipped: list[Skipped] = []
        self._down: list[tuple[str, str]] = []
        self._next_archive()

    # --- the caller's side -------------------------------------------------------------

    def next_request(self) -> Request | None:
        """The request to send now (the same one until it is answered); None once decided."""
        return self._pending

    def feed(self, status: int, headers: Headers, body: bytes) -> None:
        """The answer to :meth:`next_request`: its status, headers (as received, any case) and body."""
        request = self._take()
        lowered = _lower(headers)
        if request.kind == "timemap":
            self._on_timemap(request, status, body)
        elif request.kind == "cdx":
            self._on_cdx(status, body)
        else:
            self._on_memento(request, status, lowered)

    def reject(self, reason: str) -> None:
        """The :class:`Found` memento is not usable after all (the caller read its bytes: an
        archived "page not found" served with 200): it is skipped like an archived error and
        the lookup goes on with the next candidate."""
        found = self.outcome
        if not isinstance(found, Found) or self._state is None:
            raise RuntimeError("Lookup.reject called with no memento found")
        self.outcome = None
        self._skip(found.memento_url, found.memento_datetime, found.status, reason)
        self._next_candidate()

    def fail(self, reason: str) -> None:
        """The request named by :meth:`next_request` got no answer (refused, timed out, ...)."""
        request = self._take()
        if request.kind == "cdx":
            # The CDX index only saves requests: the mementos are fetched to judge them.
            self._rank({})
        else:
            self._archive_down(reason)

    # --- per archive ---------------------------------------------------------------------

    def _take(self) -> Request:
        if self._pending is None:
            raise RuntimeError("Lookup.feed/fail called with no request pending")
        request, self._pending = self._pending, None
        return request

    def _ask(self, kind: Kind, url: str, headers: dict[str, str] | None = None) -> None:
        assert self._state is not None
        self._pending = Request(url, headers or {}, kind, self._state.archive.base)

    def _next_archive(self) -> None:
        self._index += 1
        if self._index >= len(self.archives):
            self._state = None
            urls = tuple(a.base for a in self.archives)
            if self._down:
                self.outcome = Unreachable(
                    self.url, tuple(base for base, _ in self._down), tuple(r for _, r in self._down), tuple(self._skipped)
                )
            else:
                self.outcome = NoMemento(self.url, urls, tuple(self._skipped))
            return
        archive = self.archives[self._index]
        self._state = _State(archive)
        first = archive.timemap(self.url)
        self._state.seen_pages.add(first)
        self._ask("timemap", first, {"Accept": "application/link-format"})

    def _archive_down(self, reason: str) -> None:
        assert self._state is not None
        self._down.append((self._state.archive.base, reason))
        self._next_archive()

    def _on_timemap(self, request: Request, status: int, body: bytes) -> None:
        state = self._state
        assert state is not None
        if status == 200:
            timemap = parse_timemap(body)
            if not (timemap.mementos or timemap.original or timemap.self_url) and body.strip():
                self._archive_down(f"TimeMap {request.url} is not application/link-format")
                return
            state.mementos.extend(timemap.mementos)
            for page in timemap.pages:
                if page not in state.seen_pages and len(state.seen_pages) < self.max_pages:
                    state.seen_pages.add(page)
                    state.pages.append(page)
        elif status == 0 or status >= 500 or status == 429:
            self._archive_down(f"TimeMap {request.url} answered {status}")
            return
        # Any other answer (pywb's 404, the Wayback Machine's 403 for an excluded site):
        # this page lists no memento.
        if state.pages:
            self._ask("timemap", state.pages.pop(0), {"Accept": "application/link-format"})
            return
        if not candidates(state.mementos, self.cited_at, window=self.window):
            self._next_archive()
        elif (query := state.archive.cdx_query(self.url)) is not None:
            self._ask("cdx", query, {"Accept": "application/json"})
        else:
            self._rank({})

    def _on_cdx(self, status: int, body: bytes) -> None:
        self._rank(parse_cdx(body) if status == 200 else {})

    def _rank(self, statuses: Mapping[str, int | None]) -> None:
        state = self._state
        assert state is not None
        ranked = candidates(state.mementos, self.cited_at, window=self.window)
        for candidate in ranked:
            status = statuses.get(format_timestamp(candidate.memento.datetime))
            if status is not None and not 200 <= status < 400:
                self._skip(candidate.memento.url, candidate.memento.datetime, status, "archived status (CDX)")
            else:
                state.ranked.append(Candidate(candidate.memento, candidate.offset_days, status))
        self._next_candidate()

    def _next_candidate(self) -> None:
        state = self._state
        assert state is not None
        if not state.ranked or state.tries >= self.max_mementos:
            self._next_archive()
            return
        candidate = state.ranked.pop(0)
        state.tries += 1
        state.candidate, state.hops, state.visited, state.redirects = candidate, 0, set(), []
        archive = state.archive
        url = archive.raw(candidate.memento.url) or archive.memento(format_timestamp(candidate.memento.datetime), self.url)
        state.visited.add(url)
        self._ask("memento", url)

    def _skip(self, url: str, when: datetime | None, status: int, reason: str) -> None:
        assert self._state is not None
        self._skipped.append(Skipped(self._state.archive.base, url, when, status, reason))

    def _on_memento(self, request: Request, status: int, headers: dict[str, str]) -> None:
        state = self._state
        assert state is not None and state.candidate is not None
        archive = state.archive
        archived_at = parse_memento_datetime(headers.get("memento-datetime", ""))
        parsed = archive.parse(request.url)
        when = archived_at or (parsed.datetime if parsed else None)
        if archived_at is None and (status == 0 or status >= 500 or status == 429):
            self._archive_down(f"memento {request.url} answered {status}")
            return
        if 300 <= status < 400:
            target = redirect_target(archive, request.url, headers.get("location", ""), archived_at)
            if target is None:
                self._skip(request.url, when, status, "redirect that leaves the archive")
            elif state.hops >= self.max_hops or target in state.visited:
                self._skip(request.url, when, status, "too many redirects")
            else:
                state.hops += 1
                state.visited.add(target)
                if archived_at is not None:
                    state.redirects.append(request.url)
                self._ask("memento", target)
                return
            self._next_candidate()
            return
        if status == 200:
            final = request.url
            located = headers.get("content-location", "")
            # pywb serves the nearest memento under the URL asked for and names it here.
            if located and (raw := archive.raw(urljoin(request.url, located))) is not None:
                final = raw
            final_parsed = archive.parse(final)
            self.outcome = Found(
                url=self.url,
                archive=archive.base,
                memento_url=final,
                memento_datetime=when or state.candidate.memento.datetime,
                original_url=final_parsed.url if final_parsed else self.url,
                status=status,
                offset_days=state.candidate.offset_days,
                redirects=tuple(state.redirects),
                skipped=tuple(self._skipped),
            )
            # The state is kept for reject(): the caller may still refuse the memento.
            return
        reason = "archived status" if archived_at is not None else "archive refused the memento"
        self._skip(request.url, when, status, reason)
        self._next_candidate()

def redirect_target(archive: Archive, url: str, location: str, archived_at: datetime | None) -> str | None:
    """The raw archive URL a redirect from memento ``url`` leads to, or None when it
    leaves the archive.

    With ``id_`` an archive returns the Location as archived (``/new``, or the site's
    absolute URL): it is resolved against the archived URL and put back into the archive
    at the redirect's own time (the archive serves the capture nearest it). A Location
    already in the archive (pywb in other modes, the Wayback Machine's own redirects to a
    capture's exact time) is kept, in its ``id_`` form.
    """
    location = location.strip()
    if not location:
        return None
    in_archive = archive.raw(urljoin(url, location))
    if in_archive is not None:
        return in_archive
    parsed = archive.parse(url)
    if parsed is None:
        return None
    target = urljoin(parsed.url, location)
    if urlsplit(target).scheme not in ("http", "https"):
        return None
    stamp = format_timestamp(archived_at) if archived_at is not None else parsed.timestamp
    return archive.memento(stamp, target)


def _lower(headers: Headers) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), value)
    return out
