"""The command line's argument handling, in process (click's CliRunner): every command's
usage errors and input errors give one ``Error:`` line and the documented exit code,
through the one error-to-exit-code path (``cli.EvidenceGroup``). The real runs stay in
subprocess tests (tests/test_cli*.py, tests/test_crawl.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import EXIT_FAILURE, EXIT_INPUT, EXIT_LOCKED, EXIT_OK, _fail, cli
from crawler.exceptions import ArchiveError, DatabaseMissing, DocumentError, EvidenceError, NotFound, RunLocked


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for name in ("EVIDENCE_DB", "EVIDENCE_ARCHIVE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (DocumentError("x"), EXIT_INPUT), (NotFound("x"), EXIT_INPUT), (DatabaseMissing("x"), EXIT_INPUT),
        (ArchiveError("x"), EXIT_FAILURE), (EvidenceError("x"), EXIT_FAILURE), (RunLocked("x"), EXIT_LOCKED),
    ],
)
def test_each_domain_error_has_its_exit_code(exc: EvidenceError, code: int) -> None:
    assert _fail(exc).exit_code == code


@pytest.mark.parametrize(
    "args",
    [("status",), ("history", "http://x.gob.mx/"), ("show", "http://x.gob.mx/"), ("diff", "http://x.gob.mx/"),
     ("verify",), ("report",), ("index",), ("export", "--json", "out.json"), ("ack", "http://x.gob.mx/")],
)
def test_reading_commands_without_a_database_are_input_errors(run, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == EXIT_INPUT, result.output
    assert error_line(result).startswith(f"Error: no evidence database at {tmp_path / 'evidence.db'}")
    assert not (tmp_path / "evidence.db").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("crawl", "-s", "NOEQUALS"), ("crawl", "--timeout", "0"), ("crawl", "--max-body", "-1"), ("crawl", "--gone-after", "0"),
        ("crawl", "--no-such-option"), ("export",), ("nosuchcommand",), ("show",),
    ],
)
def test_usage_errors_exit_2_and_touch_nothing(run, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == EXIT_INPUT, result.output
    assert "Error:" in result.stderr
    assert not (tmp_path / "evidence.db").exists() and not (tmp_path / "archive").exists()


def test_a_missing_document_is_named(run, tmp_path: Path) -> None:
    result = run("import", "nofile.md")
    assert result.exit_code == EXIT_INPUT
    assert error_line(result) == "Error: nofile.md does not exist; check the path and try again"


def test_a_document_citing_nothing_is_an_input_error(run, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notas\n\nNada que citar.\n", encoding="utf-8")
    result = run("import", "notes.md")
    assert result.exit_code == EXIT_INPUT
    assert error_line(result) == "Error: notes.md cites no http or https URL; check that it is the right document"


def test_import_then_status_in_process(run, tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text("1. Véase <https://www.gob.mx/sfp>\n", encoding="utf-8")
    assert run("import", "doc.md").exit_code == EXIT_OK
    result = run("status", "--json")
    assert result.exit_code == EXIT_OK
    assert '"state": "unchecked"' in result.stdout and "https://www.gob.mx/sfp" in result.stdout
    unknown = run("history", "http://unknown.gob.mx/")
    assert unknown.exit_code == EXIT_INPUT
    assert error_line(unknown) == "Error: http://unknown.gob.mx/ is not a cited URL in the database; `evidence status` lists them"


def test_help_lists_the_exit_codes(run) -> None:
    result = run("--help")
    assert result.exit_code == EXIT_OK
    assert "4  another crawl holds this database" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("crawl", "-s", "EVIDENCE_PROCESSES=two"),
         "Error: Invalid value for -s/--set: EVIDENCE_PROCESSES='two' is not a whole number"),
        (("crawl", "-s", "EVIDENCE_WARC_COMPRESSION=tiny"),
         "Error: Invalid value for -s/--set: EVIDENCE_WARC_COMPRESSION='tiny': use one of fast, small"),
        (("worker", "--frontier", "redis://127.0.0.1:1/0", "--db", "postgresql://e@127.0.0.1:1/e", "-s", "NOEQUALS"),
         "Error: Invalid value for -s/--set: 'NOEQUALS' is not NAME=VALUE"),
        (("crawl", "--frontier", "redis://127.0.0.1:1/0"),
         "Error: workers share one database server: give --db postgresql://USER@HOST/NAME (an SQLite file serves one machine's crawl)"),
        (("worker", "--frontier", "redis://127.0.0.1:1/0"),
         "Error: workers share one database server: give --db postgresql://USER@HOST/NAME (an SQLite file serves one machine's crawl)"),
        (("crawl", "--workers", "2"),
         "Error: --workers starts workers for a frontier: give --frontier redis://HOST:PORT/N too"),
        (("crawl", "--frontier", "redis://127.0.0.1:1/0", "--db", "postgresql://e@127.0.0.1:1/e", "--processes", "2"),
         "Error: --processes splits a local crawl; with --frontier start more workers instead (--workers N)"),
        (("show", "http://x.gob.mx/", "--at", "yesterday"),
         "Error: Invalid value for '--at': 'yesterday' is not an ISO date or time such as 2026-11-27 or 2026-11-27T10:00Z"),
        (("diff", "http://x.gob.mx/", "--to", "27/11/2026"),
         "Error: Invalid value for '--to': '27/11/2026' is not an ISO date or time such as 2026-11-27 or 2026-11-27T10:00Z"),
        (("export", "--wacz", "out.wacz", "--since", "soon"),
         "Error: Invalid value for '--since': 'soon' is not an ISO date or time such as 2026-11-27 or 2026-11-27T10:00Z"),
    ],
)
def test_refused_settings_and_times_are_usage_errors_before_anything_is_touched(
    run, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(*args)
    assert result.exit_code == EXIT_INPUT, result.output
    assert error_line(result) == message
    # Shown as click shows its own usage errors: with the command's usage line.
    assert f"Usage: cli {args[0]} [OPTIONS]" in result.stderr
    assert not (tmp_path / "evidence.db").exists() and not (tmp_path / "archive").exists()


def test_a_document_citing_nothing_lists_what_was_skipped_above_the_error(run, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notas\n\nVer ftp://ftp.example.gob.mx/datos.csv\n", encoding="utf-8")
    for command in ("import", "crawl"):
        result = run(command, "notes.md")
        assert result.exit_code == EXIT_INPUT
        assert result.stderr.splitlines() == [
            "notes.md:3: skipped ftp://ftp.example.gob.mx/datos.csv (scheme)",
            "Error: notes.md cites no http or https URL (1 skipped, listed above); check that it is the right document",
        ]
    assert not (tmp_path / "evidence.db").exists()


def test_import_dry_run_json_is_the_documents_shape(run, tmp_path: Path) -> None:
    import json

    (tmp_path / "doc.md").write_text("1. Véase <https://www.gob.mx/sfp> y <https://WWW.GOB.MX/sfp>\n", encoding="utf-8")
    result = run("import", "doc.md", "--dry-run", "--json")
    assert result.exit_code == EXIT_OK
    (document,) = json.loads(result.stdout)
    assert document["source"] == "doc.md" and document["recorded"] is False
    assert [c["url"] for c in document["citations"]] == ["https://www.gob.mx/sfp", "https://WWW.GOB.MX/sfp"]
    text = run("import", "doc.md", "--dry-run")
    assert "doc.md: 2 citations in 1 footnotes, 1 distinct URLs, 0 skipped (dry run: nothing recorded)" in text.stdout
    assert not (tmp_path / "evidence.db").exists()


def test_db_upgrade_and_current_in_process(run, tmp_path: Path) -> None:
    from crawler.store.migrate import head_revision

    head = head_revision()
    assert run("db", "current").exit_code == EXIT_INPUT
    assert run("db", "upgrade").stdout == f"evidence.db: created at revision {head}\n"
    assert run("db", "upgrade").stdout == f"evidence.db: already at revision {head} (head)\n"
    assert run("db", "current").stdout == f"evidence.db: revision {head} (head)\n"


def test_verify_json_of_an_empty_archive(run, tmp_path: Path) -> None:
    import json

    assert run("db", "upgrade").exit_code == EXIT_OK
    result = run("verify", "--json")
    assert result.exit_code == EXIT_OK
    assert json.loads(result.stdout) == {
        "intact": True, "records": 0, "files": 0, "damage": [], "unclosed": [], "unrecorded": [],
        "timestamps": {"proven": [], "signatures_checked": False, "unstamped": []},
    }
