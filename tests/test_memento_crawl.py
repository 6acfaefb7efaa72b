"""The citation-time copy found by the crawl: lookups in a real web archive (pywb on
127.0.0.1 over "2017" WARCs of the test's own site, tests/webarchive.py), kept in the WARC
and the database, shown by `show --cited` and `history`. Every archive here is on
127.0.0.1; the default one is never contacted (Workspace.env empties EVIDENCE_ARCHIVES)."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests import webarchive
from tests.conftest import Workspace
from tests.opensite import OpenSite
from tests.tools import free_port
from tests.webarchive import CASES, Case, WebArchive


@pytest.fixture(scope="module")
def site() -> Iterator[OpenSite]:
    with webarchive.current_site() as server:
        yield server


@pytest.fixture(scope="module")
def archive(site: OpenSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebArchive]:
    yield from webarchive.serve(tmp_path_factory.mktemp("webarchive"), site.url(""))


class Recorder:
    """An "archive" on 127.0.0.1 that logs every request and holds nothing (404)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.paths.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/web/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cite(workspace: Workspace, site: OpenSite, cases: list[Case]) -> str:
    """A Markdown document citing each case's URL with its access date in the note."""
    marks = "".join(f"[^{n}]" for n in range(1, len(cases) + 1))
    notes = [
        f"[^{n}]: {site.url(case.path)} (accessed {case.cited_at:%B} {case.cited_at.day}, {case.cited_at.year})"
        for n, case in enumerate(cases, 1)
    ]
    path = workspace.path / "informe.md"
    path.write_text(f"The report{marks}.\n\n" + "\n".join(notes) + "\n", encoding="utf-8")
    return str(path)


def mementos(workspace: Workspace) -> list[dict[str, object]]:
    with sqlite3.connect(workspace.db) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT t.url, m.* FROM mementos m JOIN targets t ON t.id = m.target_id ORDER BY m.id"
        ).fetchall()
    return [dict(row) for row in rows]


def latest(rows: list[dict[str, object]], url: str, cited_at: date) -> dict[str, object]:
    return [row for row in rows if row["url"] == url and row["cited_at"] == cited_at.isoformat()][-1]


