"""End to end: a document citing a scripted site, crawled twice with the site changed
between runs; states from the database, bytes from the WARC files read back with
warcio and FastWARC, snapshots through ``evidence show``."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from fastwarc.warc import WarcRecordType
from warcio.archiveiterator import ArchiveIterator

from crawler.crawl.spider import by_host_in_turn
from tests.conftest import Workspace
from tests.mockserver import PDF_BYTES, MockServer

PAGES = {
    "1": "/plan",
    "2": "/avance",
    "3": "/nota",
    "4": "/directorio",
    "5": "/gobiernoabierto",
    "6": "/dir",
    "7": "/nota.pdf",
    "8": "/status/404",
    "9": "/slow?s=4",
    "10": "/flaky",
    "11": "/echo?a=1&b=&c=%C3%B3",
}


def write_report(site: MockServer, path: Path) -> Path:
    lines = ["# Informe sombra de prueba", "", "Los compromisos¹ se revisaron² en 2018³.", ""]
    for label, page in PAGES.items():
        lines.append(f"{label} Disponible en: <{site.url(page)}>")
    # Cited a second time: still one fetch per run.
    lines.append(f"12 Véase también {site.url('/plan')}.")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def states(workspace: Workspace) -> dict[str, tuple[str, str]]:
    result = workspace.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["url"]: (row["state"], row["reason"]) for row in json.loads(result.stdout)}


def db_rows(workspace: Workspace, query: str) -> list[tuple]:
    """Rows of an SQL query written for both SQLite and PostgreSQL."""
    if workspace.db_url:
        import psycopg

        with psycopg.connect(workspace.db_url) as connection:
            return [tuple(row) for row in connection.execute(query).fetchall()]
    with sqlite3.connect(workspace.db) as connection:
        return connection.execute(query).fetchall()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crawled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Run 1 on version 1 of the site, run 2 on version 2, runs 3 and 4 unchanged: the
    same scenario on the embedded SQLite file and on a PostgreSQL server."""
    workspace = Workspace(tmp_path_factory.mktemp("e2e"))
    if request.param == "postgresql":
        workspace.db_url = request.getfixturevalue("postgres").create_database()
    with MockServer() as site:
        report = write_report(site, workspace.path / "report.md")
        first = workspace.crawl(str(report))
        first_states = states(workspace)
        site.set_version(2)
        second = workspace.crawl()
        second_states = states(workspace)
        third = workspace.crawl()
        third_states = states(workspace)
        fourth = workspace.crawl()
        yield {
            "workspace": workspace,
            "site": site,
            "runs": [first, second, third, fourth],
            "states": [first_states, second_states, third_states],
        }


def test_first_run_states(crawled):
    site, first = crawled["site"], crawled["runs"][0]
    got = crawled["states"][0]
    assert got[site.url("/plan")] == ("ok", "first_capture")
    assert got[site.url("/nota.pdf")] == ("ok", "first_capture")
    assert got[site.url("/dir")] == ("ok", "first_capture"), "a trailing-slash redirect is not a move"
    assert got[site.url("/status/404")] == ("gone", "http_404")
    assert got[site.url("/slow?s=4")] == ("unreachable", "timeout")
    assert got[site.url("/flaky")] == ("ok", "first_capture"), "a 503 then 200 is retried, not reported"
    # A gone citation on the first run is news: exit 1.
    assert first.returncode == 1, first.stderr
    assert "gone" in first.stdout and site.url("/status/404") in first.stdout


def test_second_run_sees_changes_moves_and_removals(crawled):
    site, second = crawled["site"], crawled["runs"][1]
    got = crawled["states"][1]
    assert got[site.url("/plan")] == ("ok", "unchanged")
    assert got[site.url("/avance")] == ("changed", "text")
    assert got[site.url("/nota")] == ("gone", "http_404")
    assert got[site.url("/directorio")] == ("gone", "http_410")
    assert got[site.url("/gobiernoabierto")] == ("moved", "redirect")
    assert second.returncode == 1
    news = second.stdout
    for page in ("/avance", "/nota", "/directorio", "/gobiernoabierto"):
        assert site.url(page) in news
    assert site.url("/status/404") not in news, "still gone is not news"


