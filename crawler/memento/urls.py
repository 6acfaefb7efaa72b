"""A Wayback-style collection and the URLs it answers.

The Wayback Machine (``https://web.archive.org/web/``) and pywb collections
(``http://HOST:PORT/COLLECTION/``) share one URL scheme under a collection base:

- TimeGate ``<base><URL>``: negotiates a memento with ``Accept-Datetime``;
- TimeMap ``<base>timemap/link/<URL>``: every memento, as ``application/link-format``;
- memento ``<base><14-digit timestamp><modifier>/<URL>``; the modifier ``id_`` gives the
  archived answer as it was served (status, headers, bytes), without banner or rewriting.

The URL is appended as is, not percent-encoded: both archives read everything after the
timestamp as the archived URL, query string included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, urlsplit

from crawler.exceptions import MementoError

RAW = "id_"
#: ``<14 digits><modifier>/<URL>`` after a collection base; the Wayback Machine also takes
#: shorter timestamps (``2017/``) and modifiers such as ``im_``, ``js_``, ``mp_``.
ARCHIVED_PATH = re.compile(r"(?P<timestamp>\d{4,14})(?P<modifier>[a-z]{2}_)?/(?P<url>.+)", re.DOTALL)


def format_timestamp(when: datetime) -> str:
    """The 14-digit archive timestamp (UTC) of ``when``."""
    return _utc(when).strftime("%Y%m%d%H%M%S")


def parse_timestamp(text: str) -> datetime | None:
    """A 4- to 14-digit archive timestamp as a UTC datetime; a short one means the start of
    its year, month, day...; None when it is not one."""
    if not re.fullmatch(r"\d{4,14}", text):
        return None
    padded = text + "0101000000"[len(text) - 4:] if len(text) < 14 else text
    try:
        return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def accept_datetime(when: datetime) -> str:
    """The ``Accept-Datetime`` value for ``when``: an RFC 1123 date in GMT (RFC 7089 2.1.1)."""
    return format_datetime(_utc(when), usegmt=True)


def _utc(when: datetime) -> datetime:
    # A naive datetime is taken as UTC, as every time the database holds is.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class ArchivedUrl:
    """An archive URL taken apart: ``timestamp``/``modifier`` are empty for a TimeGate URL."""

    timestamp: str
    modifier: str
    url: str

    @property
    def datetime(self) -> datetime | None:
        return parse_timestamp(self.timestamp) if self.timestamp else None


@dataclass(frozen=True)
class Archive:
    """A Wayback-style collection, named by its base URL (ending in ``/``).

    ``cdx`` is the collection's CDX endpoint, when it is to be asked for archived statuses
    before any memento is fetched (``<base>cdx`` on pywb, ``https://web.archive.org/cdx/search/cdx``
    on the Wayback Machine); None asks only the TimeMap, which carries no statuses.
    """

    base: str
    cdx: str | None = None
    _split: tuple[str, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = self.base.strip()
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise MementoError(
                f"web archive {self.base!r} is not a collection base URL: give one like "
                "https://web.archive.org/web/ (http or https, no query)"
            )
        if not base.endswith("/"):
            base += "/"
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "_split", (parts.scheme, parts.netloc.lower(), urlsplit(base).path))

    @classmethod
    def pywb(cls, base: str) -> Archive:
        """A pywb collection, with its CDX endpoint (``<base>cdx``)."""
        plain = cls(base)
        return cls(plain.base, cdx=plain.base + "cdx")

    def timegate(self, url: str) -> str:
        return self.base + url

    def timemap(self, url: str) -> str:
        return self.base + "timemap/link/" + url

    def memento(self, timestamp: str, url: str, modifier: str = RAW) -> str:
        """The memento of ``url`` at (or, as the archive decides, nearest) ``timestamp``;
        raw (``id_``) unless told otherwise."""
        return f"{self.base}{timestamp}{modifier}/{url}"

    def cdx_query(self, url: str) -> str | None:
        """The CDX query listing ``url``'s captures with their statuses, or None without ``cdx``."""
        if self.cdx is None:
            return None
        return f"{self.cdx}?url={quote(url, safe=':/')}&output=json"

    def contains(self, url: str) -> bool:
        """Whether ``url`` is under this collection (any scheme: archives move to https)."""
        parts = urlsplit(url)
        return parts.netloc.lower() == self._split[1] and parts.path.startswith(self._split[2])

    def parse(self, url: str) -> ArchivedUrl | None:
        """``url`` taken apart when it is a memento or TimeGate URL of this collection."""
        if not self.contains(url):
            return None
        parts = urlsplit(url)
        rest = url[len(parts.scheme) + 3 + len(parts.netloc) + len(self._split[2]):]
        match = ARCHIVED_PATH.fullmatch(rest)
        if match is not None:
            return ArchivedUrl(match["timestamp"], match["modifier"] or "", _unfold(match["url"]))
        if rest.startswith(("http://", "https://", "http:/", "https:/")):
            return ArchivedUrl("", "", _unfold(rest))
        return None

    def raw(self, url: str) -> str | None:
        """The ``id_`` form of an archive URL of this collection (a memento in any mode)."""
        parsed = self.parse(url)
        if parsed is None or not parsed.timestamp:
            return None
        return self.memento(parsed.timestamp, parsed.url)


def _unfold(url: str) -> str:
    # Some servers and proxies squash the "//" of an embedded URL into "/".
    return re.sub(r"^(https?:)/(?!/)", r"\1//", url)
