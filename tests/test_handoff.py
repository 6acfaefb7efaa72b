"""What the command line hands off to, called as a library: run settings, the rule that a
document must cite something, the time rules, ``db upgrade``'s outcome, the notifier's
unusable settings. A library caller gets the same rules as ``evidence`` does."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.citations import read_document
from crawler.citations.importer import read_cited, require_citations
from crawler.exceptions import DatabaseMissing, NoCitations, SettingError
from crawler.notify import notify
from crawler.reports.times import at_or_after, at_or_before, parse_time, shown
from crawler.runs.lifecycle import News, RunSummary, check_setting, crawl_settings, parse_overrides, process_count, worker_settings
from crawler.runs.local import run_crawl
from crawler.store.db import database_url, display_name, open_database, require_server
from crawler.store.migrate import head_revision, revision, upgrade
from crawler.store.models import Document, Run


def test_overrides_are_name_value_pairs_and_the_last_wins() -> None:
    assert parse_overrides(["A=1", "B=x=y", "A=2", "C="]) == {"A": "2", "B": "x=y", "C": ""}
    for item in ("NOEQUALS", "=value"):
        with pytest.raises(SettingError, match="is not NAME=VALUE") as caught:
            parse_overrides([item])
        assert caught.value.override == item


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("EVIDENCE_WARC_COMPRESSION=tiny", "EVIDENCE_WARC_COMPRESSION='tiny': use one of fast, small"),
        ("EVIDENCE_PROCESSES=two", "EVIDENCE_PROCESSES='two' is not a whole number"),
    ],
)
def test_a_value_a_setting_cannot_take_is_refused_on_the_way_in(item: str, message: str) -> None:
    with pytest.raises(SettingError) as caught:
        parse_overrides([item])
    assert str(caught.value) == message and caught.value.override == item
    # Values the settings can take pass; settings without a check take anything.
    check_setting("EVIDENCE_WARC_COMPRESSION", "small")
    check_setting("EVIDENCE_PROCESSES", "3")
    check_setting("EVIDENCE_GONE_AFTER", "whatever")


def test_crawl_settings_from_options_with_overrides_winning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    chosen = crawl_settings(
        archive="arch", log_level="INFO", user_agent="UA/1", timeout=5.0, max_body=10, gone_after=2,
        obey_robots=True, allow_private=True, processes=2, progress=False,
        overrides=["EVIDENCE_GONE_AFTER=4", "EVIDENCE_PROCESSES=3", "EVIDENCE_PROGRESS_ENABLED=True",
                   "EVIDENCE_SMTP_PASSWORD=secret", "EVIDENCE_NOTIFY_TIMEOUT=5"],
    )
    assert chosen.crawl == {
        "EVIDENCE_ARCHIVE_DIR": str(tmp_path / "arch"), "LOG_LEVEL": "INFO", "USER_AGENT": "UA/1",
        "DOWNLOAD_TIMEOUT": 5.0, "EVIDENCE_MAX_BODY_SIZE": 10, "EVIDENCE_GONE_AFTER": "4", "ROBOTSTXT_OBEY": True,
        "EVIDENCE_ALLOW_PRIVATE": True, "EVIDENCE_PROCESSES": "3",
        # Nothing on the terminal holds whatever -s says.
        "EVIDENCE_PROGRESS_ENABLED": False,
    }
    # The notifier's settings (the SMTP password) are kept out of the crawl and its log.
    assert chosen.notify == {"EVIDENCE_SMTP_PASSWORD": "secret", "EVIDENCE_NOTIFY_TIMEOUT": "5"}
    assert chosen.processes == 3
    plain = crawl_settings(archive=tmp_path, log_level="WARNING")
    assert plain.crawl == {"EVIDENCE_ARCHIVE_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    assert plain.processes == 1 and plain.notify == {}


def test_worker_settings_and_process_count(tmp_path: Path) -> None:
    assert worker_settings(archive=tmp_path, log_level="DEBUG", overrides=["X=1"]) == {
        "EVIDENCE_ARCHIVE_DIR": str(tmp_path), "LOG_LEVEL": "DEBUG", "X": "1",
    }
    assert process_count({}) == 1 and process_count({"EVIDENCE_PROCESSES": "4"}) == 4
    with pytest.raises(SettingError, match="is not a whole number") as caught:
        process_count({"EVIDENCE_PROCESSES": None})
    assert caught.value.override is None


@pytest.mark.parametrize(
    ("value", "upper", "expected"),
    [
        ("2026-11-27", True, datetime(2026, 11, 27, 23, 59, 59, 999_999)),
        ("2026-11-27", False, datetime(2026, 11, 27)),
        ("2026-11-27T10:00Z", True, datetime(2026, 11, 27, 10, 0, 0, 999_999)),
        ("2026-11-27T10:00:05.25", True, datetime(2026, 11, 27, 10, 0, 5, 250_000)),
        ("2026-11-27T10:00-06:00", False, datetime(2026, 11, 27, 16, 0)),
        ("2026-11-27T23:30-06:00", True, datetime(2026, 11, 28, 5, 30, 0, 999_999)),
    ],
)
def test_times_name_a_whole_second_or_day_in_utc(value: str, upper: bool, expected: datetime) -> None:
    assert parse_time(value, upper=upper) == expected


def test_time_bounds_and_how_times_are_shown() -> None:
    assert at_or_before(None) is None and at_or_after(None) is None
    assert at_or_before("2026-11-27") == datetime(2026, 11, 27, 23, 59, 59, 999_999)
    assert at_or_after("2026-11-27") == datetime(2026, 11, 27)
    with pytest.raises(SettingError, match="'yesterday' is not an ISO date or time such as 2026-11-27"):
        parse_time("yesterday")
    assert shown(datetime(2026, 11, 27, 10, 0, 5, 999_999)) == "2026-11-27T10:00:05Z"


def test_a_document_citing_nothing_is_refused_with_what_was_skipped(tmp_path: Path) -> None:
    empty = tmp_path / "notes.md"
    empty.write_text("# Notas\n\nVer ftp://ftp.example.gob.mx/datos.csv\n", encoding="utf-8")
    with pytest.raises(NoCitations) as caught:
        read_cited(str(empty))
    assert str(caught.value) == (
        f"{empty} cites no http or https URL (1 skipped, listed above); check that it is the right document"
    )
    assert [(p.line, p.reason) for p in caught.value.problems] == [(3, "scheme")]
    cited = tmp_path / "doc.md"
    cited.write_text("1. <https://www.gob.mx/sfp>\n", encoding="utf-8")
    document = read_document(str(cited))
    assert require_citations(document) is document


def test_run_crawl_refuses_a_document_citing_nothing_before_recording_any(tmp_path: Path) -> None:
    """The rule is the crawl's own: a library caller cannot record a run over it."""
    good, empty = tmp_path / "doc.md", tmp_path / "notes.md"
    good.write_text("1. <http://127.0.0.1:1/plan>\n", encoding="utf-8")
    empty.write_text("Nada que citar.\n", encoding="utf-8")
    db = str(tmp_path / "evidence.db")
    sessions = open_database(db, create=True)
    documents = [read_document(str(good)), read_document(str(empty))]
    with pytest.raises(NoCitations, match="notes.md cites no http or https URL"):
        run_crawl(sessions, database_url(db), documents, {"EVIDENCE_ARCHIVE_DIR": str(tmp_path / "archive")})
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_workers_need_a_database_server() -> None:
    for value in ("evidence.db", "sqlite:///evidence.db", "sqlite://"):
        with pytest.raises(SettingError, match="workers share one database server"):
            require_server(value)
    require_server("postgresql://evidence@127.0.0.1:5432/evidence")
    assert display_name("postgresql://evidence:secret@127.0.0.1:5432/evidence") == (
        "postgresql://evidence:***@127.0.0.1:5432/evidence"
    )
    assert display_name("evidence.db") == "evidence.db"


def test_upgrade_says_what_it_did(tmp_path: Path) -> None:
    db = str(tmp_path / "evidence.db")
    with pytest.raises(DatabaseMissing):
        revision(db)
    created = upgrade(db)
    assert (created.created, created.migrated, created.before, created.after) == (True, False, None, head_revision())
    again = upgrade(db)
    assert (again.created, again.migrated, again.before) == (False, False, head_revision())
    at = revision(db)
    assert at.current == head_revision() and at.at_head


def test_unusable_notifier_settings_are_a_failed_delivery_not_an_error() -> None:
    news = [News("http://x.gob.mx/", "gone", "gone", "http_404", "ok")]
    summary = RunSummary(run_id=1, status="finished", targets=1, captured=1, news=news)
    # The webhook would be refused (port 1): it is never tried, since the settings are unusable.
    failures = notify(summary, "evidence.db", webhooks=["http://127.0.0.1:1/hook"], settings={"EVIDENCE_SMTP_PORT": "many"})
    assert [str(f) for f in failures] == [
        "EVIDENCE_SMTP_PORT and EVIDENCE_NOTIFY_TIMEOUT must be numbers: invalid literal for int() with base 10: 'many'"
    ]