def test_a_failure_lasting_three_runs_becomes_gone(crawled):
    site, third = crawled["site"], crawled["runs"][2]
    assert crawled["states"][1][site.url("/slow?s=4")] == ("unreachable", "timeout")
    assert crawled["states"][2][site.url("/slow?s=4")] == ("gone", "persistent_timeout")
    assert third.returncode == 1
    news = [line for line in third.stdout.splitlines() if line.startswith("  ")]
    assert news == [f"  gone        persistent_timeout {site.url('/slow?s=4')}"]


def test_a_run_without_changes_exits_zero(crawled):
    fourth = crawled["runs"][3]
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert "no news" in fourth.stdout


def test_one_fetch_per_url_per_run(crawled):
    workspace = crawled["workspace"]
    per_run = db_rows(workspace, "SELECT run_id, COUNT(*), COUNT(DISTINCT target_id) FROM captures GROUP BY run_id ORDER BY run_id")
    assert per_run == [(1, 11, 11), (2, 11, 11), (3, 11, 11), (4, 11, 11)]
    citations = db_rows(workspace, "SELECT COUNT(*) FROM citations")
    assert citations == [(12,)]


def test_status_formats(crawled):
    workspace = crawled["workspace"]
    table = workspace.run("status")
    assert table.returncode == 0
    header = table.stdout.splitlines()[0].split()
    assert header == [
        "document", "footnote", "url", "state", "reason", "http_status", "checked_at", "differs_from_first", "snapshot", "cited_at",
        "since_citation", "memento_url", "memento_datetime", "claims", "render",
    ]
    csv_out = workspace.run("status", "--csv").stdout.splitlines()
    assert csv_out[0] == (
        "document,footnote,url,state,reason,http_status,checked_at,differs_from_first,snapshot,cited_at,"
        "since_citation,memento_url,memento_datetime,claims,render"
    )
    assert len(csv_out) == 13
    rows = json.loads(workspace.run("status", "--json").stdout)
    assert {row["document"] for row in rows} == {"report.md"}
    assert [row["footnote"] for row in rows][-1] == "12"


def test_history_lists_every_capture_newest_first(crawled):
    workspace, site = crawled["workspace"], crawled["site"]
    rows = json.loads(workspace.run("history", site.url("/avance"), "--json").stdout)
    assert [row["run"] for row in rows] == [4, 3, 2, 1]
    assert [row["state"] for row in rows] == ["ok", "ok", "changed", "ok"]
    assert rows[0]["payload_digest"] == rows[1]["payload_digest"] == rows[2]["payload_digest"] != rows[3]["payload_digest"]


def test_show_returns_the_original_pdf_bytes(crawled):
    workspace, site = crawled["workspace"], crawled["site"]
    shown = workspace.run("show", site.url("/nota.pdf"), "-o", "nota.pdf")
    assert shown.returncode == 0, shown.stderr
    assert (workspace.path / "nota.pdf").read_bytes() == PDF_BYTES
    raw = workspace.run("show", site.url("/nota.pdf"), "--raw", "-o", "raw.gz")
    assert raw.returncode == 0
    assert (workspace.path / "raw.gz").read_bytes() == gzip.compress(PDF_BYTES, mtime=0)


def test_show_at_an_earlier_time_gives_the_earlier_text(crawled):
    workspace, site = crawled["workspace"], crawled["site"]
    history = json.loads(workspace.run("history", site.url("/avance"), "--json").stdout)
    first_time = history[-1]["checked_at"]
    old = workspace.run("show", site.url("/avance"), "--at", first_time)
    new = workspace.run("show", site.url("/avance"))
    assert "100 medidores" in old.stdout
    assert "40 medidores" in new.stdout


