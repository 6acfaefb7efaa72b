"""A PDF's text is extracted only when a later capture's bytes differ.

The first capture of a PDF stores a ``deferred:`` fingerprint (the digest of its bytes,
no pypdf); the first later capture with other bytes reads the earlier payload back from
the WARC to compare texts, and writes the resolved fingerprint back. Real crawls against
the scripted site on 127.0.0.1, three runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from tests.conftest import Workspace, into_next_second
from tests.mockserver import LAZY_PDFS, MockServer
from tests.pdfs import make_pdf

DEFERRED = "deferred:sha256:"
PATHS = sorted(LAZY_PDFS) + ["/pdfsoft/real.pdf"]


def rows(workspace: Workspace, url: str) -> list[dict]:
    """The captures of ``url``, oldest first."""
    with sqlite3.connect(workspace.db) as connection:
        connection.row_factory = sqlite3.Row
        found = connection.execute(
            "SELECT c.run_id, c.state, c.reason, c.change, c.fingerprint, c.differs_from_first, c.signals, c.id"
            " FROM captures c JOIN targets t ON t.id = c.target_id WHERE t.url = ? ORDER BY c.run_id",
            (url,),
        ).fetchall()
    return [{**dict(row), "signals": json.loads(row["signals"] or "[]")} for row in found]


def write_document(workspace: Workspace, site: MockServer, paths: list[str]) -> str:
    doc = workspace.path / "informe.md"
    doc.write_text("# Informe\n\n" + "".join(f"{i} Disponible en: <{site.url(p)}>\n" for i, p in enumerate(paths, 1)), encoding="utf-8")
    return str(doc)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace(tmp_path_factory.mktemp("lazypdf"))
    with MockServer() as site:
        doc = write_document(workspace, site, PATHS)
        snapshots, results = [], []
        for version in (1, 2, 3):
            site.set_version(version)
            if version > 1:
                into_next_second()
            results.append(workspace.crawl(doc) if version == 1 else workspace.crawl())
            snapshots.append({path: rows(workspace, site.url(path)) for path in PATHS})
        yield {"workspace": workspace, "site": site, "results": results, "rows": snapshots}


def capture(runs, after_run: int, path: str, run: int) -> dict:
    """The capture made by ``run``, as the database held it after ``after_run``."""
    return next(row for row in runs["rows"][after_run - 1][path] if row["run_id"] == run)


def test_first_capture_of_a_pdf_defers_its_text(runs):
    for path in LAZY_PDFS:
        first = capture(runs, 1, path, 1)
        assert (first["state"], first["reason"]) == ("ok", "first_capture"), path
        lines, producer = LAZY_PDFS[path][1]
        # The digest of the bytes as served: pypdf never read them.
        assert first["fingerprint"] == DEFERRED + hashlib.sha256(make_pdf(lines, producer=producer)).hexdigest()
    assert runs["results"][0].returncode == 0, runs["results"][0].stdout + runs["results"][0].stderr


def test_a_probe_answering_with_a_pdf_needs_the_text_now(runs):
    """On a host that answers missing documents with a PDF, the soft-404 probe compares texts."""
    first = capture(runs, 1, "/pdfsoft/real.pdf", 1)
    assert first["fingerprint"].startswith("text-v2:sha256:")
    assert "probe_similar" not in first["signals"]
    assert first["state"] == "ok"


def test_unchanged_bytes_stay_deferred_and_ok(runs):
    for run in (2, 3):
        again = capture(runs, run, "/lazy/fijo.pdf", run)
        assert (again["state"], again["reason"], again["change"]) == ("ok", "unchanged", None)
        assert again["fingerprint"].startswith(DEFERRED), "nothing needed the text"
        assert again["differs_from_first"] == 0


def test_same_text_other_bytes_is_ok_bytes(runs):
    second = capture(runs, 2, "/lazy/regenerado.pdf", 2)
    assert (second["state"], second["reason"], second["change"]) == ("ok", "unchanged", "bytes")
    assert second["fingerprint"].startswith("text-v2:sha256:"), "judged by text: the next run compares text"
    assert second["differs_from_first"] == 0
    assert "previous_unreadable" not in second["signals"]
    # The first capture's deferred fingerprint was resolved and written back.
    first = capture(runs, 2, "/lazy/regenerado.pdf", 1)
    assert first["fingerprint"] == second["fingerprint"]
    third = capture(runs, 3, "/lazy/regenerado.pdf", 3)
    assert (third["state"], third["change"], third["fingerprint"]) == ("ok", None, second["fingerprint"])


def test_other_text_is_changed_text_and_differs_from_first_later(runs):
    second = capture(runs, 2, "/lazy/editado.pdf", 2)
    assert (second["state"], second["reason"], second["change"]) == ("changed", "text", "text")
    assert second["differs_from_first"] == 1
    first = capture(runs, 2, "/lazy/editado.pdf", 1)
    assert first["fingerprint"].startswith("text-v2:sha256:") and first["fingerprint"] != second["fingerprint"]
    third = capture(runs, 3, "/lazy/editado.pdf", 3)
    assert (third["state"], third["reason"], third["change"]) == ("ok", "unchanged", "bytes")
    assert third["differs_from_first"] == 1, "still not what was cited"
    assert runs["site"].url("/lazy/editado.pdf") in runs["results"][1].stdout, "a change is news"


def test_back_to_the_cited_text_does_not_differ_from_first(runs):
    assert capture(runs, 2, "/lazy/vuelta.pdf", 2)["state"] == "changed"
    third = capture(runs, 3, "/lazy/vuelta.pdf", 3)
    assert (third["state"], third["reason"], third["change"]) == ("changed", "text", "text")
    assert third["differs_from_first"] == 0
    assert third["fingerprint"] == capture(runs, 3, "/lazy/vuelta.pdf", 1)["fingerprint"]


def test_diff_reads_the_texts_of_deferred_and_resolved_captures(runs):
    workspace, site = runs["workspace"], runs["site"]
    result = workspace.run("diff", site.url("/lazy/editado.pdf"))  # runs 2 and 3: same text
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("no text difference between")
    history = json.loads(workspace.run("history", site.url("/lazy/vuelta.pdf"), "--json").stdout)
    result = workspace.run("diff", site.url("/lazy/vuelta.pdf"), "--from", history[-1]["checked_at"], "--to", history[-2]["checked_at"])
    assert result.returncode == 0, result.stderr
    assert "-Plazo: 2019." in result.stdout and "+Plazo: 2021." in result.stdout


def test_an_unreadable_earlier_capture_falls_back_to_bytes(tmp_path, site):
    """The first run's WARC files are gone before the second: no crash, a warning, bytes compared."""
    workspace = Workspace(tmp_path)
    doc = write_document(workspace, site, ["/lazy/fijo.pdf", "/lazy/regenerado.pdf", "/lazy/editado.pdf"])
    site.set_version(1)
    assert workspace.crawl(doc).returncode == 0
    removed = workspace.warc_files()
    assert removed
    for path in removed:
        path.unlink()
    site.set_version(2)
    result = workspace.crawl()
    assert result.returncode in (0, 1), result.stderr
    for path in ("/lazy/regenerado.pdf", "/lazy/editado.pdf"):
        second = rows(workspace, site.url(path))[-1]
        # The text of the first capture is out of reach: its bytes differ, so "changed", by bytes.
        assert (second["state"], second["reason"], second["change"]) == ("changed", "bytes", "bytes"), path
        assert "previous_unreadable" in second["signals"]
        assert second["fingerprint"].startswith("text-v2:sha256:"), "the next run compares text"
        assert rows(workspace, site.url(path))[0]["fingerprint"].startswith(DEFERRED), "not resolved, not rewritten"
    warnings = [line for line in result.stderr.splitlines() if "cannot read back the earlier capture" in line]
    assert len(warnings) == 2, result.stderr
    assert all(removed[0].name in line or any(p.name in line for p in removed) for line in warnings)
    # Same bytes: judged without reading the archive, so no warning about it.
    unchanged = rows(workspace, site.url("/lazy/fijo.pdf"))[-1]
    assert (unchanged["state"], unchanged["change"], unchanged["signals"]) == ("ok", None, [])
    assert site.url("/lazy/fijo.pdf") not in "\n".join(warnings)


