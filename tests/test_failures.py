"""Fetches that fail before any usable answer: each recorded with its kind, no record written."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, DownloadTimeoutError, IgnoreRequest

from warcio.archiveiterator import ArchiveIterator

from crawler.crawl.failures import classify
from crawler.crawl.handlers.addressguard import is_public
from tests.conftest import Workspace
from tests.mockserver import MockServer


def crawl_one(workspace: Workspace, url: str, *extra: str) -> dict:
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {url}\n", encoding="utf-8")
    result = workspace.crawl(str(doc), *extra)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(workspace.run("status", "--json").stdout)[0]


def test_https_to_a_plain_http_port_is_a_tls_failure(workspace: Workspace, site: MockServer):
    row = crawl_one(workspace, site.url("/plan").replace("http://", "https://"))
    assert (row["state"], row["reason"], row["snapshot"]) == ("unreachable", "tls", None)
    types = []
    for path in workspace.warc_files():
        with open(path, "rb") as handle:
            types += [record.rec_type for record in ArchiveIterator(handle)]
    assert types == ["warcinfo", "metadata"], "no half exchange, only the record of what happened"


@pytest.mark.parametrize(
    ("kind", "problems"),
    [("self-signed", ["self_signed"]), ("expired", ["expired", "self_signed"]), ("wrong-host", ["self_signed", "wrong_host"])],
)
def test_bad_certificates_are_captured_all_the_same_and_recorded(workspace: Workspace, kind: str, problems: list[str]):
    # Reachability first: an unverifiable certificate does not hide the evidence.
    with MockServer(tls=kind) as site:
        row = crawl_one(workspace, site.url("/plan"))
        shown = workspace.run("show", site.url("/plan"))
    assert (row["state"], row["http_status"]) == ("ok", 200)
    assert "Plan de Acci" in shown.stdout
    history = json.loads(workspace.run("history", site.url("/plan"), "--json").stdout)
    assert [s for s in history[0]["signals"] if s.startswith("tls_")] == [f"tls_{p}" for p in problems]
    metadata = []
    for path in workspace.warc_files():
        with open(path, "rb") as handle:
            metadata += [r.content_stream().read().decode() for r in ArchiveIterator(handle) if r.rec_type == "metadata"]
    (story,) = metadata
    assert f"tls-problems: {', '.join(problems)}" in story
    assert "tls-certificate: -----BEGIN CERTIFICATE-----" in story and "tls-certificate-sha256: " in story


def test_5xx_after_retries_is_unreachable_with_every_attempt_archived(workspace: Workspace, site: MockServer):
    row = crawl_one(workspace, site.url("/down"))
    assert (row["state"], row["reason"], row["http_status"]) == ("unreachable", "http_503", 503)
    history = workspace.run("history", site.url("/down"), "--json")
    assert json.loads(history.stdout)[0]["snapshot"] == row["snapshot"]
    with sqlite3.connect(workspace.db) as connection:
        statuses = connection.execute("SELECT http_status FROM records WHERE record_type = 'response'").fetchall()
    assert statuses == [(503,), (503,)], "first try and one retry (RETRY_TIMES=1 in the tests)"


def test_redirect_loop_is_cut_with_its_hops_archived(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/loop')}\n", encoding="utf-8")
    assert workspace.crawl(str(doc), "-s", "REDIRECT_MAX_TIMES=3").returncode == 0
    row = json.loads(workspace.run("status", "--json").stdout)[0]
    assert (row["state"], row["reason"]) == ("unreachable", "redirect_loop")
    with sqlite3.connect(workspace.db) as connection:
        (hops,) = connection.execute("SELECT COUNT(*) FROM records WHERE record_type = 'response'").fetchone()
    assert hops == 4


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (CannotResolveHostError("x"), "dns_error"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns_nxdomain"),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), "dns_error"),
        (DownloadTimeoutError("took longer than 30 seconds"), "timeout"),
        (DownloadConnectionRefusedError("refused"), "refused"),
        (IgnoreRequest("max redirections reached"), "redirect_loop"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots"),
    ],
)
def test_classify_names_each_failure(exc: BaseException, kind: str):
    assert classify(exc) == kind


def test_classify_follows_the_cause_chain():
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as inner:
            raise DownloadConnectionRefusedError("connect failed") from inner
    except DownloadConnectionRefusedError as outer:
        assert classify(outer) == "dns_nxdomain", "the resolver's failure, not the wrapper's class, names it"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("224.0.0.1", False), ("0.0.0.0", False), ("240.0.0.1", False),
        ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False),
        ("100.64.0.1", False), ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ],
)
def test_only_public_addresses_pass_the_guard(address: str, public: bool):
    assert is_public(address) is public


def test_private_addresses_are_refused_by_default(tmp_path):
    """With --allow-private off, a loopback site is never contacted, even once."""
    workspace = Workspace(tmp_path)
    env = {k: v for k, v in workspace.env().items() if k != "EVIDENCE_ALLOW_PRIVATE"}
    with MockServer() as site:
        doc = workspace.path / "doc.txt"
        doc.write_text(f"1 See {site.url('/plan')}\n2 See {site.url('/dir')}\n", encoding="utf-8")
        result = workspace.crawl(str(doc), env=env)
        hits = site.hits()
        allowed = workspace.crawl(str(doc), "--allow-private", env=env)
    assert result.returncode == 0, result.stderr
    assert hits == {}, "not a single request reached the private address"
    assert allowed.returncode == 0
    history = [json.loads(workspace.run("history", site.url(p), "--json").stdout) for p in ("/plan", "/dir")]
    assert [[(h["state"], h["reason"]) for h in rows] for rows in history] == [
        [("ok", "first_capture"), ("unreachable", "private_address")]
    ] * 2


def test_a_slow_loris_is_cut_at_the_deadline_and_marked(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/trickle?n=100&every=0.5')}\n", encoding="utf-8")
    result = workspace.crawl(str(doc), "-s", "EVIDENCE_DOWNLOAD_DEADLINE=3")
    assert result.returncode == 0, result.stderr
    history = json.loads(workspace.run("history", site.url("/trickle?n=100&every=0.5"), "--json").stdout)
    assert history[0]["snapshot"], "what arrived before the deadline is archived"
    with sqlite3.connect(workspace.db) as connection:
        (truncated,) = connection.execute(
            "SELECT truncated FROM records WHERE record_type = 'response' AND capture_id IS NOT NULL"
        ).fetchone()
    assert truncated == "time"
    shown = workspace.run("show", site.url("/trickle?n=100&every=0.5")).stdout
    assert 2 <= len(shown) < 100


def test_a_body_cut_short_by_the_server_is_truncated_not_ok(workspace: Workspace, site: MockServer):
    row = crawl_one(workspace, site.url("/short"))
    assert (row["state"], row["reason"]) == ("unreachable", "truncated_disconnect")
    with sqlite3.connect(workspace.db) as connection:
        (truncated,) = connection.execute(
            "SELECT truncated FROM records WHERE record_type = 'response' AND capture_id IS NOT NULL"
        ).fetchone()
    assert truncated == "disconnect"


def test_a_gzip_body_cut_in_half_is_truncated_not_half_a_page(workspace: Workspace, site: MockServer):
    row = crawl_one(workspace, site.url("/gzip-cut"))
    assert (row["state"], row["reason"]) == ("unreachable", "truncated_encoding")
    history = json.loads(workspace.run("history", site.url("/gzip-cut"), "--json").stdout)
    assert "content_coding_cut" in history[0]["signals"]


@pytest.mark.parametrize(("kind", "state"), [("utf8", "ok"), ("binary", "ok"), ("charset", "ok"), ("empty", "ok"), ("204", "ok")])
def test_odd_bodies_are_stored_exactly_and_judged_without_crashing(workspace: Workspace, site: MockServer, kind: str, state: str):
    import requests

    url = site.url(f"/odd?kind={kind}")
    row = crawl_one(workspace, url)
    assert row["state"] == state, row
    original = requests.get(url, timeout=5).content
    shown = workspace.run("show", url, "-o", "body.bin")
    assert shown.returncode == 0, shown.stderr
    assert (workspace.path / "body.bin").read_bytes() == original


def _run_measured(workspace: Workspace, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """``cli.py ARGS`` in a process of its own, and that process's peak RSS in KiB (its own,
    not the largest of every child this test process has had: tests run side by side)."""
    from tests.conftest import ROOT

    out, err = workspace.path / "measured.out", workspace.path / "measured.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), *args], cwd=workspace.path, env=workspace.env(), stdout=stdout, stderr=stderr
        )
        _, status, usage = os.wait4(process.pid, 0)
    result = subprocess.CompletedProcess(args, os.waitstatus_to_exitcode(status), out.read_text(), err.read_text())
    return result, usage.ru_maxrss


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_decompression_bombs_are_bounded_and_flagged(workspace: Workspace, site: MockServer, coding: str):
    from tests.conftest import FAST

    url = site.url(f"/bomb?coding={coding}")
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {url}\n", encoding="utf-8")
    # 1 GiB of zeros, a few MB or less on the wire. The scripted site compresses it on the
    # first request (over a second for gzip): the suite's 2 s timeout would make this a
    # test of the machine's load.
    crawled, crawl_peak = _run_measured(workspace, "crawl", *FAST, "--timeout", "30", str(doc))
    assert crawled.returncode in (0, 1), crawled.stderr
    (row,) = json.loads(workspace.run("status", "--json").stdout)
    assert (row["state"], row["reason"]) == ("ok", "first_capture"), row
    history = json.loads(workspace.run("history", url, "--json").stdout)
    assert "decompression_bomb" in history[0]["signals"]
    shown, show_peak = _run_measured(workspace, "show", url)
    assert shown.returncode == 3
    assert "decompression bomb" in shown.stderr
    raw, raw_peak = _run_measured(workspace, "show", url, "--raw", "-o", "raw.bin")
    assert raw.returncode == 0 and (workspace.path / "raw.bin").stat().st_size < 8 << 20
    # the crawl and both shows stayed far below the inflated gigabyte
    assert max(crawl_peak, show_peak, raw_peak) < 600 * 1024, (crawl_peak, show_peak, raw_peak)


def test_a_ten_gigabyte_stream_keeps_the_first_200_mb_in_bounded_memory(workspace: Workspace, site: MockServer):
    """The default cap (200 MB): the rest is never read, the record says it was cut, and the
    crawl's peak memory stays under twice the cap (Scrapy holds the kept part once)."""
    import os
    import subprocess
    import sys

    from tests.conftest import FAST, ROOT

    url = site.url("/big?n=10737418240")
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {url}\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, str(doc)],
        cwd=workspace.path, env=workspace.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0
    assert usage.ru_maxrss < 2 * 200 * 1024, f"peak RSS {usage.ru_maxrss} KiB"
    with sqlite3.connect(workspace.db) as connection:
        (filename, offset, truncated) = connection.execute(
            "SELECT filename, offset, truncated FROM records WHERE record_type = 'response' AND capture_id IS NOT NULL"
        ).fetchone()
    assert truncated == "length"
    with open(workspace.archive / filename, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Truncated") == "length"
        assert record.http_headers.get_header("Content-Length") == "10737418240"
        assert int(record.rec_headers.get_header("Content-Length")) == 200 * 1024 * 1024 + len(record.http_headers.to_bytes())


@pytest.fixture
def small_disk(tmp_path):
    """A 1.5 MB file system for the archive (tmpfs; needs root, which CI has)."""
    import subprocess

    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()}); CI runs as root and can")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_stops_the_run_with_exit_3_and_keeps_what_was_recorded(workspace: Workspace, site: MockServer, small_disk):
    paths = ["/plan", "/avance", "/nota.pdf"] + [f"/big?n=400000&i={i}" for i in range(12)]
    doc = workspace.path / "doc.txt"
    doc.write_text("".join(f"{i} See {site.url(p)}\n" for i, p in enumerate(paths, 1)), encoding="utf-8")
    # random-looking bodies do not compress: the disk fills after a few of them
    result = workspace.crawl(
        str(doc), "--archive", str(small_disk), "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "EVIDENCE_PROBE_ENABLED=False"
    )
    assert result.returncode == 3, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and "free space" in errors[0]
    with sqlite3.connect(workspace.db) as connection:
        recorded = connection.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
        status = connection.execute("SELECT status FROM runs").fetchone()[0]
        rows = connection.execute("SELECT filename, offset, record_id FROM records").fetchall()
    assert status == "failed" and 0 < recorded < len(paths)
    from crawler.warc.reader import read_record

    for filename, offset, record_id in rows:
        assert read_record(small_disk, filename, offset).header("WARC-Record-ID") == record_id