def test_every_warc_record_verifies_with_warcio_and_fastwarc(crawled):
    workspace = crawled["workspace"]
    files = workspace.warc_files()
    assert len(files) == 4 and all(f.name.endswith(".warc.gz") for f in files), "one closed file per run"
    total = 0
    for path in files:
        with open(path, "rb") as handle:
            records = list(_warcio_records(handle))
        assert records[0][0] == "warcinfo"
        total += len(records)
        fast_blocks = [r.verify_block_digest(consume=False) for r in FastArchiveIterator(str(path), parse_http=False, fsspec_args=False)]
        assert len(fast_blocks) == len(records) and all(fast_blocks)
        fast_payloads = [
            r.verify_payload_digest(consume=False)
            for r in FastArchiveIterator(str(path), parse_http=True, fsspec_args=False, record_types=WarcRecordType.response)
        ]
        assert fast_payloads and all(fast_payloads)
    (records_in_db,) = db_rows(workspace, "SELECT COUNT(*) FROM records")[0]
    assert total == records_in_db + len(files), "every record but the warcinfo ones is in the database"


def _warcio_records(handle):
    iterator = ArchiveIterator(handle, check_digests="raise")
    for record in iterator:
        record.content_stream().read()
        yield record.rec_type, record.rec_headers.get_header("WARC-Warc-Version") or record.rec_headers.protocol