def warc_records(workspace: Workspace) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(type, target URI, WARC headers, content) of every record, read with warcio."""
    out = []
    for path in workspace.warc_files():
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                headers = dict(record.rec_headers.headers)
                out.append((record.rec_type, headers.get("WARC-Target-URI", ""), headers, record.content_stream().read()))
    return out


def states(workspace: Workspace) -> dict[str, tuple[str, str]]:
    rows = json.loads(workspace.run("status", "--json").stdout)
    return {row["url"]: (row["state"], row["reason"]) for row in rows}


def test_the_crawl_keeps_the_memento_of_each_cited_date(tmp_path: Path, site: OpenSite, archive: WebArchive) -> None:
    workspace = Workspace(tmp_path)
    cases = list(CASES.values())
    document = cite(workspace, site, cases)
    result = workspace.crawl(document, "--archives", archive.base)
    # 1: /report and /broken answer 404 today (news), as they would without lookups.
    assert result.returncode == 1 and not result.stderr, result.stderr
    rows = mementos(workspace)
    # One lookup per cited URL and date: /bulletin is cited on three days.
    assert len(rows) == len(cases)
    records = warc_records(workspace)
    by_id = {headers["WARC-Record-ID"]: (kind, uri, headers, content) for kind, uri, headers, content in records}
    for case in cases:
        row = latest(rows, site.url(case.path), case.cited_at)
        if case.expected is None:
            assert row["outcome"] == "none", case.name
            assert row["warc_filename"] is None
            skipped = json.loads(str(row["skipped"]))
            assert [s["datetime"] for s in skipped] == [c.timestamp for c in case.skipped], case.name
            assert row["raw_url"] is None and row["fingerprint"] is None, case.name
            continue
        assert row["outcome"] == "found", case.name
        assert row["memento_datetime"].startswith(case.expected.when.strftime("%Y-%m-%d %H:%M:%S")), case.name
        assert row["original_url"] == site.url(case.expected.path), case.name
        assert row["raw_url"] == f"{archive.base}{case.expected.timestamp}id_/{site.url(case.expected.path)}"
        assert row["memento_url"] == f"{archive.base}{case.expected.timestamp}/{site.url(case.expected.path)}"
        assert str(row["fingerprint"]).startswith("text-v2:sha256:") and row["http_status"] == 200
        assert [s["datetime"] for s in json.loads(str(row["skipped"]))] == [c.timestamp for c in case.skipped], case.name
        # `show --cited` gives the bytes the archive holds, exactly.
        if case.name in ("original", "removed", "redirect", "archived_404"):
            shown = workspace.run("show", "--cited", site.url(case.path), "-o", str(tmp_path / f"{case.name}.html"))
            assert shown.returncode == 0, shown.stderr
            assert (tmp_path / f"{case.name}.html").read_bytes() == case.expected.body, case.name
        # The metadata record beside the memento names it, under a URI of its own.
        [metadata] = [
            (headers, content) for kind, uri, headers, content in records
            if kind == "metadata" and uri == f"urn:evidence:memento:{site.url(case.path)}"
            and f"cited-at: {case.cited_at.isoformat()}".encode() in content
        ]
        headers, content = metadata
        response = by_id[headers["WARC-Refers-To"]]
        # The record of the request as sent: pywb answers a redirect's time with the
        # capture nearest it, named by Content-Location (the row's raw_url).
        assert response[0] in ("response", "revisit") and response[1].startswith(archive.base)
        assert response[1].endswith("id_/" + site.url(case.expected.path))
        assert headers["WARC-Concurrent-To"] == headers["WARC-Refers-To"]
        for field in (
            f"original-url: {row['original_url']}", f"memento-url: {row['memento_url']}", f"archive: {archive.base}",
            f"memento-datetime: {case.expected.when:%a, %d %b %Y %H:%M:%S} GMT",
        ):
            assert field.encode() in content, (case.name, field)
    # An archived "page not found" served with 200 is passed over, named with its signal:
    # the real page of four months before stands for the citation; alone, nothing does.
    for name in ("archived_soft_404", "only_soft_404"):
        case = CASES[name]
        row = latest(rows, site.url(case.path), case.cited_at)
        [soft] = case.skipped
        assert [(s["datetime"], s["status"], s["reason"]) for s in json.loads(str(row["skipped"]))] == [
            (soft.timestamp, 200, "archived page not found (error_title)")
        ], name
    assert str(latest(rows, site.url("/tramites/licencias"), date(2017, 5, 15))["memento_datetime"]).startswith("2017-01-12 15:00")
    # The error page's bytes were fetched (and recorded) to judge it, but no memento
    # record names them as the copy of a cited date.
    soft_uris = {f"{archive.base}{c.timestamp}id_/{site.url(c.path)}" for c in (webarchive.LICENSES_SOFT, webarchive.CALL_SOFT)}
    assert soft_uris <= {uri for kind, uri, _, _ in records if kind == "response"}
    assert not any(kind == "metadata" and b"memento-url: " + uri.replace("id_/", "/").encode() in content
                   for kind, _, _, content in records for uri in soft_uris)
    # The archived redirect was followed inside the archive and archived on the way.
    moved = webarchive.MOVED
    assert any(kind == "response" and uri == f"{archive.base}{moved.timestamp}id_/{site.url(moved.path)}" for kind, uri, _, _ in records)
    # Every exchange with the archive is in the WARC, the TimeMaps first.
    assert any(uri == f"{archive.base}timemap/link/{site.url('/never-archived')}" for _, uri, _, _ in records)

    # The archive's URLs are no cited URLs: not targets, not in status, not in the WACZ pages.
    with sqlite3.connect(workspace.db) as connection:
        targets = {url for (url,) in connection.execute("SELECT url FROM targets")}
        captured = connection.execute("SELECT count(*) FROM captures").fetchone()[0]
    assert targets == {site.url(case.path) for case in cases}
    assert captured == len(targets)
    assert set(states(workspace)) == targets
    exported = workspace.run("export", "--wacz", str(tmp_path / "e.wacz"))
    assert exported.returncode == 0, exported.stderr
    import zipfile

    with zipfile.ZipFile(tmp_path / "e.wacz") as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert {page["url"] for page in pages} == targets

    # history: the live capture and one archive row per cited date, in time order.
    history = json.loads(workspace.run("history", site.url("/bulletin"), "--json").stdout)
    assert [(row["source"], row["checked_at"], row["reason"]) for row in history][1:] == [
        ("archive", "2017-06-20T07:00:00Z", "cited 2017-06-20"),
        ("archive", "2017-06-10T07:00:00Z", "cited 2017-06-05"),
        ("archive", "2017-06-10T07:00:00Z", "cited 2017-06-15"),
    ]
    assert history[0]["source"] == "live" and history[0]["state"] == "ok"
    csv = workspace.run("history", site.url("/never-archived"), "--csv").stdout.splitlines()
    assert csv[0].startswith("source,") and any(line.startswith("archive,") and "memento none" in line for line in csv)

    # Looked up once: the next crawl asks the archive nothing.
    before = sum(1 for _, uri, _, _ in records if uri.startswith(archive.base))
    again = workspace.crawl("--archives", archive.base)
    assert again.returncode in (0, 1), again.stderr
    assert sum(1 for _, uri, _, _ in warc_records(workspace) if uri.startswith(archive.base)) == before
    assert len(mementos(workspace)) == len(cases)

    # lookup --all --refresh asks again, as a run of its own that captures nothing.
    refreshed = workspace.run("lookup", "--all", "--refresh", "--archives", archive.base)
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"{len(cases)} lookups (9 found, 3 none)" in refreshed.stdout
    assert len(mementos(workspace)) == 2 * len(cases)
    with sqlite3.connect(workspace.db) as connection:
        assert connection.execute("SELECT count(*) FROM captures").fetchone()[0] == 2 * len(targets)
    nothing = workspace.run("lookup", "--all", "--archives", archive.base)
    assert nothing.returncode == 0 and "nothing to look up" in nothing.stdout
    shown = workspace.run("show", "--cited", site.url("/plan-2017"))
    assert shown.returncode == 0 and shown.stdout == CASES["original"].expected.body.decode()  # type: ignore[union-attr]
    # The lookups' records are checked with the rest.
    verified = workspace.run("verify")
    assert verified.returncode == 0 and "all intact" in verified.stdout, verified.stdout


def silent_server() -> socket.socket:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


@pytest.mark.parametrize("kind", ["down", "slow"])
def test_an_archive_down_or_slow_leaves_the_verdicts_and_is_asked_again(
    tmp_path: Path, site: OpenSite, archive: WebArchive, kind: str
) -> None:
    cases = [CASES["original"], CASES["removed"], CASES["between"]]
    plain = Workspace(tmp_path / "plain")
    plain.path.mkdir()
    baseline = plain.crawl(cite(plain, site, cases))

    workspace = Workspace(tmp_path / "lookups")
    workspace.path.mkdir()
    listener = silent_server() if kind == "slow" else None
    port = listener.getsockname()[1] if listener else free_port()
    try:
        result = workspace.crawl(cite(workspace, site, cases), "--archives", f"http://127.0.0.1:{port}/web/")
    finally:
        if listener is not None:
            listener.close()
    assert result.returncode == baseline.returncode, result.stderr
    assert list(states(workspace).values()) == list(states(plain).values())
    rows = mementos(workspace)
    assert [row["outcome"] for row in rows] == ["unreachable"] * len(cases)
    assert all(f"127.0.0.1:{port}" in str(row["archive"]) and row["error"] for row in rows)
    shown = workspace.run("show", "--cited", site.url("/plan-2017"))
    assert shown.returncode == 2 and "could not be reached" in shown.stderr

    # The next run asks again, and finds them.
    again = workspace.crawl("--archives", archive.base)
    assert again.returncode in (0, 1), again.stderr
    found = [row for row in mementos(workspace) if row["outcome"] == "found"]
    assert len(found) == len(cases)
    assert workspace.run("show", "--cited", site.url("/plan-2017")).stdout.encode() == CASES["original"].current


def test_no_lookup_leaves_when_archives_are_empty(tmp_path: Path, site: OpenSite) -> None:
    recorder = Recorder()
    try:
        cases = [CASES["original"], CASES["never"]]
        # Positive control: the same crawl with the recorder named asks it.
        named = Workspace(tmp_path / "named")
        named.path.mkdir()
        result = named.crawl(cite(named, site, cases), env=named.env(EVIDENCE_ARCHIVES=recorder.base))
        assert result.returncode == 0, result.stderr
        assert len(recorder.paths) == len(cases)
        assert [row["outcome"] for row in mementos(named)] == ["none", "none"]
        recorder.paths.clear()

        off = Workspace(tmp_path / "off")
        off.path.mkdir()
        document = cite(off, site, cases)
        # --archives "" wins over the environment; then the environment's empty value.
        assert off.crawl(document, "--archives", "", env=off.env(EVIDENCE_ARCHIVES=recorder.base)).returncode == 0
        assert off.crawl().returncode == 0
        lookup = off.run("lookup", "--all")
        assert lookup.returncode == 2 and "EVIDENCE_ARCHIVES is empty" in lookup.stderr
    finally:
        recorder.close()
    assert recorder.paths == []
    assert mementos(off) == []
    cited = {site.url(case.path) for case in cases}
    fetched = {uri for kind, uri, _, _ in warc_records(off) if kind == "request"}
    # Only the site itself: the cited URLs and their soft-404 probes.
    assert all(uri.startswith(site.url("/")) for uri in fetched) and cited <= fetched


def test_show_cited_says_how_to_get_a_memento(tmp_path: Path, site: OpenSite) -> None:
    workspace = Workspace(tmp_path)
    document = workspace.path / "plain.md"
    document.write_text(f"Text[^1].\n\n[^1]: {site.url('/plan-2017')}\n", encoding="utf-8")
    assert workspace.crawl(str(document)).returncode == 0
    shown = workspace.run("show", "--cited", site.url("/plan-2017"))
    assert shown.returncode == 2 and "has no cited date" in shown.stderr and "--cited-at" in shown.stderr
    unknown = workspace.run("lookup", site.url("/plan-2017"), "--archives", "http://127.0.0.1:9/web/")
    assert unknown.returncode == 2 and "not a cited URL with a cited date" in unknown.stderr
    both = workspace.run("show", "--cited", "--at", "2020-01-01", site.url("/plan-2017"))
    assert both.returncode == 2
    bad = workspace.crawl("--archives", "ftp://archive.example/web/")
    assert bad.returncode == 2 and "EVIDENCE_ARCHIVES" in bad.stderr
