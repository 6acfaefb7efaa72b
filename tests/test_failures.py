"""Fetches that fail before any usable answer: each recorded with its kind, no record written."""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, DownloadTimeoutError, IgnoreRequest

from warcio.archiveiterator import ArchiveIterator

from crawler.failures import classify
from tests.conftest import Workspace
from tests.mockserver import MockServer


def crawl_one(workspace: Workspace, url: str) -> dict:
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {url}\n", encoding="utf-8")
    result = workspace.crawl(str(doc))
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


def test_self_signed_https_is_captured_all_the_same(workspace: Workspace):
    # Reachability first: an unverifiable certificate does not hide the evidence.
    with MockServer(tls=True) as site:
        row = crawl_one(workspace, site.url("/plan"))
        shown = workspace.run("show", site.url("/plan"))
    assert (row["state"], row["http_status"]) == ("ok", 200)
    assert "Plan de Acci" in shown.stdout


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
        (CannotResolveHostError("x"), "dns"),
        (socket.gaierror(-2, "Name or service not known"), "dns"),
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
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as inner:
            raise DownloadConnectionRefusedError("connect failed") from inner
    except DownloadConnectionRefusedError as outer:
        assert classify(outer) == "dns", "the resolver's failure, not the wrapper's class, names it"
