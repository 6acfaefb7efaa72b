"""Exports carry the citation-time copies: a crawl with lookups in a real web archive
(pywb on 127.0.0.1 over tests/webarchive.py's "2017" WARCs), then `export --wacz` and
`index`, read back with warcio, `wacz validate` and pywb, as an auditor would."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests import webarchive
from tests.conftest import Workspace, into_next_second
from tests.opensite import OpenSite
from tests.tools import Wayback, tool
from tests.webarchive import CASES, Case, WebArchive

# Two documents: one cites a page kept as archived, the other an archived redirect and a
# page never archived (a lookup that found nothing, whose exchanges stay out).
FIRST = [CASES["original"], CASES["rewritten"]]
SECOND = [CASES["redirect"], CASES["never"]]


def cite(workspace: Workspace, site: OpenSite, name: str, cases: list[Case]) -> str:
    marks = "".join(f"[^{n}]" for n in range(1, len(cases) + 1))
    notes = [
        f"[^{n}]: {site.url(case.path)} (accessed {case.cited_at:%B} {case.cited_at.day}, {case.cited_at.year})"
        for n, case in enumerate(cases, 1)
    ]
    path = workspace.path / name
    path.write_text(f"The report{marks}.\n\n" + "\n".join(notes) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def site() -> Iterator[OpenSite]:
    with webarchive.current_site() as server:
        yield server


@pytest.fixture(scope="module")
def archive(site: OpenSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebArchive]:
    yield from webarchive.serve(tmp_path_factory.mktemp("webarchive"), site.url(""))


@pytest.fixture(scope="module")
def crawled(site: OpenSite, archive: WebArchive, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workspace = Workspace(tmp_path_factory.mktemp("crawled"))
    documents = [cite(workspace, site, "primero.md", FIRST), cite(workspace, site, "segundo.md", SECOND)]
    for document in documents:
        assert workspace.run("import", document).returncode == 0
    first = workspace.crawl("--archives", archive.base)
    assert first.returncode == 0, first.stderr
    into_next_second()
    second = workspace.crawl("--archives", archive.base)  # lookups answered: none made again
    assert second.returncode == 0, second.stderr
    history = json.loads(workspace.run("history", site.url(FIRST[0].path), "--json").stdout)
    return {"workspace": workspace, "second_run": history[0]["checked_at"]}


def found(workspace: Workspace) -> dict[str, dict[str, Any]]:
    """The found mementos by cited URL, with their lookup's record ids."""
    with sqlite3.connect(workspace.db) as connection:
        connection.row_factory = sqlite3.Row
        rows = [dict(row) for row in connection.execute(
            "SELECT t.url, m.id, m.raw_url FROM mementos m JOIN targets t ON t.id = m.target_id WHERE m.outcome = 'found'"
        )]
        for row in rows:
            row["records"] = {r[0] for r in connection.execute("SELECT record_id FROM records WHERE memento_id = ?", (row["id"],))}
    return {row["url"]: row for row in rows}


def capture_record_ids(workspace: Workspace) -> list[str]:
    with sqlite3.connect(workspace.db) as connection:
        return [row[0] for row in connection.execute(
            "SELECT record_id FROM records WHERE capture_id IS NOT NULL ORDER BY filename, offset"
        )]


