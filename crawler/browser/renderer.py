"""Headless Chromium, driven by Playwright: the browser's life and one page's render.

The browser fetches nothing itself. Its main document is the answer evidence already
fetched, and every other request the page makes is handed to a ``Fetcher`` (in a crawl,
``crawler.browser.routing``: the project's HTTP client, so the exchange is archived,
paced and refused by the address guard like any other). Behind that, Chromium is pointed
at a proxy that does not exist, with loopback not exempted: a request that somehow escapes
the routes (a preconnect, a background service) reaches no network at all.

One browser per crawl process, launched on the first render and restarted after
EVIDENCE_BROWSER_PAGES pages, when its processes pass EVIDENCE_BROWSER_MEMORY_MB, or
after it died. Each page gets a context of its own: no cookie or storage of one capture
is seen by the next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from crawler.browser.model import CAPPED, FAILED, RENDERED, Refused, Rendered
from crawler.exceptions import BrowserMissing, SettingError
from crawler.warc.recorder import Hop

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Route, WebSocketRoute
    from scrapy.http import Response as ScrapyResponse

logger = logging.getLogger(__name__)

INSTALL_HINT = "install Debian's package chromium (apt-get install chromium) or set EVIDENCE_BROWSER_PATH"
MODES = ("auto", "always", "never")
# Headers the browser hands over that the project's client sets itself; and the framing of
# a body the browser is handed whole (an Answer drops Content-Encoding when it decoded).
_REQUEST_DROP = frozenset({"host", "content-length", "connection", "accept-encoding", "user-agent", "keep-alive"})
_RESPONSE_DROP = frozenset({"transfer-encoding", "content-length", "connection", "keep-alive"})
# Time kept back from the cap to read the DOM and take the screenshot of a capped page.
_RESERVE = 5.0
# How long a finished render waits for its page's requests still on the wire, so their
# exchanges are counted with the capture rather than only written to the WARC.
_STRAGGLERS = 3.0


@dataclass
class Answer:
    """What the project's client answered to one request of the page."""

    status: int
    headers: list[tuple[str, str]]
    #: decoded (no content coding): the browser is handed it as is
    body: bytes
    hops: list[Hop] = field(default_factory=list)


def answer_of(response: ScrapyResponse, limit: int) -> Answer:
    """A response of the project's client as the browser is handed it: every header kept,
    the content coding undone (a coding evidence cannot undo, or a body that inflates past
    ``limit``, is handed over as received, its coding named for the browser to undo)."""
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, values in response.headers.items() for value in values]
    coding = response.headers.get(b"Content-Encoding")
    return decoded_answer(response.status, headers, response.body, coding.decode("latin-1") if coding else None, limit)


def decoded_answer(status: int, headers: list[tuple[str, str]], body: bytes, coding: str | None, limit: int) -> Answer:
    """``answer_of`` for an answer read back from the archive."""
    from crawler.verdicts.decoding import inflate

    inflated = inflate(body, coding, limit or (1 << 31))
    if inflated.unknown or inflated.over_limit:
        return Answer(status, headers, body)
    return Answer(status, [(n, v) for n, v in headers if n.lower() != "content-encoding"], inflated.data)