def test_an_acknowledgement_of_a_deferred_capture_survives_a_regenerated_pdf(tmp_path, site):
    """An ack compares ("present", fingerprint): the resolved fingerprint is written back to
    the acknowledged capture, so a PDF re-generated with the same text keeps it in force."""
    from sqlalchemy import select

    from crawler.store.acks import acks_of, captures_of, covering_ack
    from crawler.store.db import open_database
    from crawler.store.models import Target

    workspace = Workspace(tmp_path)
    doc = write_document(workspace, site, ["/lazy/regenerado.pdf"])
    url = site.url("/lazy/regenerado.pdf")
    site.set_version(1)
    assert workspace.crawl(doc).returncode == 0
    assert rows(workspace, url)[0]["fingerprint"].startswith(DEFERRED)
    acked = workspace.run("ack", url, "--note", "cited version checked")
    assert acked.returncode == 0, acked.stderr
    site.set_version(2)
    assert workspace.crawl().returncode == 0
    assert [(r["state"], r["change"]) for r in rows(workspace, url)] == [("ok", None), ("ok", "bytes")]
    sessions = open_database(str(workspace.db), create=False)
    with sessions() as session:
        target_id = session.scalar(select(Target.id).where(Target.url == url))
        captures = captures_of(session, target_id)
        assert covering_ack(acks_of(session, target_id), captures, captures[-1]) is not None