def test_database_offsets_point_at_the_named_records(crawled):
    workspace = crawled["workspace"]
    rows = db_rows(workspace, "SELECT filename, \"offset\", record_id, record_type, target_uri FROM records")
    assert rows
    for filename, offset, record_id, record_type, target_uri in rows:
        with open(workspace.archive / filename, "rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
            assert record.rec_headers.get_header("WARC-Record-ID") == record_id
            assert record.rec_type == record_type
            assert record.rec_headers.get_header("WARC-Target-URI") == target_uri
            assert record.rec_headers.protocol == "WARC/1.1"


def test_redirect_hops_and_retries_are_all_archived(crawled):
    workspace, site = crawled["workspace"], crawled["site"]
    hops = db_rows(
        workspace,
        "SELECT r.target_uri, r.http_status FROM records r JOIN captures c ON r.capture_id = c.id "
        "JOIN targets t ON c.target_id = t.id WHERE c.run_id = 1 AND r.record_type = 'response' "
        f"AND t.url IN ('{site.url('/flaky')}', '{site.url('/dir')}') ORDER BY r.capture_id, r.position",
    )
    assert sorted(hops) == sorted(
        [(site.url("/flaky"), 503), (site.url("/flaky"), 200), (site.url("/dir"), 301), (site.url("/dir/"), 200)]
    )
    chain = db_rows(
        workspace,
        "SELECT redirect_chain FROM captures c JOIN targets t ON c.target_id = t.id "
        f"WHERE c.run_id = 2 AND t.url = '{site.url('/gobiernoabierto')}'",
    )
    value = chain[0][0]
    assert (json.loads(value) if isinstance(value, str) else value) == [
        {"url": site.url("/gobiernoabierto"), "status": 301},
        {"url": site.url("/nuevo/gobierno-abierto"), "status": 200},
    ]


def test_failed_fetch_is_recorded_with_its_error_and_no_record(crawled):
    workspace, site = crawled["workspace"], crawled["site"]
    rows = db_rows(
        workspace,
        "SELECT c.error_kind, c.warc_filename, SUM(CASE WHEN r.record_type = 'metadata' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN r.record_type != 'metadata' THEN 1 ELSE 0 END) "
        "FROM captures c JOIN targets t ON c.target_id = t.id "
        f"LEFT JOIN records r ON r.capture_id = c.id WHERE t.url = '{site.url('/slow?s=4')}' GROUP BY c.id",
    )
    # no exchange was archived, only the metadata record saying what happened
    assert rows == [("timeout", None, 1, 0)] * 4


def test_verify_export_and_index_read_the_same_database(crawled):
    workspace = crawled["workspace"]
    verified = workspace.run("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.strip().endswith("closed files: all intact")
    (records,) = db_rows(workspace, "SELECT COUNT(*) FROM records")[0]
    assert f"verified {records} records and 4 closed files" in verified.stdout
    exported = workspace.run("export", "--wacz", "out.wacz", "--csv", "out.csv")
    assert exported.returncode == 0, exported.stderr
    assert (workspace.path / "out.wacz").stat().st_size > 0
    assert len((workspace.path / "out.csv").read_text(encoding="utf-8").splitlines()) == 13
    indexed = workspace.run("index")
    assert indexed.returncode == 0, indexed.stderr
    assert (workspace.archive / "index.cdxj").read_text(encoding="utf-8").count("\n") > 11


def test_diff_report_annotate_and_ack_read_and_write_the_same_database(crawled):
    workspace, site = crawled["workspace"], crawled["site"]
    history = json.loads(workspace.run("history", site.url("/avance"), "--json").stdout)
    older, newer = history[-1]["checked_at"], history[-2]["checked_at"]
    diff = workspace.run("diff", site.url("/avance"), "--from", older, "--to", newer)
    assert diff.returncode == 0, diff.stderr
    assert "\n-Meta: 100 medidores instalados.\n+Meta: 40 medidores instalados.\n" in diff.stdout, diff.stdout
    report = workspace.run("report", "-o", "report.html")
    assert report.returncode == 0, report.stderr
    assert "12 citations" in report.stdout
    annotated = workspace.run("annotate", "report.md", "-o", "annotated.md")
    assert annotated.returncode == 0, annotated.stderr
    assert "archived on" in (workspace.path / "annotated.md").read_text(encoding="utf-8")
    acked = workspace.run("ack", "--all", "--note", "seen")
    assert acked.returncode == 0, acked.stderr
    assert f"acknowledged {site.url('/avance')}" in acked.stdout
    again = workspace.run("ack", "--all")
    assert again.stdout.startswith("nothing to acknowledge")


def test_the_database_file_alone_holds_every_run(workspace: Workspace, site: MockServer):
    """After the command exits, nothing is left only in SQLite's write-ahead log: a copy of
    evidence.db on its own has every run and capture."""
    report = workspace.path / "informe.md"
    report.write_text("".join(f"{n} Ver {site.url(p)}\n" for n, p in enumerate(["/plan", "/avance"], 1)), encoding="utf-8")
    for _ in range(2):
        result = workspace.crawl(str(report))
        assert result.returncode == 0, result.stdout + result.stderr
    wal = workspace.db.with_name(workspace.db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    alone = workspace.path / "copied-alone.db"
    alone.write_bytes(workspace.db.read_bytes())
    connection = sqlite3.connect(alone)
    try:
        runs, captures = connection.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM captures)").fetchone()
    finally:
        connection.close()
    assert (runs, captures) == (2, 4)


def test_obey_robots_refuses_disallowed_urls_and_fetches_the_rest(workspace: Workspace, site: MockServer):
    refused = [f"/cerrado/{n}" for n in range(6)]
    allowed = ["/aspx/pagina1", "/aspx/pagina2"]
    report = workspace.path / "informe.md"
    report.write_text("".join(f"{n} Ver {site.url(p)}\n" for n, p in enumerate(refused + allowed, 1)), encoding="utf-8")
    # One request at a time: the spider hands out start requests a few at a time, and a
    # refused request, which never reaches the downloader, must still make room for the next.
    result = workspace.crawl(str(report), "--obey-robots", "-s", "CONCURRENT_REQUESTS=1")
    assert result.returncode == 0, result.stdout + result.stderr
    got = states(workspace)
    assert {got[site.url(p)] for p in refused} == {("unreachable", "robots")}
    assert {got[site.url(p)] for p in allowed} == {("ok", "first_capture")}
    hits = site.hits()
    assert hits.get("/robots.txt") == 1
    assert not any(path.startswith("/cerrado/") for path in hits), hits


def test_hosts_take_turns_in_the_crawl_order():
    # Start requests go to the scheduler a few at a time, so this order is what spreads
    # the downloads: 500 pages of one site cited first must not hold every slot.
    cited = [f"https://sitio.gob.mx/p{n}" for n in range(3)] + ["http://otro.org/a", "https://SITIO.gob.mx/p3", "http://otro.org/b", "http://tercero.mx/"]
    assert by_host_in_turn(cited) == [
        "https://sitio.gob.mx/p0", "http://otro.org/a", "http://tercero.mx/",
        "https://sitio.gob.mx/p1", "http://otro.org/b",
        "https://sitio.gob.mx/p2",
        "https://SITIO.gob.mx/p3",
    ]