class Refusal(Exception):
    """A request evidence would not make for the page (the address guard, a scheme)."""

    def __init__(self, reason: str, hops: list[Hop] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hops = hops or []


class FetchFailed(Exception):
    """A request made and failed (refused connection, timeout): the page sees a network error."""

    def __init__(self, kind: str, hops: list[Hop] | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.hops = hops or []


#: fetches one of the page's requests: (method, url, headers, body) -> Answer
Fetcher = Callable[[str, str, dict[str, str], bytes | None], Awaitable[Answer]]


def find_browser(path: str) -> str | None:
    """The Chromium executable ``EVIDENCE_BROWSER_PATH`` names (empty: ``chromium`` on PATH)."""
    if path:
        candidate = Path(path)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        # A bare name is looked for on PATH; a path that is not there is not.
        return shutil.which(path) if "/" not in path else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def playwright_missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:
        return f"the Python package playwright cannot be imported ({exc}); pip install playwright"
    return None


def check_browser_settings(settings: dict[str, Any] | Any) -> None:
    """Refuse (``SettingError``) EVIDENCE_BROWSER* values a crawl could not run with, and
    ``always`` without a browser to run: said before the crawl, not after it."""
    mode = str(settings.get("EVIDENCE_BROWSER", "auto")).strip().lower()
    if mode not in MODES:
        raise SettingError(f"EVIDENCE_BROWSER={mode!r}: use one of {', '.join(MODES)}")
    viewport(str(settings.get("EVIDENCE_BROWSER_VIEWPORT", "1280x900")))
    for name, floor in (("EVIDENCE_BROWSER_TIMEOUT", 1.0), ("EVIDENCE_BROWSER_PAGES", 1), ("EVIDENCE_BROWSER_MEMORY_MB", 64),
                        ("EVIDENCE_BROWSER_CONCURRENCY", 1)):
        value = settings.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SettingError(f"{name}={value!r} is not a number") from None
        if number < floor or (name != "EVIDENCE_BROWSER_TIMEOUT" and number != int(number)):
            raise SettingError(f"{name}={value!r}: a {'number' if floor == 1.0 else 'whole number'} of at least {floor:g}")
    if mode == "always":
        problem = _browser_problem(settings)[1]
        if problem is not None:
            raise BrowserMissing(f"--browser always: {problem}")


def _browser_problem(settings: Any) -> tuple[str | None, str | None]:
    """The Chromium executable the settings name, or why there is none to run."""
    missing = playwright_missing()
    if missing is not None:
        return None, missing
    path = str(settings.get("EVIDENCE_BROWSER_PATH") or "")
    executable = find_browser(path)
    if executable is None:
        where = f"no executable at EVIDENCE_BROWSER_PATH={path}" if path else "no chromium on PATH"
        return None, f"{where}; {INSTALL_HINT}"
    return executable, None


def viewport(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", value)
    if match is None:
        raise SettingError(f"EVIDENCE_BROWSER_VIEWPORT={value!r}: use WIDTHxHEIGHT, e.g. 1280x900")
    return int(match.group(1)), int(match.group(2))


@dataclass
class _Live:
    browser: Browser
    pages: int = 0
    active: int = 0
    retiring: bool = False
    crashed: bool = False


class BrowserRenderer:
    """Renders pages in one headless Chromium at a time (see the module's docstring)."""

    def __init__(
        self, executable: str, *, timeout: float, pages: int, memory_mb: int, concurrency: int,
        viewport_size: tuple[int, int], user_agent: str | None = None,
    ) -> None:
        self.executable = executable
        self.timeout = timeout
        self.pages = max(pages, 1)
        self.memory_mb = memory_mb
        self.viewport = viewport_size
        self.user_agent = user_agent
        self._slots = asyncio.Semaphore(max(concurrency, 1))
        self._launching = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._live: _Live | None = None

    async def render(self, url: str, document: Answer, fetch: Fetcher) -> Rendered:
        """``url`` as the browser shows it, its main document being ``document``."""
        async with self._slots:
            started = datetime.now(timezone.utc)
            try:
                live = await self._browser()
            except Exception as exc:  # noqa: BLE001 - a browser that will not start fails this render only
                logger.warning("the browser did not start: %s", exc)
                return Rendered(url, started, FAILED, error_kind="browser_failed", error=str(exc)[:500])
            live.active += 1
            live.pages += 1
            try:
                return await _Render(self, live, url, document, fetch, started).run()
            finally:
                live.active -= 1
                if live.retiring and live.active == 0:
                    await _close_quietly(live.browser)

    async def _browser(self) -> _Live:
        async with self._launching:
            live = self._live
            why = None
            if live is not None:
                if live.crashed or not live.browser.is_connected():
                    why = "it died"
                elif live.pages >= self.pages:
                    why = f"EVIDENCE_BROWSER_PAGES={self.pages}"
                elif self._over_memory():
                    why = f"its processes hold more than EVIDENCE_BROWSER_MEMORY_MB={self.memory_mb}"
            if live is not None and why is not None:
                logger.info("restarting the browser after %d pages: %s", live.pages, why)
                self._retire(live)
                live = None
            if live is None:
                from playwright.async_api import async_playwright

                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                args = [
                    # Anything the routes do not take goes to a proxy that is not there.
                    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                    "--disable-background-networking", "--disable-component-update", "--no-pings",
                    "--disable-domain-reliability", "--disable-sync", "--dns-prefetch-disable",
                ]
                if os.geteuid() == 0:
                    # Chromium's sandbox refuses to start as root.
                    args.append("--no-sandbox")
                browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, headless=True, args=args, timeout=30_000,
                )
                live = self._live = _Live(browser)
            return live

    def _retire(self, live: _Live) -> None:
        live.retiring = True
        if self._live is live:
            self._live = None
        if live.active == 0:
            asyncio.ensure_future(_close_quietly(live.browser))

    def crashed(self, live: _Live) -> None:
        live.crashed = True
        self._retire(live)

    def _over_memory(self) -> bool:
        return self.memory_mb > 0 and tree_rss(os.getpid()) > self.memory_mb * 1024 * 1024

    async def close(self) -> None:
        if self._live is not None:
            await _close_quietly(self._live.browser)
            self._live = None
        if self._playwright is not None:
            try:
                await self._playwright.stop()
            except Exception:  # noqa: BLE001 - a dead driver has nothing left to stop
                pass
            self._playwright = None


class _Render:
    """One page: a fresh context, its routes, the wait and what it showed."""

    def __init__(self, renderer: BrowserRenderer, live: _Live, url: str, document: Answer, fetch: Fetcher, started: datetime) -> None:
        self.renderer, self.live, self.url, self.document, self.fetch = renderer, live, url, document, fetch
        self.result = Rendered(url, started, FAILED)
        self.answers: dict[tuple[str, str, bytes | None], asyncio.Task[Answer]] = {}
        self.refused: dict[str, Refused] = {}
        self.served_document = False
        self.page_crashed = False

    async def run(self) -> Rendered:
        from playwright.async_api import Error as PlaywrightError

        renderer = self.renderer
        context = None
        try:
            async with asyncio.timeout(renderer.timeout + 2 * _RESERVE):
                width, height = renderer.viewport
                context = await self.live.browser.new_context(
                    viewport={"width": width, "height": height}, service_workers="block",
                    user_agent=renderer.user_agent, accept_downloads=False,
                )
                await context.route(re.compile(r".*"), self._route)
                await context.route_web_socket(re.compile(r".*"), self._web_socket)
                page = await context.new_page()
                page.on("crash", lambda _: setattr(self, "page_crashed", True))
                await self._show(page)
        except TimeoutError:
            self._fail("render_timeout", f"the render took longer than {renderer.timeout + 2 * _RESERVE:g} s")
        except PlaywrightError as exc:
            if await self._crashed(exc):
                renderer.crashed(self.live)
                self._fail("browser_crashed", str(exc).splitlines()[0][:500])
            else:
                self._fail("render_failed", str(exc).splitlines()[0][:500])
        finally:
            if context is not None and self.live.browser.is_connected():
                try:
                    async with asyncio.timeout(_RESERVE):
                        await context.close()
                except (TimeoutError, PlaywrightError):
                    pass
        await self._collect()
        return self.result

    async def _crashed(self, exc: Exception) -> bool:
        """Whether the page or the browser died under the render (rather than the page failing)."""
        if self.page_crashed or "crash" in str(exc).lower():
            return True
        # A killed browser fails the call in flight before its connection is seen closed.
        for _ in range(20):
            if not self.live.browser.is_connected():
                return True
            await asyncio.sleep(0.05)
        return False

    def _fail(self, kind: str, message: str) -> None:
        self.result.outcome, self.result.error_kind, self.result.error = FAILED, kind, message
        self.result.dom, self.result.text, self.result.screenshot = b"", "", None

    async def _show(self, page: Any) -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        loop = asyncio.get_running_loop()
        timeout = self.renderer.timeout
        deadline = loop.time() + timeout
        reserve = min(_RESERVE, timeout / 3)

        def left() -> float:
            return max((deadline - reserve - loop.time()) * 1000, 1)

        outcome = RENDERED
        try:
            await page.goto(self.url, wait_until="load", timeout=left())
            await page.wait_for_load_state("networkidle", timeout=left())
        except PlaywrightTimeout:
            outcome = CAPPED
        if self.page_crashed:
            raise _page_crashed()
        self.result.dom = (await page.content()).encode("utf-8")
        self.result.text = str(await page.evaluate("() => document.body ? document.body.innerText : ''"))
        try:
            self.result.screenshot = await page.screenshot(full_page=True, type="png", timeout=max(reserve, 2.0) * 1000)
        except PlaywrightTimeout:
            # The DOM and text stand; a page too tall to paint in time has no picture.
            self.result.screenshot = None
        self.result.outcome = outcome

    async def _route(self, route: Route) -> None:
        from playwright.async_api import Error as PlaywrightError

        request = route.request
        url = request.url
        try:
            if not self.served_document and request.is_navigation_request() and _same(url, self.url):
                self.served_document = True
                await self._fulfill(route, self.document)
                return
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https"):
                self._refuse(url, "scheme")
                await route.abort("blockedbyclient")
                return
            body = request.post_data_buffer
            key = (request.method, url, body)
            task = self.answers.get(key)
            if task is None:
                headers = {name: value for name, value in (await request.all_headers()).items()
                           if name.lower() not in _REQUEST_DROP and not name.startswith(":")}
                task = self.answers[key] = asyncio.ensure_future(self.fetch(request.method, url, headers, body))
            try:
                answer = await asyncio.shield(task)
            except Refusal as refusal:
                self._refuse(url, refusal.reason)
                await route.abort("blockedbyclient")
                return
            except FetchFailed:
                await route.abort("failed")
                return
            await self._fulfill(route, answer)
        except PlaywrightError:
            pass  # the page or its context closed while the answer was on its way

    async def _fulfill(self, route: Route, answer: Answer) -> None:
        headers: dict[str, str] = {}
        for name, value in answer.headers:
            key = name.lower()
            if key in _RESPONSE_DROP:
                continue
            # Playwright splits Set-Cookie on new lines, other fields on nothing.
            joiner = "\n" if key == "set-cookie" else ", "
            headers[key] = f"{headers[key]}{joiner}{value}" if key in headers else value
        await route.fulfill(status=answer.status, headers=headers, body=answer.body)

    async def _web_socket(self, socket: WebSocketRoute) -> None:
        # Not routed through the client (it speaks HTTP/1.1 only): refused, and said so.
        self._refuse(socket.url, "websocket")
        await socket.close(code=1008, reason="not archived")

    def _refuse(self, url: str, reason: str) -> None:
        if url not in self.refused:
            self.refused[url] = Refused(url, reason)

    async def _collect(self) -> None:
        pending = [task for task in self.answers.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=_STRAGGLERS)
        hops: list[Hop] = []
        for task in self.answers.values():
            if not task.done():
                # Left to finish on its own: archived by the recorder, not counted here.
                task.add_done_callback(_swallow)
                continue
            exc = task.exception()
            if isinstance(exc, Refusal | FetchFailed):
                hops.extend(exc.hops)
            elif exc is None:
                hops.extend(task.result().hops)
        self.result.resources = hops
        self.result.refused = list(self.refused.values())


def _swallow(task: asyncio.Future[Answer]) -> None:
    if not task.cancelled():
        task.exception()


def _page_crashed() -> Exception:
    from playwright.async_api import Error as PlaywrightError

    return PlaywrightError("the page crashed")


def _same(a: str, b: str) -> bool:
    return urldefrag(a)[0] == urldefrag(b)[0]


async def _close_quietly(browser: Browser) -> None:
    try:
        async with asyncio.timeout(10):
            await browser.close()
    except Exception:  # noqa: BLE001 - a browser already dead is closed enough
        pass


def tree_rss(pid: int) -> int:
    """Bytes of resident memory held by ``pid``'s descendants (read from /proc): in a
    crawl process, the Playwright driver and the browser's processes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            child = int(entry.name)
            children.setdefault(int(fields[1]), []).append(child)
            rss[child] = int(fields[21]) * page
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, list(children.get(pid, []))
    while stack:
        child = stack.pop()
        total += rss.get(child, 0)
        stack.extend(children.get(child, []))
    return total


_warned_missing = False


def renderer_from_settings(settings: Any) -> tuple[str, BrowserRenderer | None]:
    """The crawl's mode (``auto``, ``always``, ``never``) and its renderer, None when it
    renders nothing: ``never``, or ``auto`` without a browser (said once, with the fix)."""
    global _warned_missing
    mode = str(settings.get("EVIDENCE_BROWSER") or "auto").strip().lower()
    if mode == "never":
        return mode, None
    executable, problem = _browser_problem(settings)
    if executable is None:
        if mode == "always":
            # Checked before the crawl (check_browser_settings); the browser went away since.
            raise BrowserMissing(f"--browser always: {problem}")
        if not _warned_missing:
            _warned_missing = True
            logger.warning("pages built by JavaScript are captured without rendering: %s", problem)
        return mode, None
    return mode, BrowserRenderer(
        executable,
        timeout=float(settings.get("EVIDENCE_BROWSER_TIMEOUT") or 30.0),
        pages=int(settings.get("EVIDENCE_BROWSER_PAGES") or 50),
        memory_mb=int(settings.get("EVIDENCE_BROWSER_MEMORY_MB") or 0),
        concurrency=int(settings.get("EVIDENCE_BROWSER_CONCURRENCY") or 2),
        viewport_size=viewport(str(settings.get("EVIDENCE_BROWSER_VIEWPORT") or "1280x900")),
        user_agent=settings.get("USER_AGENT") or None,
    )
