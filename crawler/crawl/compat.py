"""Every private Scrapy (and scrapy-redis) name evidence relies on, behind one door.

Scrapy ships a minor release every couple of months, and the internals below changed in
several recent ones. A silent break does not fail a crawl: it shows up as lost throughput
(a downloader override no longer called) or as a Public Suffix List download (a module
attribute no longer read). So the rest of ``crawler/`` names none of them: it calls the
accessors here, and a subclass that must override a private method registers its method
with :meth:`PrivateMethod.override`, which checks the name still exists at import.

:data:`PRIVATE_NAMES` lists each name with the shape it had in the versions checked, and
what it is for; ``tests/test_scrapy_compat.py`` checks every entry against the installed
Scrapy (each name exists, each callable keeps its parameters), checks that the settings
that replace Scrapy's ``*_BASE`` ones differ from Scrapy's only as :data:`EXTENSIONS_REMOVED`
says, and walks the tree so that a private name used outside this module fails the suite.
Why each patch is kept, with its measured gain, and the upstream changes that would let it
go: docs/upstream.md.

Checked against Scrapy 2.19.0 and scrapy-redis 0.9.1 (the versions pinned by the venv).
When upgrading: run ``python -m pytest tests/test_scrapy_compat.py``, read the diff of each
failing name's Scrapy source, adjust the accessor or override, then the checked versions.
"""

from __future__ import annotations

import importlib
import inspect
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from scrapy.core.downloader import Downloader
from scrapy.extensions.throttle import AutoThrottle

# Private module: the helpers Scrapy's own HTTP handlers share, used by the raw HTTP
# handler so that its responses, size warnings and bytes_received/headers_received stops
# behave exactly as Scrapy's handlers do (Scrapy's handler test suite runs against it).
# Checked: 2.19.0 (the module appeared in 2.14, as the handlers moved to asyncio).
from scrapy.utils._download_handlers import (
    check_stop_download as check_stop_download,
)
from scrapy.utils._download_handlers import (
    get_dataloss_msg as get_dataloss_msg,
)
from scrapy.utils._download_handlers import (
    get_maxsize_msg as get_maxsize_msg,
)
from scrapy.utils._download_handlers import (
    get_warnsize_msg as get_warnsize_msg,
)
from scrapy.utils._download_handlers import (
    make_response as make_response,
)
from scrapy.utils._download_handlers import (
    normalize_bind_address as normalize_bind_address,
)

# Private functions: the TLS context Scrapy's handlers build from DOWNLOADER_CLIENT_TLS_*
# settings (ciphers, method, SSLKEYLOGFILE), the unverified one for a proxy's CONNECT,
# and the DOWNLOADER_CLIENT_TLS_VERBOSE_LOGGING line. Checked: 2.19.0.
from scrapy.utils.ssl import _log_sslobj_debug_info as log_sslobj_debug_info
from scrapy.utils.ssl import _make_insecure_ssl_ctx as make_insecure_ssl_context
from scrapy.utils.ssl import _make_ssl_context as make_ssl_context

from crawler.exceptions import ScrapyIncompatible

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request, Spider
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler

__all__ = [
    "EXTENSIONS_REMOVED",
    "PRIVATE_NAMES",
    "PrivateMethod",
    "PrivateName",
    "cancel_slot_timer",
    "check_stop_download",
    "download_through_middlewares",
    "downloader_active",
    "downloader_concurrency",
    "engine_downloader",
    "get_dataloss_msg",
    "get_maxsize_msg",
    "get_warnsize_msg",
    "log_sslobj_debug_info",
    "make_insecure_ssl_context",
    "make_response",
    "make_ssl_context",
    "normalize_bind_address",
    "offline_public_suffixes",
    "process_queue",
    "set_slot_delay",
    "set_slot_queue",
    "slot_delay",
    "slot_queue",
    "throttle_min_delay",
    "throttle_slot",
]

SCRAPY_CHECKED = ("2.19.0",)
SCRAPY_REDIS_CHECKED = ("0.9.1",)

Kind = Literal["function", "method", "override", "attribute", "field"]


