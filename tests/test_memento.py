"""The Memento client (crawler/memento/) against a real web archive: pywb on 127.0.0.1 over
"2017" WARCs of a scripted site (tests/webarchive.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from crawler.crawl.lookups import judge, rejection
from crawler.exceptions import MementoError
from crawler.memento import (
    Archive,
    Found,
    Lookup,
    Memento,
    NoMemento,
    Outcome,
    Unreachable,
    accept_datetime,
    candidates,
    choose,
    parse_cdx,
    parse_links,
    parse_memento_datetime,
    parse_timemap,
    parse_timestamp,
)
from crawler.memento.lookup import Request, redirect_target
from crawler.verdicts.fingerprint import meaning
from tests import webarchive
from tests.tools import free_port
from tests.webarchive import CALL_SOFT, CAPTURES, CASES, FLAKY_404, LICENSES_OK, LICENSES_SOFT, WebArchive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebArchive]:
    # Nothing listens on the origin's port: pywb never fetches it, and a test that did
    # would fail rather than reach anything.
    origin = f"http://127.0.0.1:{free_port()}"
    yield from webarchive.serve(tmp_path_factory.mktemp("webarchive"), origin)


def get(url: str, **headers: str) -> requests.Response:
    assert urlsplit(url).hostname == "127.0.0.1", url
    return requests.get(url, headers=headers, allow_redirects=False, timeout=10)


def drive(lookup: Lookup, sent: list[Request] | None = None, *, judged: bool = True) -> Outcome:
    """Send the lookup's requests over real HTTP until it decides, as the crawl does:
    ``judged``, a memento found is judged by its bytes (crawler/crawl/lookups.py's
    judge) and rejected when it is an archived "page not found"."""
    for _ in range(100):
        request = lookup.next_request()
        if request is None:
            break
        if sent is not None:
            sent.append(request)
        try:
            answer = get(request.url, **request.headers)
        except requests.ConnectionError as error:
            lookup.fail(f"connection failed: {error}")
            continue
        lookup.feed(answer.status_code, answer.headers.items(), answer.content)
        if judged and (reason := soft_404(lookup, answer)) is not None:
            lookup.reject(reason)
    assert lookup.outcome is not None, "the lookup did not decide within 100 requests"
    return lookup.outcome


def soft_404(lookup: Lookup, answer: requests.Response) -> str | None:
    """Why the memento the lookup just found is an archived "page not found", or None."""
    found = lookup.outcome
    if not isinstance(found, Found):
        return None
    content_type = answer.headers.get("Content-Type")
    page = meaning(answer.content, content_type, None, found.memento_datetime)
    return rejection(judge(found, page, content_type, Archive(found.archive)))


# --- URLs ---------------------------------------------------------------------------------


def test_urls_of_a_wayback_style_collection() -> None:
    wayback = Archive("https://web.archive.org/web/")
    url = "http://example.gov/plan?id=7&lang=es"
    assert wayback.timegate(url) == "https://web.archive.org/web/http://example.gov/plan?id=7&lang=es"
    assert wayback.timemap(url) == "https://web.archive.org/web/timemap/link/http://example.gov/plan?id=7&lang=es"
    assert wayback.memento("20170301100000", url) == "https://web.archive.org/web/20170301100000id_/http://example.gov/plan?id=7&lang=es"
    assert wayback.cdx_query(url) is None
    assert Archive("http://127.0.0.1:8080/web").base == "http://127.0.0.1:8080/web/"
    pywb = Archive.pywb("http://127.0.0.1:8080/web/")
    assert pywb.cdx_query(url) == "http://127.0.0.1:8080/web/cdx?url=http://example.gov/plan%3Fid%3D7%26lang%3Des&output=json"
    parsed = wayback.parse("https://web.archive.org/web/20170301100000/http://example.gov/plan?id=7")
    assert parsed is not None and (parsed.timestamp, parsed.modifier, parsed.url) == ("20170301100000", "", "http://example.gov/plan?id=7")
    assert wayback.raw("http://web.archive.org/web/20170301100000mp_/http:/example.gov/") == (
        "https://web.archive.org/web/20170301100000id_/http://example.gov/"
    ), "any scheme of the archive, squashed // restored, any mode made raw"
    assert wayback.raw("https://web.archive.org/web/http://example.gov/") is None, "a TimeGate URL has no time"
    assert wayback.raw("https://example.gov/web/20170301100000/http://example.gov/") is None
    for bad in ("ftp://archive.example/web/", "web.archive.org/web/", "https://archive.example/web/?q=1"):
        with pytest.raises(MementoError):
            Archive(bad)


def test_dates() -> None:
    assert accept_datetime(datetime(2017, 6, 15, 23, 59, 59, tzinfo=UTC)) == "Thu, 15 Jun 2017 23:59:59 GMT"
    assert accept_datetime(datetime(2017, 6, 15, 12, 0)) == "Thu, 15 Jun 2017 12:00:00 GMT", "naive is UTC"
    assert parse_memento_datetime("Sat, 10 Jun 2017 07:00:00 GMT") == datetime(2017, 6, 10, 7, tzinfo=UTC)
    assert parse_memento_datetime("not a date") is None
    assert parse_timestamp("2017") == datetime(2017, 1, 1, tzinfo=UTC)
    assert parse_timestamp("201706") == datetime(2017, 6, 1, tzinfo=UTC)
    assert parse_timestamp("20170610070000") == datetime(2017, 6, 10, 7, tzinfo=UTC)
    assert parse_timestamp("20171340000000") is None


# --- TimeMaps and Link headers ------------------------------------------------------------


@pytest.mark.parametrize("path", sorted({c.path for c in CAPTURES}))
def test_pywb_timemaps_parse_to_the_captures_written(archive: WebArchive, path: str) -> None:
    answer = get(archive.base + "timemap/link/" + archive.url(path))
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/link-format")
    timemap = parse_timemap(answer.content)
    assert [m.datetime for m in timemap.mementos] == sorted(c.when for c in CAPTURES if c.path == path)
    assert timemap.original == archive.url(path)
    assert timemap.timegate == archive.base + archive.url(path)
    assert timemap.self_url == archive.base + "timemap/link/" + archive.url(path)
    assert timemap.pages == []
    for memento in timemap.mementos:
        assert Archive(archive.base).raw(memento.url) is not None


def test_a_url_never_archived_has_no_timemap(archive: WebArchive) -> None:
    answer = get(archive.base + "timemap/link/" + archive.url("/never-archived"))
    assert answer.status_code == 404
    assert parse_timemap(answer.content).mementos == []


# Written from RFC 7089 (sections 5 and 4.3) and the Wayback Machine's answers as documented:
# multi-token rels, a from/until on the self link, one capture listed under two URL
# variants, line breaks inside a link, a quoted comma and an escaped quote, a junk entry,
# and further TimeMap pages.
WAYBACK_TIMEMAP = """<http://example.gov/plan>; rel="original",
<https://web.archive.org/web/timemap/link/http://example.gov/plan>; rel="self"; type="application/link-format";
 from="Wed, 01 Mar 2017 10:00:00 GMT"; until="Tue, 20 Jun 2017 07:00:00 GMT",
