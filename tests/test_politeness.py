"""Per-host politeness without idle places: a host waiting out its delay does not hold
back the other hosts, a host's first answer replaces AutoThrottle's start delay, and the
scheduler hands requests out by priority, then in arrival order."""

from __future__ import annotations

import json

from scrapy import Request

from crawler.crawl.scheduler import CitationScheduler
from tests.conftest import Workspace
from tests.mockserver import MockServer


def _cite(workspace: Workspace, urls: list[str]) -> str:
    report = workspace.path / "informe.md"
    report.write_text("".join(f"{n} Ver {url}\n" for n, url in enumerate(urls, 1)), encoding="utf-8")
    return str(report)


def _pages(server: MockServer) -> list[tuple[float, str]]:
    # Cited pages only: a soft-404 probe asks for a made-up page beside them.
    return [(when, path) for when, path in server.log() if path.startswith("/aspx/pagina")]


def test_requests_waiting_for_their_hosts_delay_leave_room_for_other_hosts(workspace: Workspace, site: MockServer):
    with MockServer(address="127.0.0.2") as other:
        slow = [site.url(f"/aspx/pagina{n}") for n in range(1, 4)]
        quick = [other.url(f"/aspx/pagina{n}") for n in range(1, 7)]
        # Two places in all, and 2 s between requests to the first host. Its second and
        # third requests wait in its queue; counted as in flight (as Scrapy counts them)
        # they would take both places and hold the other host's pages for 2 s.
        result = workspace.crawl(
            _cite(workspace, slow + quick),
            "-s", "CONCURRENT_REQUESTS=2",
            "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "DOWNLOAD_SLOTS=" + json.dumps({"127.0.0.1": {"delay": 2.0, "jitter": 0}}),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        slow_times = [when for when, _ in _pages(site)]
        quick_times = [when for when, _ in _pages(other)]
    assert len(slow_times) == 3 and len(quick_times) == 6
    # The delay itself still holds for the first host...
    assert slow_times[1] - slow_times[0] >= 1.9
    # ...while every page of the other host was fetched before its second request.
    assert max(quick_times) < slow_times[1]


def test_a_hosts_first_answer_replaces_the_start_delay(workspace: Workspace, site: MockServer):
    pages = [site.url(f"/aspx/pagina{n}") for n in range(1, 4)]
    # Not workspace.crawl, whose settings start every host without a delay.
    result = workspace.run(
        "crawl", _cite(workspace, pages), "--timeout", "2",
        "-s", "AUTOTHROTTLE_START_DELAY=6",
        "-s", "DOWNLOAD_DELAY_JITTER=0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    times = [when for when, _ in _pages(site)]
    assert len(times) == 3
    # Scrapy's AutoThrottle would wait the 6 s start delay before the second request, and
    # about 3 s more before the third (the guess averaged with the measured latency).
    assert times[2] - times[0] < 3.0


def test_the_scheduler_hands_out_by_priority_then_in_arrival_order():
    scheduler = CitationScheduler()
    cited = [Request(f"http://127.0.0.1/{n}") for n in range(3)]
    redirect_hop = Request("http://127.0.0.1/hop", priority=2)
    retry = Request("http://127.0.0.1/again", priority=-1)
    for request in (cited[0], retry, cited[1], redirect_hop, cited[2]):
        assert scheduler.enqueue_request(request)
    assert len(scheduler) == 5 and scheduler.has_pending_requests()
    out = [scheduler.next_request() for _ in range(5)]
    assert out == [redirect_hop, cited[0], cited[1], cited[2], retry]
    assert scheduler.next_request() is None and not scheduler.has_pending_requests()


def test_no_more_than_concurrent_requests_are_in_flight(workspace: Workspace, site: MockServer):
    with MockServer(address="127.0.0.2") as second, MockServer(address="127.0.0.3") as third:
        servers = (site, second, third)
        # Each answer takes 1 s; two places in all, two per host: six requests arriving
        # at once would mean the limit counted nothing.
        result = workspace.crawl(
            _cite(workspace, [server.url(f"/slow?s=1&n={n}") for server in servers for n in range(2)]),
            "-s", "CONCURRENT_REQUESTS=2",
            "-s", "AUTOTHROTTLE_ENABLED=False",
            # A soft-404 probe is the spider's own fetch, beside the scheduled requests.
            "-s", "EVIDENCE_PROBE_ENABLED=False",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        log = [(when, path) for server in servers for when, path in server.log()]
    arrivals = sorted(when for when, path in log if path == "/slow")
    assert len(arrivals) == 6, log
    assert all(later - earlier >= 0.8 for earlier, later in zip(arrivals, arrivals[2:], strict=False)), log