@dataclass(frozen=True)
class PrivateName:
    """One private name: where it lives, how evidence uses it, and its expected shape.

    ``signature`` is the parameter list without annotations (``(self, request)``), as
    ``inspect.signature`` gives it for the versions checked; None for a non-callable.
    """

    module: str
    qualname: str
    kind: Kind
    signature: str | None
    why: str

    @property
    def name(self) -> str:
        return self.qualname.rpartition(".")[2]

    def resolve(self) -> Any:
        """The object today's Scrapy holds under this name; ScrapyIncompatible if gone."""
        try:
            found: Any = importlib.import_module(self.module)
        except ImportError as exc:
            raise ScrapyIncompatible(f"{self.module} is gone (needed for {self.qualname}): {self.why}") from exc
        for part in self.qualname.split("."):
            if self.kind == "field" and found is not None and inspect.isclass(found):
                # an instance attribute: set in __init__ or a dataclass field, not on the class
                if not _declares(found, part):
                    raise ScrapyIncompatible(f"{self.module}.{self.qualname} is gone: {self.why}")
                return None
            try:
                found = getattr(found, part)
            except AttributeError as exc:
                raise ScrapyIncompatible(f"{self.module}.{self.qualname} is gone: {self.why}") from exc
        return found


@dataclass(frozen=True)
class PrivateMethod(PrivateName):
    """A private method that an evidence subclass overrides (``kind="override"``)."""

    def override(self, cls: type, method: Callable[..., Any]) -> None:
        """Install ``method`` on ``cls`` under the private name, after checking that the
        Scrapy class still has it with the expected parameters: overriding a renamed
        method would leave the override silently unused."""
        owner = self.resolve_owner()
        if not issubclass(cls, owner):
            raise TypeError(f"{cls.__name__} is no subclass of {owner.__name__}")
        self.resolve()
        mine = plain_signature(method)
        if mine != self.signature:
            raise TypeError(f"{cls.__name__}.{method.__name__}{mine} cannot override {self.qualname}{self.signature}")
        setattr(cls, self.name, method)
        OVERRIDES.append((cls, self))

    def resolve_owner(self) -> type:
        owner = PrivateName(self.module, self.qualname.rpartition(".")[0], "attribute", None, self.why).resolve()
        if not inspect.isclass(owner):
            raise ScrapyIncompatible(f"{self.module}.{self.qualname}: its owner is no class")
        return owner

    def call_super(self, cls: type, instance: Any, *args: Any) -> Any:
        """Scrapy's own implementation, as ``super()`` inside ``cls`` would find it."""
        return getattr(super(cls, instance), self.name)(*args)


def plain_signature(function: Callable[..., Any]) -> str:
    """The parameter list without annotations: annotations churn between releases (string
    forms, new generics) without a caller noticing; names, kinds and defaults do not."""
    signature = inspect.signature(function)
    parameters = [parameter.replace(annotation=inspect.Parameter.empty) for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))


def _declares(cls: type, attribute: str) -> bool:
    """Whether instances of ``cls`` get ``attribute``: a dataclass field, a slot, or an
    assignment ``self.attribute =`` in one of its methods' source."""
    for klass in cls.__mro__:
        if attribute in getattr(klass, "__dataclass_fields__", {}) or attribute in getattr(klass, "__slots__", ()):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if f"self.{attribute} =" in source or f"self.{attribute}: " in source:
            return True
    return False


#: Scrapy's own extensions that crawler/settings.py's EXTENSIONS_BASE leaves out. Scrapy's
#: docs say EXTENSIONS_BASE is not meant to be overridden; it is, because Scrapy imports
#: every extension named there even when EXTENSIONS sets it to None (the remote control
#: alone imports aiohttp's web server: a one-URL crawl went from 110 to 99 MB, a3e76c7).
#: Everything else must equal Scrapy's list, which tests/test_scrapy_compat.py checks.
EXTENSIONS_REMOVED = {
    "scrapy.extensions.telnet.TelnetConsole": "no way into a running crawl from outside",
    "scrapy.extensions.memdebug.MemoryDebugger": "not a debugging tool",
    "scrapy.extensions.feedexport.FeedExporter": "items go to the database, not to feeds",
    "scrapy.extensions.spiderstate.SpiderState": "runs resume from the database, not JOBDIR",
    "scrapy.extensions.throttle.AutoThrottle": "replaced by crawler.crawl.throttle (in EXTENSIONS)",
    "scrapy.extensions.remote_control.RemoteControl": "no way into a running crawl; imports aiohttp",
}

_DL = "scrapy.core.downloader"
_AT = "scrapy.extensions.throttle"