def test_a_connection_reset_mid_body_keeps_the_partial_exchange_marked(workspace: Workspace, site: MockServer):
    row = crawl_one(workspace, site.url("/reset"))
    assert (row["state"], row["reason"]) == ("unreachable", "truncated_disconnect")
    assert row["snapshot"], "the bytes that arrived are archived"
    with sqlite3.connect(workspace.db) as connection:
        (filename, offset, truncated) = connection.execute(
            "SELECT filename, offset, truncated FROM records WHERE record_type = 'response' AND capture_id IS NOT NULL"
        ).fetchone()
    assert truncated == "disconnect"
    with open(workspace.archive / filename, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Truncated") == "disconnect"
        assert record.content_stream().read() == b"z" * 100


def _peak_rss_of_crawl(workspace: Workspace, doc: Path, *extra: str) -> int:
    import os
    import subprocess
    import sys

    from tests.conftest import FAST, ROOT

    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, *extra, str(doc)],
        cwd=workspace.path, env=workspace.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss * 1024


def test_large_bodies_are_held_a_few_at_a_time(workspace: Workspace, site: MockServer):
    """Eight 24 MB datasets cited together: with one large-body slot the crawl holds about
    one at a time, and every one is still archived whole."""
    size = 24_000_000
    doc = workspace.path / "doc.txt"
    doc.write_text("".join(f"{i} See {site.url(f'/big?n={size}&k={i}')}\n" for i in range(8)), encoding="utf-8")
    wide = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "EVIDENCE_LARGE_BODY_SIZE=1000000")
    unbounded = _peak_rss_of_crawl(workspace, doc, *wide, "-s", "EVIDENCE_LARGE_BODY_SLOTS=0")
    gated = _peak_rss_of_crawl(workspace, doc, *wide, "-s", "EVIDENCE_LARGE_BODY_SLOTS=1")
    assert gated < unbounded - 3 * size, f"one slot {gated >> 20} MiB, no limit {unbounded >> 20} MiB"
    with sqlite3.connect(workspace.db) as connection:
        rows = connection.execute(
            "SELECT state, content_length, truncated FROM captures WHERE run_id = (SELECT max(id) FROM runs)"
        ).fetchall()
    assert rows == [("ok", size, None)] * 8


