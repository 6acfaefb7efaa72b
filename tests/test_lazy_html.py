"""An HTML page's visible text is extracted only when it is needed.

A first capture parses the page for its title and headings (the soft-404 signals read
them) but stores a ``deferred:`` fingerprint instead of walking the text; the first later
capture with other bytes reads the earlier page back from the WARC and compares texts.
Unless the host's soft-404 probe answered 200 with a page: that page's text is compared
with the cited one's at once. Real crawls of the noisy site on 127.0.0.1.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.test_lazy_pdf import DEFERRED, rows, write_document

NOISY = "/aspx/pagina7.aspx"  # same text, other bytes on every request
EDITED = "/aspx/editado.aspx"  # its goal changes in version 2
SOFT = "/soft/directorio"  # on a host answering 200 to any path
ERROR_TITLE = "/clean/guion"  # says "Error 404" in its title from version 2
PATHS = [NOISY, EDITED, SOFT, ERROR_TITLE]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace(tmp_path_factory.mktemp("lazyhtml"))
    late = Workspace(tmp_path_factory.mktemp("lazyhtml-late"))
    with MockServer() as site:
        doc = write_document(workspace, site, PATHS)
        first = workspace.crawl(doc)
        after_first = {path: rows(workspace, site.url(path)) for path in PATHS}
        site.set_version(2)
        second = workspace.crawl()
        after_second = {path: rows(workspace, site.url(path)) for path in PATHS}
        # A report cited the page after it had started saying "not found".
        late_result = late.crawl(write_document(late, site, [ERROR_TITLE]))
        late_rows = rows(late, site.url(ERROR_TITLE))
    yield {"results": [first, second, late_result], "first": after_first, "second": after_second, "late": late_rows}


def test_a_first_capture_defers_the_text(runs):
    assert runs["results"][0].returncode == 0, runs["results"][0].stdout + runs["results"][0].stderr
    for path in (NOISY, EDITED, ERROR_TITLE):
        (capture,) = runs["first"][path]
        assert (capture["state"], capture["reason"]) == ("ok", "first_capture"), path
        assert capture["fingerprint"].startswith(DEFERRED), path
        assert len(capture["fingerprint"]) == len(DEFERRED) + len(hashlib.sha256().hexdigest())


def test_a_probe_answered_with_a_page_needs_the_text_now(runs):
    (capture,) = runs["first"][SOFT]
    assert capture["fingerprint"].startswith("text-v2:sha256:")
    assert capture["state"] == "ok" and "probe_similar" not in capture["signals"]


def test_noise_resolves_the_earlier_text_and_is_not_a_change(runs):
    first, second = runs["second"][NOISY]
    assert (second["state"], second["reason"], second["change"]) == ("ok", "unchanged", "bytes")
    assert second["fingerprint"].startswith("text-v2:sha256:")
    assert first["fingerprint"] == second["fingerprint"], "the deferred row was written back"
    assert "previous_unreadable" not in second["signals"]
    assert second["differs_from_first"] == 0


def test_an_edit_is_a_change_of_text(runs):
    first, second = runs["second"][EDITED]
    assert (second["state"], second["reason"], second["change"]) == ("changed", "text", "text")
    assert first["fingerprint"].startswith("text-v2:sha256:") and first["fingerprint"] != second["fingerprint"]
    assert second["differs_from_first"] == 1


def test_the_title_is_still_read_on_a_deferred_first_capture(runs):
    (capture,) = runs["late"]
    assert capture["fingerprint"].startswith(DEFERRED)
    assert "error_title" in capture["signals"], capture
    assert runs["second"][ERROR_TITLE][1]["state"] != "ok"
