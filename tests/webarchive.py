"""A real web archive on 127.0.0.1 for the Memento tests: pywb over "2017" WARCs of a
scripted site.

The WARCs are written here with warcio (fixed WARC-Dates and record ids, so every run
archives the same bytes), indexed into a pywb collection named ``web`` with
``wb-manager`` and served by ``wayback`` on a random port. pywb answers the same
TimeGate, TimeMap and ``id_`` URLs as the Wayback Machine, so the client is tested
against an archive's real answers rather than a transcript of them.

The archived URLs are under an origin the caller chooses: a crawl test passes its own
scripted site's origin (``http://127.0.0.1:PORT``) so that the URLs it cites are the
ones archived. pywb serves its collections only (no live proxy): it never fetches the
origin itself.
"""

from __future__ import annotations

import subprocess
import uuid
from io import BytesIO
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.opensite import OpenSite
from tests.tools import Wayback, tool


@dataclass(frozen=True)
class Capture:
    """One archived exchange: what the site answered at ``when``."""

    path: str
    when: datetime
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def timestamp(self) -> str:
        return self.when.strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True)
class Case:
    """A cited URL of the scripted site, the date it was cited and what the archive should give.

    ``expected`` is the capture whose bytes a lookup must end on (None: no memento near
    enough), ``via`` the archived redirect followed to get there, ``skipped`` the
    captures passed over: an archived status that is not 200, or an archived "page not
    found" served with 200 (a soft 404, passed over by the caller's judging).
    """

    name: str
    path: str
    cited_at: date
    expected: Capture | None
    via: Capture | None = None
    skipped: tuple[Capture, ...] = ()
    #: What the site answers today (None: it answers 404).
    current: bytes | None = None


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _page(title: str, text: str) -> bytes:
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n"
        f"<body><main><h1>{title}</h1><p>{text}</p></main></body></html>\n"
    ).encode()


NOT_FOUND = _page("Page not found", "The page you asked for does not exist on this site.")
# How government sites answer a page they no longer have: 200, an error title, little text.
SOFT_NOT_FOUND = _page("Página no encontrada", "Lo sentimos, el contenido solicitado fue retirado o movido.")

PLAN = Capture("/plan-2017", _at("2017-03-01 10:00:00"), 200,
               _page("Plan nacional 2017", "El plan fija metas de cobertura para 2020."))
POLICY_OLD = Capture("/policy", _at("2017-04-02 09:30:00"), 200,
                     _page("Water policy", "Tariffs are frozen until 2019 for every household."))
REPORT = Capture("/report", _at("2017-05-03 08:15:00"), 200,
                 _page("Annual report 2016", "Coverage rose to 87 per cent of homes."))
FLAKY_OK = Capture("/flaky", _at("2017-04-01 12:00:00"), 200,
                   _page("Statistics", "Monthly statistics for the first quarter."))
FLAKY_404 = Capture("/flaky", _at("2017-05-10 12:00:00"), 404, NOT_FOUND)
BROKEN_404 = Capture("/broken", _at("2017-05-10 13:00:00"), 404, NOT_FOUND)
MOVED = Capture("/old-address", _at("2017-03-05 11:00:00"), 301, b"",
                (("Location", "/new-address"),))
MOVED_TARGET = Capture("/new-address", _at("2017-03-05 11:00:02"), 200,
                       _page("Moved page", "This page replaces the old address."))
TWICE_EARLY = Capture("/bulletin", _at("2017-06-10 07:00:00"), 200,
                      _page("Bulletin", "Edition of 10 June: reservoirs at 61 per cent."))
TWICE_LATE = Capture("/bulletin", _at("2017-06-20 07:00:00"), 200,
                     _page("Bulletin", "Edition of 20 June: reservoirs at 58 per cent."))
LICENSES_OK = Capture("/tramites/licencias", _at("2017-01-12 15:00:00"), 200,
                      _page("Licencias de funcionamiento", "Requisitos: solicitud, copia del RUC y pago de la tasa."))
LICENSES_SOFT = Capture("/tramites/licencias", _at("2017-05-11 09:00:00"), 200, SOFT_NOT_FOUND)
CALL_SOFT = Capture("/convocatorias/2017", _at("2017-04-20 16:30:00"), 200, SOFT_NOT_FOUND)

CAPTURES: tuple[Capture, ...] = (
    PLAN, POLICY_OLD, REPORT, FLAKY_OK, FLAKY_404, BROKEN_404, MOVED, MOVED_TARGET, TWICE_EARLY, TWICE_LATE,
    LICENSES_OK, LICENSES_SOFT, CALL_SOFT,
)