<https://web.archive.org/web/timemap/link/http://example.gov/plan?page=2>; rel="timemap"; type="application/link-format";
 from="Wed, 21 Jun 2017 00:00:00 GMT",
<https://web.archive.org>; rel="timegate",
<https://web.archive.org/web/20170301100000/http://example.gov/plan>; rel="first memento"; datetime="Wed, 01 Mar 2017 10:00:00 GMT",
<https://web.archive.org/web/20170301100000/http://example.gov:80/plan>; rel="memento"; datetime="Wed, 01 Mar 2017 10:00:00 GMT",
<https://web.archive.org/web/20170610070000/http://example.gov/plan>;
   rel="prev memento"; title="Edition, \\"June\\""; datetime="Sat, 10 Jun 2017 07:00:00 GMT" ,
garbage that is not a link,
<https://web.archive.org/web/20170620070000/http://example.gov/plan>; rel="last memento";datetime="Tue, 20 Jun 2017 07:00:00 GMT",
<https://web.archive.org/web/20170615000000/http://example.gov/plan>; rel="memento"
"""


def test_a_wayback_machine_timemap_with_multi_token_rels_and_pages() -> None:
    timemap = parse_timemap(WAYBACK_TIMEMAP)
    assert timemap.original == "http://example.gov/plan"
    assert timemap.timegate == "https://web.archive.org"
    assert timemap.self_url == "https://web.archive.org/web/timemap/link/http://example.gov/plan"
    assert timemap.pages == ["https://web.archive.org/web/timemap/link/http://example.gov/plan?page=2"]
    assert [(m.datetime.strftime("%Y%m%d%H%M%S"), m.url.rsplit("/web/", 1)[1]) for m in timemap.mementos] == [
        ("20170301100000", "20170301100000/http://example.gov/plan"),  # the first variant listed
        ("20170610070000", "20170610070000/http://example.gov/plan"),
        ("20170615000000", "20170615000000/http://example.gov/plan"),  # no datetime=: from its URL
        ("20170620070000", "20170620070000/http://example.gov/plan"),
    ]
    links = parse_links(WAYBACK_TIMEMAP)
    titled = [link for link in links if "title" in link.params]
    assert titled[0].params["title"] == 'Edition, "June"' and titled[0].rels == ("prev", "memento")


def test_pywb_link_headers_name_original_timegate_timemap_and_memento(archive: WebArchive) -> None:
    answer = get(archive.base + "20170610070000id_/" + archive.url("/bulletin"))
    links = parse_links(answer.headers["Link"])
    by_rel = {rel: link for link in links for rel in link.rels}
    assert by_rel["original"].target == archive.url("/bulletin")
    assert by_rel["timegate"].target == archive.base + archive.url("/bulletin")
    assert by_rel["timemap"].target == archive.base + "timemap/link/" + archive.url("/bulletin")
    assert by_rel["memento"].datetime == datetime(2017, 6, 10, 7, tzinfo=UTC)
    assert parse_memento_datetime(answer.headers["Memento-Datetime"]) == datetime(2017, 6, 10, 7, tzinfo=UTC)


def test_timegate_negotiation_answers_the_nearest_memento_either_side(archive: WebArchive) -> None:
    """Why lookups choose from the TimeMap: pywb's TimeGate gives the memento nearest in
    absolute time, here one archived after the cited day although one before it exists."""
    timegate = archive.base + archive.url("/bulletin")
    early = get(timegate, **{"Accept-Datetime": accept_datetime(datetime(2017, 6, 11, tzinfo=UTC))})
    late = get(timegate, **{"Accept-Datetime": accept_datetime(datetime(2017, 6, 15, 23, 59, 59, tzinfo=UTC))})
    assert early.status_code == late.status_code == 200  # pywb answers; the Wayback Machine redirects
    assert "accept-datetime" in early.headers["Vary"].lower()
    mementos = [[link for link in parse_links(a.headers["Link"]) if "memento" in link.rels][0] for a in (early, late)]
    assert [m.datetime for m in mementos] == [webarchive.TWICE_EARLY.when, webarchive.TWICE_LATE.when]
    chosen = choose([memento_of(webarchive.TWICE_EARLY), memento_of(webarchive.TWICE_LATE)], date(2017, 6, 15))
    assert chosen is not None and chosen.memento.datetime == webarchive.TWICE_EARLY.when


def memento_of(capture: webarchive.Capture) -> Memento:
    return Memento(capture.when, f"http://archive.invalid/web/{capture.timestamp}/http://site.invalid{capture.path}")


# --- choosing -------------------------------------------------------------------------------


def timemap_of(archive: WebArchive, path: str) -> list[Memento]:
    answer = get(archive.base + "timemap/link/" + archive.url(path))
    return parse_timemap(answer.content).mementos if answer.status_code == 200 else []


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_choice_per_case(archive: WebArchive, name: str) -> None:
    case = CASES[name]
    chosen = choose(timemap_of(archive, case.path), case.cited_at)
    # Before any memento is fetched, the nearest one is chosen whatever its status: the
    # archived redirect itself, the archived 404 (the lookup then passes over it).
    first = case.via or (case.skipped[0] if case.skipped else case.expected)
    if first is None:
        assert chosen is None
        return
    assert chosen is not None and chosen.memento.datetime == first.when
    assert chosen.offset_days == (first.when.date() - case.cited_at).days


def test_the_choice_prefers_the_cited_day_and_says_how_far() -> None:
    early, late = memento_of(webarchive.TWICE_EARLY), memento_of(webarchive.TWICE_LATE)
    on_day = choose([early, late], datetime(2017, 6, 20, 1, 0, tzinfo=UTC))
    assert on_day is not None and on_day.memento == late and on_day.offset_days == 0, "later that day still counts"
    after = choose([early, late], date(2017, 6, 5))
    assert after is not None and after.memento == early and after.offset_days == 5 and after.after
    assert choose([early, late], date(2019, 1, 1)) is None, "over a year away is not near enough"
    assert choose([early, late], date(2019, 1, 1), window=1000) is not None
    assert [c.memento for c in candidates([early, late], date(2017, 6, 15))] == [early, late]
    ranked = candidates([early, late], date(2017, 6, 25), statuses={webarchive.TWICE_LATE.timestamp: 404})
    assert [c.memento for c in ranked] == [early], "a memento known to be a 404 is left out"
    kept = candidates([early, late], date(2017, 6, 25), statuses={webarchive.TWICE_LATE.timestamp: 301})
    assert [c.status for c in kept] == [301, None], "a redirect is kept, to be followed"


def test_cdx_statuses_in_pywb_and_wayback_machine_shapes(archive: WebArchive) -> None:
    answer = get(f"{archive.base}cdx?url={archive.url('/flaky')}&output=json")
    assert parse_cdx(answer.content) == {"20170401120000": 200, "20170510120000": 404}
    wayback = (
        '[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],\n'
        '["gov,example)/plan","20170301100000","http://example.gov/plan","text/html","200","AAA","512"],\n'
        '["gov,example)/plan","20170510120000","http://example.gov/plan","text/html","404","BBB","300"],\n'
        '["gov,example)/plan","20170601000000","http://example.gov/plan","warc/revisit","-","AAA","200"]]'
    )
    assert parse_cdx(wayback) == {"20170301100000": 200, "20170510120000": 404, "20170601000000": None}
    assert parse_cdx(b"<html>not json</html>") == {}


# --- the lookup, driven by real HTTP ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_lookup_per_case(archive: WebArchive, name: str) -> None:
    case = CASES[name]
    sent: list[Request] = []
    outcome = drive(Lookup(archive.url(case.path), case.cited_at, [archive.base]), sent)
    assert all(r.archive == archive.base for r in sent)
    skipped = [(s.datetime, s.status, s.reason) for s in outcome.skipped]
    assert skipped == [
        (c.when, c.status, "archived page not found (error_title)" if c.status == 200 else "archived status")
        for c in case.skipped
    ]
    if case.expected is None:
        assert isinstance(outcome, NoMemento) and outcome.archives == (archive.base,)
        return
    assert isinstance(outcome, Found), outcome
    expected = case.expected
    assert outcome.status == 200
    assert outcome.memento_datetime == expected.when
    assert outcome.original_url == archive.url(expected.path)
    assert outcome.memento_url == f"{archive.base}{expected.timestamp}id_/{archive.url(expected.path)}"
    assert outcome.archive == archive.base
    if case.via is not None:
        assert outcome.redirects == (f"{archive.base}{case.via.timestamp}id_/{archive.url(case.via.path)}",)
        assert outcome.offset_days == (case.via.when.date() - case.cited_at).days
    else:
        assert outcome.redirects == ()
        assert outcome.offset_days == (expected.when.date() - case.cited_at).days
    # The raw memento is the archived answer byte for byte: no banner, no rewriting.
    raw = get(outcome.memento_url)
    assert raw.status_code == 200 and raw.content == expected.body
    assert raw.headers["Content-Type"] == "text/html; charset=utf-8"
    assert [r.kind for r in sent].count("memento") == 1 + len(case.skipped) + (case.via is not None)


def test_reject_passes_over_an_archived_soft_404(archive: WebArchive) -> None:
    """A 200 memento is found first whatever it says; the caller reads it, rejects an
    archived "page not found", and the lookup goes on to the next candidate."""
    case = CASES["archived_soft_404"]
    lookup = Lookup(archive.url(case.path), case.cited_at, [archive.base])
    first = drive(lookup, judged=False)
    # Positive control: unjudged, the soft 404 nearest the cited date is what is found.
    assert isinstance(first, Found) and first.memento_datetime == LICENSES_SOFT.when and first.skipped == ()
    assert get(first.memento_url).content == LICENSES_SOFT.body
    lookup.reject("archived page not found (error_title)")
    assert lookup.outcome is None
    pending = lookup.next_request()
    assert pending is not None and pending.kind == "memento" and LICENSES_OK.timestamp in pending.url
    outcome = drive(lookup, judged=False)
    assert isinstance(outcome, Found) and outcome.memento_datetime == LICENSES_OK.when
    assert outcome.offset_days == (LICENSES_OK.when.date() - case.cited_at).days == -123
    assert [(s.url, s.datetime, s.status, s.reason) for s in outcome.skipped] == [
        (first.memento_url, LICENSES_SOFT.when, 200, "archived page not found (error_title)")
    ]
    assert get(outcome.memento_url).content == LICENSES_OK.body

    only = CASES["only_soft_404"]
    lookup = Lookup(archive.url(only.path), only.cited_at, [archive.base])
    found = drive(lookup, judged=False)
    assert isinstance(found, Found) and found.memento_datetime == CALL_SOFT.when
    lookup.reject("archived page not found (error_title)")
    ended = lookup.outcome
    assert isinstance(ended, NoMemento) and lookup.next_request() is None
    assert [(s.datetime, s.status) for s in ended.skipped] == [(CALL_SOFT.when, 200)]
    with pytest.raises(RuntimeError):
        lookup.reject("twice")


def test_the_archived_redirect_keeps_the_archived_301(archive: WebArchive) -> None:
    answer = get(f"{archive.base}{webarchive.MOVED.timestamp}id_/{archive.url(webarchive.MOVED.path)}")
    assert answer.status_code == 301 and answer.headers["Location"] == "/new-address"
    assert parse_memento_datetime(answer.headers["Memento-Datetime"]) == webarchive.MOVED.when


def test_cdx_statuses_spare_fetching_the_archived_404(archive: WebArchive) -> None:
    case = CASES["archived_404"]
    sent: list[Request] = []
    outcome = drive(Lookup(archive.url(case.path), case.cited_at, [Archive.pywb(archive.base)]), sent)
    assert isinstance(outcome, Found) and outcome.memento_datetime == webarchive.FLAKY_OK.when
    assert [r.kind for r in sent] == ["timemap", "cdx", "memento"]
    assert [(s.status, s.reason) for s in outcome.skipped] == [(404, "archived status (CDX)")]
    assert FLAKY_404.timestamp not in " ".join(r.url for r in sent if r.kind == "memento")


def test_redirect_locations_stay_inside_the_archive() -> None:
    wayback = Archive("https://web.archive.org/web/")
    at = datetime(2017, 3, 5, 11, tzinfo=UTC)
    memento = "https://web.archive.org/web/20170305110000id_/http://example.gov/old?x=1"
    expected = "https://web.archive.org/web/20170305110000id_/http://example.gov/new"
    assert redirect_target(wayback, memento, "/new", at) == expected, "relative to the archived URL"
    assert redirect_target(wayback, memento, "http://example.gov/new", at) == expected, "the site's absolute URL"
    assert redirect_target(wayback, memento, "https://web.archive.org/web/20170305110002/http://example.gov/new", None) == (
        "https://web.archive.org/web/20170305110002id_/http://example.gov/new"
    ), "already an archive URL (the Wayback Machine's form): made raw"
    assert redirect_target(wayback, memento, "/web/20170305110002mp_/http://example.gov/new", None) == (
        "https://web.archive.org/web/20170305110002id_/http://example.gov/new"
    ), "an archive path, as pywb rewrites Locations outside id_"
    assert redirect_target(wayback, memento, "mailto:someone@example.gov", at) is None
    assert redirect_target(wayback, memento, "", at) is None


class _Answers(BaseHTTPRequestHandler):
    """An archive that is up but broken (503), or answers HTML where a TimeMap belongs."""

    def do_GET(self) -> None:
        html = self.path.startswith("/html/")
        body = b"<html><body>Please log in</body></html>" if html else b"overloaded"
        self.send_response(200 if html else 503)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_archive() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_archive_down_passes_to_the_next_and_alone_is_unreachable(archive: WebArchive, broken_archive: str) -> None:
    case = CASES["rewritten"]
    down = f"http://127.0.0.1:{free_port()}/web/"  # nothing listens there
    overloaded, portal = f"{broken_archive}/web/", f"{broken_archive}/html/"
    outcome = drive(Lookup(archive.url(case.path), case.cited_at, [down, overloaded, portal, archive.base]))
    assert isinstance(outcome, Found) and outcome.archive == archive.base
    assert outcome.memento_datetime == webarchive.POLICY_OLD.when
    alone = drive(Lookup(archive.url(case.path), case.cited_at, [down, overloaded, portal]))
    assert isinstance(alone, Unreachable) and alone.archives == (down, overloaded, portal)
    assert "connection failed" in alone.reasons[0] and "503" in alone.reasons[1] and "link-format" in alone.reasons[2]
    # An archive that answers "none" does not hide one that was down: ask again next run.
    never = drive(Lookup(archive.url("/never-archived"), date(2017, 6, 1), [archive.base, down]))
    assert isinstance(never, Unreachable) and never.archives == (down,)


def test_no_archives_means_no_lookup() -> None:
    lookup = Lookup("http://example.gov/plan", date(2017, 3, 1), [])
    assert lookup.next_request() is None
    assert isinstance(lookup.outcome, NoMemento) and lookup.outcome.archives == ()
    with pytest.raises(RuntimeError):
        lookup.feed(200, {}, b"")


class _PagedTimeMap(BaseHTTPRequestHandler):
    """A collection whose TimeMaps are paged, Wayback Machine style; mementos come from pywb."""

    pywb = ""
    first = ""
    second = ""

    def do_GET(self) -> None:
        if "/timemap/link/" in self.path:
            page = self.second if self.path.endswith("?page=2") else self.first
            self.send_response(200)
            self.send_header("Content-Type", "application/link-format")
            body = page.encode()
        else:
            answer = requests.get(self.pywb + self.path, allow_redirects=False, timeout=10)
            self.send_response(answer.status_code)
            front = f"http://127.0.0.1:{self.server.server_address[1]}"
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    # pywb names its own URLs (Content-Location, Link): the front's, as a real archive would.
                    self.send_header(name, value.replace(self.pywb, front))
            body = answer.content
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_paged_timemap_is_read_to_its_last_page(archive: WebArchive) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PagedTimeMap)
    base = f"http://127.0.0.1:{server.server_address[1]}/web/"
    url = archive.url("/bulletin")
    handler = _PagedTimeMap
    handler.pywb = archive.base.rsplit("/web/", 1)[0]
    # The first page lists only the early memento; the nearer one is on page two.
    handler.first = (
        f'<{url}>; rel="original",\n<{base}timemap/link/{url}>; rel="self"; type="application/link-format",\n'
        f'<{base}timemap/link/{url}?page=2>; rel="timemap"; type="application/link-format",\n'
        f'<{base}20170610070000/{url}>; rel="first memento"; datetime="Sat, 10 Jun 2017 07:00:00 GMT"\n'
    )
    handler.second = (
        f'<{base}timemap/link/{url}?page=2>; rel="self"; type="application/link-format",\n'
        f'<{base}timemap/link/{url}>; rel="timemap"; type="application/link-format",\n'
        f'<{base}20170620070000/{url}>; rel="last memento"; datetime="Tue, 20 Jun 2017 07:00:00 GMT"\n'
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sent: list[Request] = []
        outcome = drive(Lookup(url, date(2017, 6, 25), [base]), sent)
        assert isinstance(outcome, Found)
        raw = get(outcome.memento_url).content
    finally:
        server.shutdown()
        server.server_close()
    assert [r.kind for r in sent] == ["timemap", "timemap", "memento"], "page two read once, page one not again"
    assert isinstance(outcome, Found) and outcome.memento_datetime == webarchive.TWICE_LATE.when
    assert outcome.memento_url == f"{base}20170620070000id_/{url}"
    assert raw == webarchive.TWICE_LATE.body