def test_a_page_holding_a_large_body_slot_gets_its_probe_past_the_hosts_waiting_downloads(workspace: Workspace, site: MockServer):
    """Four large bodies from one host, one slot: the first page's soft-404 probe must not
    queue behind the host's other downloads, which wait for that page to be let go (before
    probes had a download slot of their own, this waited out EVIDENCE_LARGE_BODY_WAIT)."""
    import subprocess
    import sys

    from tests.conftest import FAST, ROOT

    size = 8_000_000
    doc = workspace.path / "doc.txt"
    doc.write_text("".join(f"{i} See {site.url(f'/big?n={size}&k={i}')}\n" for i in range(4)), encoding="utf-8")
    settings = ["-s", "EVIDENCE_LARGE_BODY_SIZE=1000000", "-s", "EVIDENCE_LARGE_BODY_SLOTS=1", "-s", "EVIDENCE_LARGE_BODY_WAIT=3600"]
    # Not a timing: a crawl of 32 MB from loopback that has not ended after two minutes is stuck.
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, *settings, str(doc)],
        cwd=workspace.path, env=workspace.env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(workspace.db) as connection:
        rows = connection.execute("SELECT state, content_length FROM captures").fetchall()
    assert rows == [("ok", size)] * 4


def test_the_archive_folder_moved_away_mid_run_fails_the_run_with_one_line(workspace: Workspace, site: MockServer):
    import subprocess
    import sys
    import time

    from tests.conftest import FAST, ROOT

    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/plan')}\n2 See {site.url('/slow?s=1.5')}\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "crawl", *FAST, str(doc)],
        cwd=workspace.path, env=workspace.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not list(workspace.archive.glob("*.warc.gz.open")):  # the first exchange is written
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    moved = workspace.path / "moved"
    workspace.archive.rename(moved)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 3, err
    assert "cannot close" in err and "keep the archive folder in place while a crawl runs" in err
    assert "Traceback" not in err
    # Put back, the next run closes the file left open and checks every URL again.
    moved.rename(workspace.archive)
    again = workspace.crawl(str(doc))
    assert again.returncode in (0, 1), again.stderr
    assert not list(workspace.archive.glob("*.open"))
    assert workspace.run("verify").returncode == 0