def export(workspace: Workspace, package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = workspace.run("export", "--wacz", str(package), *args)
    assert result.returncode == 0, result.stderr
    return result


def package_records(package: Path) -> list[tuple[str, str, dict[str, str], bytes, bytes]]:
    """(type, target URI, WARC headers, HTTP payload or block, HTTP head) of each record."""
    with zipfile.ZipFile(package) as wacz:
        data = wacz.read("archive/data.warc.gz")
    out = []
    for record in ArchiveIterator(BytesIO(data)):
        headers = dict(record.rec_headers.headers)
        head = record.http_headers.to_bytes() if record.http_headers else b""
        out.append((record.rec_type, headers.get("WARC-Target-URI", ""), headers, record.content_stream().read(), head))
    return out


def pages(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as wacz:
        lines = wacz.read("pages/pages.jsonl").decode().splitlines()
    return [json.loads(line)["url"] for line in lines[1:]]


def index_lines(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as wacz:
        return gzip.decompress(wacz.read("indexes/index.cdx.gz")).decode().splitlines()


def test_the_package_carries_each_cited_memento_byte_for_byte(crawled, site: OpenSite, archive: WebArchive, tmp_path: Path) -> None:
    workspace = crawled["workspace"]
    package = tmp_path / "evidence.wacz"
    result = export(workspace, package)
    mementos = found(workspace)
    lookups = sum(len(m["records"]) for m in mementos.values())
    assert f"({lookups} of web archive lookups)" in result.stderr
    records = package_records(package)
    ids = {headers["WARC-Record-ID"] for _, _, headers, _, _ in records}
    for case in [*FIRST, *SECOND]:
        url = site.url(case.path)
        if case.expected is None:
            assert url not in mementos
            # A lookup that found nothing leaves no exchange in the package (its TimeMap).
            assert not any(uri.endswith("timemap/link/" + url) for _, uri, _, _, _ in records), case.name
            continue
        memento = mementos[url]
        assert memento["records"] <= ids, f"{case.name}: every record of the lookup is carried"
        (metadata,) = [r for r in records if r[0] == "metadata" and r[1] == f"urn:evidence:memento:{url}"]
        assert b"raw-url: " + memento["raw_url"].encode() in metadata[3]
        (response,) = [r for r in records if r[2]["WARC-Record-ID"] == metadata[2]["WARC-Concurrent-To"]]
        # Where the archive's redirect led: pywb names the target at the redirect's own second.
        raw_url = response[1]
        assert response[0] == "response" and raw_url.startswith(archive.base)
        assert raw_url.endswith("id_/" + site.url(case.expected.path)), case.name
        # The bytes tests/webarchive.py archived in 2017, as the archive served them.
        assert response[3] == case.expected.body, case.name
        assert response[4].startswith(b"HTTP/1.1 200 OK\r\n")
        assert any(kind == "request" and uri == raw_url for kind, uri, _, _, _ in records), case.name
    # The archived redirect followed to the memento travels with it, so the path from the
    # cited address to the copy can be replayed.
    moved = webarchive.MOVED
    hop = f"{archive.base}{moved.timestamp}id_/{site.url(moved.path)}"
    assert any(kind == "response" and uri == hop and head.startswith(b"HTTP/1.1 301") for kind, uri, _, _, head in records)
    # Nothing else changed: the captures' records are all there, in archive order.
    captured = capture_record_ids(workspace)
    assert [r[2]["WARC-Record-ID"] for r in records if r[2]["WARC-Record-ID"] in set(captured)] == captured
    # The index names the memento under its own address; the pages are the cited URLs only.
    assert any(f'"url": "{mementos[site.url("/plan-2017")]["raw_url"]}"' in line for line in index_lines(package))
    cited = {site.url(case.path) for case in [*FIRST, *SECOND]}
    assert pages(package) and set(pages(package)) <= cited
    assert workspace.run("verify").returncode == 0


def test_the_package_validates_and_pywb_replays_the_memento(crawled, site: OpenSite, tmp_path: Path) -> None:
    workspace = crawled["workspace"]
    package = tmp_path / "evidence.wacz"
    export(workspace, package)
    validation = subprocess.run([tool("wacz"), "validate", "-f", str(package)], capture_output=True, text=True)
    assert validation.returncode == 0 and "Validation succeeded" in validation.stdout, validation.stdout + validation.stderr
    subprocess.run([tool("wb-manager"), "init", "wacz"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([tool("wb-manager"), "add", "--unpack-wacz", "wacz", str(package)], cwd=tmp_path, check=True, capture_output=True)
    raw_url = found(workspace)[site.url("/policy")]["raw_url"]
    (response,) = [r for r in package_records(package) if r[0] == "response" and r[1] == raw_url]
    stamp = response[2]["WARC-Date"].replace("-", "").replace(":", "").replace("T", "")[:14]
    with Wayback(tmp_path) as pywb:
        answer = pywb.original("wacz", stamp, raw_url)
    assert answer.status_code == 200
    assert answer.content == CASES["rewritten"].expected.body  # type: ignore[union-attr]


def test_the_index_command_replays_the_memento_in_pywb(crawled, site: OpenSite, tmp_path: Path) -> None:
    workspace = crawled["workspace"]
    assert workspace.run("index").returncode == 0
    collection = tmp_path / "collections" / "evidence"
    (collection / "indexes").mkdir(parents=True)
    (collection / "archive").mkdir()
    for warc in workspace.warc_files():
        (collection / "archive" / warc.name).symlink_to(warc)
    (collection / "indexes" / "index.cdxj").write_bytes((workspace.archive / "index.cdxj").read_bytes())
    raw_url = found(workspace)[site.url("/plan-2017")]["raw_url"]
    line = next(line for line in (workspace.archive / "index.cdxj").read_text().splitlines() if f'"url": "{raw_url}"' in line)
    with Wayback(tmp_path) as pywb:
        answer = pywb.original("evidence", line.split(" ")[1], raw_url)
    assert answer.status_code == 200 and answer.content == CASES["original"].expected.body  # type: ignore[union-attr]


def test_document_and_since_select_the_mementos_as_they_select_captures(crawled, site: OpenSite, tmp_path: Path) -> None:
    workspace = crawled["workspace"]
    mementos = found(workspace)
    package = tmp_path / "primero.wacz"
    export(workspace, package, "--document", "primero.md")
    ids = {r[2]["WARC-Record-ID"] for r in package_records(package)}
    for case in FIRST:
        assert mementos[site.url(case.path)]["records"] <= ids
    assert not mementos[site.url(CASES["redirect"].path)]["records"] & ids, "the other document's memento stays out"
    assert set(pages(package)) == {site.url(case.path) for case in FIRST}
    # The lookups were made by the first run: an export since the second carries its captures only.
    since = tmp_path / "since.wacz"
    result = export(workspace, since, "--since", crawled["second_run"])
    assert "web archive lookups" not in result.stderr
    assert all(r[2]["WARC-Record-ID"] not in m["records"] for r in package_records(since) for m in mementos.values())


def test_an_export_without_archives_is_the_captures_records_byte_for_byte(site: OpenSite, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    assert workspace.crawl(cite(workspace, site, "primero.md", FIRST)).returncode == 0
    package = tmp_path / "evidence.wacz"
    result = export(workspace, package)
    assert "web archive lookups" not in result.stderr
    with zipfile.ZipFile(package) as wacz:
        data = wacz.read("archive/data.warc.gz")
    iterator = ArchiveIterator(BytesIO(data))
    starts = [(record.rec_type, iterator.get_record_offset()) for record in iterator]
    assert starts[0] == ("warcinfo", 0)
    with sqlite3.connect(workspace.db) as connection:
        located = connection.execute(
            "SELECT filename, offset, length FROM records WHERE capture_id IS NOT NULL ORDER BY filename, offset"
        ).fetchall()
    sources = {warc.name: warc.read_bytes() for warc in workspace.warc_files()}
    expected = b"".join(sources[name][offset:offset + length] for name, offset, length in located)
    # After the package's own warcinfo: exactly the captures' gzip members, in archive order.
    assert data[starts[1][1]:] == expected