# Each entry: what it is, and why evidence needs it. All checked against 2.19.0 (and the
# scrapy-redis ones against 0.9.1).
DOWNLOADER_GET_SLOT = PrivateMethod(
    _DL, "Downloader._get_slot", "override", "(self, request, spider=None)",
    "the one place Scrapy creates a host's slot: the transfer-bound downloader swaps the new "
    "slot's queue for one that counts requests waiting out their host's delay",
)
DOWNLOADER_ENQUEUE_REQUEST = PrivateName(
    _DL, "Downloader._enqueue_request", "method", "(self, request)",
    "the download function the downloader middlewares call; the downloader's fetch passes it as Scrapy's does",
)
DOWNLOADER_PROCESS_QUEUE = PrivateName(
    _DL, "Downloader._process_queue", "method", "(self, slot)",
    "re-plans a slot's next request once its delay timer is cancelled (a shortened delay)",
)
THROTTLE_RESPONSE_DOWNLOADED = PrivateMethod(
    _AT, "AutoThrottle._response_downloaded", "override", "(self, response, request, spider)",
    "AutoThrottle's response_downloaded handler (connected by bound name in __init__): a host's "
    "first healthy answer replaces the start delay, and a shortened delay re-plans the queue",
)
THROTTLE_ADJUST_DELAY = PrivateMethod(
    _AT, "AutoThrottle._adjust_delay", "override", "(self, slot, latency, response)",
    "AutoThrottle's delay policy, which lowers a delay on status 200 only: 304s and expected "
    "statuses are passed to it as 200",
)
THROTTLE_GET_SLOT = PrivateName(
    _AT, "AutoThrottle._get_slot", "method", "(self, request, spider)",
    "the download slot of a response's request, as AutoThrottle finds it",
)
REDIRECT_ENGINE_STARTED = PrivateMethod(
    "scrapy.downloadermiddlewares.redirect", "BaseRedirectMiddleware._engine_started", "override", "(self)",
    "looks up the Referer spider middleware and warns when it is off; evidence switches it off",
)
COOKIES_SPLIT_DOMAIN = PrivateName(
    "scrapy.downloadermiddlewares.cookies", "_split_domain", "attribute", None,
    "the module-level TLDExtract() that downloads the Public Suffix List on first use; replaced "
    "by one reading tldextract's bundled snapshot",
)
# scrapy-redis 0.9.1: the queue's (de)serialisation hooks; the leased queue stores bare
# URLs instead of pickled requests.
QUEUE_ENCODE_REQUEST = PrivateMethod(
    "scrapy_redis.queue", "Base._encode_request", "override", "(self, request)",
    "a queue entry from a request: the cited URL itself",
)
QUEUE_DECODE_REQUEST = PrivateMethod(
    "scrapy_redis.queue", "Base._decode_request", "override", "(self, encoded_request)",
    "a request from a queue entry, built by the spider",
)
PRIVATE_NAMES: tuple[PrivateName, ...] = (
    DOWNLOADER_GET_SLOT,
    DOWNLOADER_ENQUEUE_REQUEST,
    DOWNLOADER_PROCESS_QUEUE,
    # Undocumented instance state of the downloader and its slots (public-looking names,
    # no API promise: Slot became a slotted dataclass in 2.13, fetch a coroutine in 2.14).
    PrivateName(_DL, "Downloader.active", "field", None, "requests in the downloader; counted in flight by fetch"),
    PrivateName(_DL, "Downloader.total_concurrency", "field", None, "CONCURRENT_REQUESTS as the downloader reads it"),
    PrivateName(_DL, "Downloader.middleware", "field", None, "the downloader middleware chain fetch runs a request through"),
    PrivateName(_DL, "Downloader.slots", "field", None, "each host's slot, as AutoThrottle reads them"),
    PrivateName(_DL, "Slot.queue", "field", None, "a host's waiting requests; Scrapy only appends and pops left"),
    PrivateName(_DL, "Slot.latercall", "field", None, "the timer holding a host's queue for its delay"),
    PrivateName(_DL, "Slot.delay", "field", None, "a host's delay, as AutoThrottle sets it"),
    PrivateName(_DL, "Slot.transferring", "field", None, "a host's requests being downloaded"),
    PrivateName("scrapy.core.engine", "ExecutionEngine.downloader", "field", None, "the crawl's downloader"),
    THROTTLE_RESPONSE_DOWNLOADED,
    THROTTLE_ADJUST_DELAY,
    THROTTLE_GET_SLOT,
    PrivateName(_AT, "AutoThrottle.mindelay", "field", None, "the least delay, set when the spider opens"),
    REDIRECT_ENGINE_STARTED,
    COOKIES_SPLIT_DOMAIN,
    PrivateName(
        "scrapy.statscollectors", "StatsCollector.__getattribute__", "method", "(self, name)",
        "the per-access shim that wraps stats methods to warn about a spider argument: "
        "1.4 µs an inc_value instead of 0.08 µs (21e0428); EvidenceStatsCollector drops it, "
        "and its going upstream is the cue to drop crawler/crawl/stats.py",
    ),
    PrivateName("scrapy.utils._download_handlers", "check_stop_download", "function",
                "(signal, crawler, request, **kwargs)", "bytes_received/headers_received StopDownload"),
    PrivateName("scrapy.utils._download_handlers", "make_response", "function",
                "(url, status, headers, body=b'', flags=None, certificate=None, ip_address=None, protocol=None, "
                "stop_download=None)", "a Response of the class Scrapy would pick for it"),
    PrivateName("scrapy.utils._download_handlers", "get_maxsize_msg", "function",
                "(size, limit, request, *, expected)", "DOWNLOAD_MAXSIZE's message"),
    PrivateName("scrapy.utils._download_handlers", "get_warnsize_msg", "function",
                "(size, limit, request, *, expected)", "DOWNLOAD_WARNSIZE's message"),
    PrivateName("scrapy.utils._download_handlers", "get_dataloss_msg", "function", "(url)",
                "DOWNLOAD_FAIL_ON_DATALOSS's message"),
    PrivateName("scrapy.utils._download_handlers", "normalize_bind_address", "function", "(value)",
                "DOWNLOAD_BIND_ADDRESS and bindaddress meta in their accepted forms"),
    PrivateName("scrapy.utils.ssl", "_make_ssl_context", "function", "(settings)",
                "the TLS context from DOWNLOADER_CLIENT_TLS_* settings"),
    PrivateName("scrapy.utils.ssl", "_make_insecure_ssl_ctx", "function", "()",
                "the unverified context for TLS to an https proxy"),
    PrivateName("scrapy.utils.ssl", "_log_sslobj_debug_info", "function", "(sslobj)",
                "DOWNLOADER_CLIENT_TLS_VERBOSE_LOGGING's line"),
    QUEUE_ENCODE_REQUEST,
    QUEUE_DECODE_REQUEST,
)