CASES: dict[str, Case] = {case.name: case for case in (
    # Archived, unchanged since.
    Case("original", "/plan-2017", date(2017, 3, 15), PLAN, current=PLAN.body),
    # Archived, rewritten on the site since.
    Case("rewritten", "/policy", date(2017, 4, 20), POLICY_OLD,
         current=_page("Water policy", "Tariffs rise by 4 per cent a year from 2024.")),
    # Archived, removed from the site since (it answers 404 today).
    Case("removed", "/report", date(2017, 5, 20), REPORT, current=None),
    # The memento nearest the citation is an archived 404: the one before it is used.
    Case("archived_404", "/flaky", date(2017, 5, 15), FLAKY_OK, skipped=(FLAKY_404,), current=FLAKY_OK.body),
    # The only memento is an archived 404: nothing to use.
    Case("only_404", "/broken", date(2017, 5, 15), None, skipped=(BROKEN_404,), current=None),
    # An archived 301 to another archived page, followed inside the archive.
    Case("redirect", "/old-address", date(2017, 3, 10), MOVED_TARGET, via=MOVED, current=MOVED_TARGET.body),
    # Two mementos around the cited date: the latest at or before it.
    Case("between", "/bulletin", date(2017, 6, 15), TWICE_EARLY, current=TWICE_LATE.body),
    # Cited on the day of the later memento (later that day than 07:00): that one.
    Case("same_day", "/bulletin", date(2017, 6, 20), TWICE_LATE, current=TWICE_LATE.body),
    # Cited before any memento: the earliest after it (5 days).
    Case("before_any", "/bulletin", date(2017, 6, 5), TWICE_EARLY, current=TWICE_LATE.body),
    # Never archived.
    Case("never", "/never-archived", date(2017, 6, 1), None, current=_page("New", "Made in 2020.")),
    # The memento nearest the citation is an archived soft 404 (200, "Página no
    # encontrada"): the real page archived four months before it is used.
    Case("archived_soft_404", "/tramites/licencias", date(2017, 5, 15), LICENSES_OK,
         skipped=(LICENSES_SOFT,), current=LICENSES_OK.body),
    # The only memento is an archived soft 404: nothing to use, never the error page.
    Case("only_soft_404", "/convocatorias/2017", date(2017, 5, 15), None, skipped=(CALL_SOFT,),
         current=_page("Convocatorias", "La convocatoria 2024 está abierta hasta marzo.")),
)}


def record_id(capture: Capture) -> str:
    """A fixed WARC-Record-ID per capture, so that the WARC bytes are the same on every run."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, capture.path + '@' + capture.timestamp)}>"


def http_headers(capture: Capture) -> list[tuple[str, str]]:
    headers = [("Date", format_datetime(capture.when, usegmt=True)), *capture.headers]
    if capture.body or capture.status == 200:
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    headers.append(("Content-Length", str(len(capture.body))))
    return headers


REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}


def write_warc(path: Path, origin: str, captures: tuple[Capture, ...] = CAPTURES) -> None:
    """The captures as WARC response records of ``origin``'s pages."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for capture in captures:
            status_line = f"{capture.status} {REASONS[capture.status]}"
            headers = StatusAndHeaders(status_line, http_headers(capture), protocol="HTTP/1.1")
            warc_headers = {
                "WARC-Date": capture.when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "WARC-Record-ID": record_id(capture),
            }
            record = writer.create_warc_record(
                origin + capture.path, "response", payload=BytesIO(capture.body),
                length=len(capture.body), http_headers=headers, warc_headers_dict=warc_headers,
            )
            writer.write_record(record)


@dataclass
class WebArchive:
    """A running pywb with the collection ``web`` over the scripted site's 2017 captures."""

    origin: str
    base: str
    wayback: Wayback
    cases: dict[str, Case] = field(default_factory=lambda: dict(CASES))

    def url(self, path: str) -> str:
        return self.origin + path


def build(folder: Path, origin: str) -> Path:
    """Write the WARC and index it into ``folder/collections/web``; returns the WARC."""
    warc = folder / "site-2017.warc.gz"
    write_warc(warc, origin)
    for args in (["init", "web"], ["add", "web", str(warc)]):
        done = subprocess.run([tool("wb-manager"), *args], cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"wb-manager {' '.join(args)} failed: {done.stderr}")
    return warc


@contextmanager
def current_site() -> Iterator[OpenSite]:
    """The scripted site as the cases' pages are today; a case with no current page answers 404."""
    with OpenSite() as server:
        for case in CASES.values():
            if case.current is not None:
                server.page(case.path, lambda n, body=case.current: (200, "text/html; charset=utf-8", body))
        yield server


def serve(folder: Path, origin: str) -> Iterator[WebArchive]:
    """Build the archive in ``folder`` and serve it on 127.0.0.1 while the iterator is open."""
    tool("wayback")  # skip early when pywb is absent
    build(folder, origin)
    with Wayback(folder) as wayback:
        yield WebArchive(origin, f"http://127.0.0.1:{wayback.port}/web/", wayback)
