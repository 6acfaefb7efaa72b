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