#: (subclass, private method) for each override installed at import.
OVERRIDES: list[tuple[type, PrivateMethod]] = []


# --- Accessors: the rest of crawler/ reaches Scrapy's internals only through these ---


def download_through_middlewares(downloader: Downloader, request: Request) -> Any:
    """The coroutine Scrapy's ``Downloader.fetch`` awaits: the request through the
    downloader middlewares, then into its host's queue."""
    return downloader.middleware.download_async(downloader._enqueue_request, request)


def process_queue(downloader: Downloader, slot: Slot) -> None:
    downloader._process_queue(slot)


def downloader_active(downloader: Downloader) -> set[Request]:
    """The requests in the downloader, from fetch to the end of their download."""
    return downloader.active


def downloader_concurrency(downloader: Downloader) -> int:
    return downloader.total_concurrency


def engine_downloader(crawler: Crawler) -> Downloader | None:
    engine = crawler.engine
    return None if engine is None else engine.downloader


def slot_queue(slot: Slot) -> deque[Any]:
    return slot.queue


def set_slot_queue(slot: Slot, queue: deque[Any]) -> None:
    slot.queue = queue


def slot_delay(slot: Slot) -> float:
    return slot.delay


def set_slot_delay(slot: Slot, delay: float) -> None:
    slot.delay = delay


def cancel_slot_timer(slot: Slot) -> bool:
    """Cancel the timer holding a host's queue for its delay; whether there was one."""
    if slot.latercall is None:
        return False
    slot.latercall.cancel()
    slot.latercall = None
    return True


def throttle_slot(throttle: AutoThrottle, request: Request, spider: Spider) -> tuple[str | None, Slot | None]:
    return throttle._get_slot(request, spider)


def throttle_min_delay(throttle: AutoThrottle) -> float:
    return throttle.mindelay


def offline_public_suffixes() -> None:
    """Keep Scrapy's cookie middleware from downloading the Public Suffix List.

    Its module-level ``TLDExtract()`` fetches the list from the Internet on first use:
    a request to a third party that no cited page asked for. tldextract's bundled
    snapshot is used instead.
    """
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    COOKIES_SPLIT_DOMAIN.resolve()
    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)
