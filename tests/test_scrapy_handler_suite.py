"""Scrapy's own download-handler tests, run against the project's handler.

The classes come from Scrapy's sdist (``tests/utils/bases/download_handlers_http.py``,
its mock servers in ``tests/mockserver/``), unpacked for the installed Scrapy by
``python tests/scrapy_suite/fetch.py``; they are subclassed here as Scrapy's own
handlers' test modules subclass them. Scrapy's servers listen on 127.0.0.1; the
handler runs with the project's settings (``crawler/settings.py``), allowed onto
loopback. Names other than ``localhost`` never reach a resolver here (see
``_loopback_only``), so the suite sends nothing off this machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.utils.reactor import is_reactor_installed

from crawler import settings as project_settings
from crawler.crawl.handlers.rawhttp import RawHttpDownloadHandler
from tests.scrapy_suite.fetch import installed_tree

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

TREE = installed_tree()
if TREE is None:
    _missing = "Scrapy's handler tests are not unpacked for this Scrapy: run `python tests/scrapy_suite/fetch.py`"
    if os.environ.get("CI"):
        pytest.fail(_missing, pytrace=False)
    pytest.skip(_missing, allow_module_level=True)
if is_reactor_installed():
    # Scrapy's coroutine_test turns each test into a Deferred when a reactor is
    # installed, which only pytest-twisted runs; the project's tests never install one.
    pytest.skip("a Twisted reactor is installed in this process", allow_module_level=True)

_real_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    """getaddrinfo for IP literals and localhost only: any other name fails as an unknown
    one would, without a query going out (Scrapy's tests look up names that should not
    exist, and this machine's resolver is not on loopback)."""
    name = host.decode("idna") if isinstance(host, bytes) else host
    if name is not None and name != "localhost":
        try:
            ipaddress.ip_address(name)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolved in these tests (loopback only)") from None
    return _real_getaddrinfo(host, port, *args, **kwargs)


@contextmanager
def _scrapy_tests_imported() -> Iterator[None]:
    """Import Scrapy's test package without its import-time effects on this process:
    its ``__init__`` blanks the proxy variables and probes the resolver."""
    saved = dict(os.environ)
    sys.path.insert(0, str(TREE.parent))  # type: ignore[union-attr]
    socket.getaddrinfo = _loopback_getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = _real_getaddrinfo
        os.environ.clear()
        os.environ.update(saved)


with _scrapy_tests_imported():
    from scrapy_tests.keys import generate_keys
    from scrapy_tests.mockserver.http import MockServer
    from scrapy_tests.mockserver.mitm_proxy import mitmdump_cmd
    from scrapy_tests.utils.bases.download_handlers_http import (
        TestHttpBase,
        TestHttpProxyBase,
        TestHttpsBase,
        TestHttpsCustomCiphersBase,
        TestHttpsDefaultCiphersBase,
        TestHttpsInvalidDNSIdBase,
        TestHttpsInvalidDNSPatternBase,
        TestHttpsTLSVersionBase,
        TestHttpsWrongHostnameBase,
        TestHttpWithCrawlerBase,
        TestMitmProxyBase,
        TestSimpleHttpsBase,
    )

HANDLER_PATH = f"{__name__}.LoopbackRawHttpDownloadHandler"
# Scrapy's proxy tests start their echo server from a session fixture written as a method.
pytestmark = pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning")


class LoopbackRawHttpDownloadHandler(RawHttpDownloadHandler):
    """The project's handler with the project's EVIDENCE_* settings, as in a crawl
    (Scrapy's tests build their crawlers from Scrapy's defaults alone), allowed onto
    loopback, where Scrapy's mock servers are."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings.copy()
        settings.frozen = False  # a copy of the crawler's, which are frozen
        for name in dir(project_settings):
            if name.startswith("EVIDENCE_") and name not in settings:
                settings.set(name, getattr(project_settings, name), priority="default")
        settings.set("EVIDENCE_ALLOW_PRIVATE", True)
        settings.freeze()
        scrapy_settings, crawler.settings = crawler.settings, settings
        try:
            super().__init__(crawler)
        finally:
            crawler.settings = scrapy_settings


@pytest.fixture(scope="module", autouse=True)
def _scrapy_test_environment() -> Iterator[None]:
    """What Scrapy's conftest does for its tests: certificates made fresh (they are
    valid for ten days), and its package importable by the mock servers it starts."""
    generate_keys()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TREE.parent), os.environ.get("PYTHONPATH")])))  # type: ignore[union-attr]
        for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
            patch.delenv(variable, raising=False)
        yield


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_getaddrinfo)


@pytest.fixture(scope="module")
def mockserver(_scrapy_test_environment: None) -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


class RawHttpMixin:
    @property
    def download_handler_cls(self) -> type[RawHttpDownloadHandler]:
        return LoopbackRawHttpDownloadHandler

    @property
    def settings_dict(self) -> dict[str, Any] | None:
        return {"DOWNLOAD_HANDLERS": {"http": HANDLER_PATH, "https": HANDLER_PATH}}


class TestHttp(RawHttpMixin, TestHttpBase):
    pass


class TestHttps(RawHttpMixin, TestHttpsBase):
    # Scrapy's _log_sslobj_debug_info, as its httpx and aiohttp handlers log it; the
    # base's message is the Twisted handler's.
    tls_log_message = "SSL connection to 127.0.0.1 using protocol TLSv1.3, cipher"

    @pytest.mark.skip(reason="DOWNLOADER_CLIENTCONTEXTFACTORY is Twisted's: the handler uses Python's ssl (as httpx and aiohttp do)")
    def test_verify_certs_deprecated(self) -> None:  # type: ignore[override]
        pass


class TestSimpleHttps(RawHttpMixin, TestSimpleHttpsBase):
    pass


class TestHttpsWrongHostname(RawHttpMixin, TestHttpsWrongHostnameBase):
    pass


class TestHttpsInvalidDNSId(RawHttpMixin, TestHttpsInvalidDNSIdBase):
    pass


class TestHttpsInvalidDNSPattern(RawHttpMixin, TestHttpsInvalidDNSPatternBase):
    pass


class TestHttpsCustomCiphers(RawHttpMixin, TestHttpsCustomCiphersBase):
    pass


class TestHttpsDefaultCiphers(RawHttpMixin, TestHttpsDefaultCiphersBase):
    pass


class TestHttpsTLSVersion(RawHttpMixin, TestHttpsTLSVersionBase):
    pass


class TestHttpWithCrawler(RawHttpMixin, TestHttpWithCrawlerBase):
    pass


class TestHttpsWithCrawler(TestHttpWithCrawler):
    is_secure = True


class TestHttpProxy(RawHttpMixin, TestHttpProxyBase):
    pass


class TestHttpsProxy(TestHttpProxy):
    is_secure = True


@pytest.mark.skipif(mitmdump_cmd() is None, reason="mitmdump is not installed (Scrapy expects it outside the test environment)")
class TestMitmProxy(RawHttpMixin, TestMitmProxyBase):
    pass
