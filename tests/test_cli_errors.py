"""Bad input gets one clear line, a documented exit code, and loses nothing recorded."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import Workspace
from tests.mockserver import MockServer


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_document_is_an_input_error_and_creates_nothing(workspace: Workspace):
    result = workspace.crawl("nofile.md")
    assert result.returncode == 2
    assert error_line(result) == "Error: nofile.md does not exist; check the path and try again"
    assert not workspace.db.exists()
    assert not workspace.archive.exists()


def test_unreadable_documents_name_the_file(workspace: Workspace):
    (workspace.path / "empty.md").write_text("")
    (workspace.path / "report.pdf").write_bytes(b"%PDF-1.4\n\x00\x01binary")
    for name in ("empty.md", "report.pdf"):
        result = workspace.run("import", name)
        assert result.returncode == 2
        assert name in error_line(result)


def test_other_schemes_and_malformed_urls_are_reported_by_line_and_never_crawled(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.md"
    doc.write_text(
        "# Informe\n\n"
        "1 Disponible en: <ftp://ftp.example.gob.mx/datos.csv>\n"
        "2 Disponible en: <http://exa mple.gob.mx/>\n"
        f"3 Disponible en: <{site.url('/plan')}>\n"
        "4 Escríbanos: mailto:contacto@example.gob.mx\n",
        encoding="utf-8",
    )
    result = workspace.crawl(str(doc))
    assert result.returncode == 0, result.stderr
    assert f"{doc}:3: skipped ftp://ftp.example.gob.mx/datos.csv (scheme)" in result.stderr
    assert f"{doc}:4: skipped http://exa mple.gob.mx/ (malformed)" in result.stderr
    assert f"{doc}:6: skipped mailto:contacto@example.gob.mx (scheme)" in result.stderr
    with sqlite3.connect(workspace.db) as connection:
        assert connection.execute("SELECT url FROM targets").fetchall() == [(site.url("/plan"),)]


def test_reading_commands_need_an_existing_database(workspace: Workspace):
    for args in (("status",), ("history", "http://x.gob.mx/"), ("show", "http://x.gob.mx/")):
        result = workspace.run(*args)
        assert result.returncode == 2
        assert error_line(result) == (
            f"Error: no evidence database at {workspace.db}; run `evidence crawl` first or point --db / EVIDENCE_DB at one"
        )
    assert not workspace.db.exists()


def test_a_file_that_is_not_a_database_is_left_untouched(workspace: Workspace):
    workspace.db.write_bytes(b"not a database at all" * 100)
    result = workspace.run("status")
    assert result.returncode == 3
    assert error_line(result).startswith(f"Error: {workspace.db} is not a readable SQLite database")
    assert workspace.db.read_bytes() == b"not a database at all" * 100


def test_unknown_url_and_bad_options(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.md"
    doc.write_text(f"1 See {site.url('/plan')}\n", encoding="utf-8")
    assert workspace.crawl(str(doc)).returncode == 0
    unknown = workspace.run("show", "http://unknown.gob.mx/")
    assert unknown.returncode == 2
    assert error_line(unknown) == "Error: http://unknown.gob.mx/ is not a cited URL in the database; `evidence status` lists them"
    assert workspace.run("show", site.url("/plan"), "--at", "yesterday").returncode == 2
    assert workspace.run("crawl", "-s", "NOEQUALS").returncode == 2
    assert workspace.run("crawl", "--timeout", "0").returncode == 2


def test_damaged_or_missing_warc_is_an_operational_error_naming_the_file(workspace: Workspace, site: MockServer):
    doc = workspace.path / "doc.md"
    doc.write_text(f"1 See {site.url('/plan')}\n", encoding="utf-8")
    assert workspace.crawl(str(doc)).returncode == 0
    row = json.loads(workspace.run("status", "--json").stdout)[0]
    filename, offset = row["snapshot"].split("#")
    path = workspace.archive / filename
    original = path.read_bytes()

    damaged = bytearray(original)
    damaged[int(offset) + 40] ^= 0xFF
    path.write_bytes(bytes(damaged))
    result = workspace.run("show", site.url("/plan"))
    assert result.returncode == 3
    assert f"{filename} at offset {offset}" in error_line(result)

    path.unlink()
    result = workspace.run("show", site.url("/plan"))
    assert result.returncode == 3
    assert error_line(result) == (
        f"Error: WARC file {filename} is missing from {workspace.archive}; "
        "point --archive (or EVIDENCE_ARCHIVE) at the folder that holds it"
    )
    # the database still knows where the evidence was
    moved = workspace.path / "elsewhere"
    moved.mkdir()
    (moved / filename).write_bytes(original)
    found = workspace.run("show", site.url("/plan"), "--archive", str(moved))
    assert found.returncode == 0 and "Plan de Acci" in found.stdout


def test_help_documents_the_exit_codes(workspace: Workspace):
    result = workspace.run("crawl", "--help")
    assert result.returncode == 0
    for line in (
        "0  done, nothing new to report",
        "1  news: evidence changed, moved, gone or restored",
        "2  usage or input error",
        "3  operational failure",
    ):
        assert line in result.stdout


def test_a_document_that_cites_nothing_is_an_input_error(workspace: Workspace):
    (workspace.path / "notes.md").write_text("# Notas\n\nNada que citar aquí.\n", encoding="utf-8")
    for command in ("import", "crawl"):
        result = workspace.run(command, "notes.md")
        assert result.returncode == 2
        assert error_line(result) == "Error: notes.md cites no http or https URL; check that it is the right document"
    assert not workspace.db.exists()


def test_an_unknown_warc_compression_is_refused_before_anything_is_written(workspace: Workspace):
    (workspace.path / "doc.txt").write_text("1 See http://127.0.0.1:1/x\n", encoding="utf-8")
    result = workspace.crawl("doc.txt", "-s", "EVIDENCE_WARC_COMPRESSION=tiny")
    assert result.returncode == 2
    assert "EVIDENCE_WARC_COMPRESSION='tiny': use one of fast, small" in result.stderr
    assert not workspace.db.exists() and not workspace.archive.exists()
