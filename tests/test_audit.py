"""Auditors: deduplicated, self-describing, verifiable archives."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import Workspace
from tests.mockserver import PDF_BYTES, MockServer

PAGES = ["/plan", "/etag", "/nota.pdf", "/avance"]


def records(workspace: Workspace) -> list:
    found = []
    for path in workspace.warc_files():
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                http = record.http_headers.to_str() if record.http_headers else ""
                found.append((path.name, record.rec_type, record.rec_headers, http.encode() + record.content_stream().read()))
    return found


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory):
    """Two runs over a site whose pages do not change between them."""
    workspace = Workspace(tmp_path_factory.mktemp("audit"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        lines = "".join(f"{i} Disponible en: <{site.url(p)}>\n" for i, p in enumerate(PAGES, 1))
        doc.write_text("# Informe\n\nVer¹.\n\n" + lines, encoding="utf-8")
        first = workspace.crawl(str(doc))
        sizes_after_first = {p.name: p.stat().st_size for p in workspace.warc_files()}
        second = workspace.crawl()
        yield {"workspace": workspace, "site": site, "runs": (first, second), "first_files": sizes_after_first}


def test_unchanged_payloads_become_revisit_records(archived):
    workspace, site = archived["workspace"], archived["site"]
    assert [r.returncode for r in archived["runs"]] == [0, 0]
    second_file = [p for p in workspace.warc_files() if p.name not in archived["first_files"]][0]
    revisits = {
        headers.get_header("WARC-Target-URI"): headers
        for name, kind, headers, _ in records(workspace)
        if name == second_file.name and kind == "revisit"
    }
    plan = revisits[site.url("/plan")]
    assert plan.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert plan.get_header("WARC-Refers-To-Target-URI") == site.url("/plan")
    assert plan.get_header("WARC-Refers-To-Date") and plan.get_header("WARC-Refers-To")
    etag = revisits[site.url("/etag")]
    assert etag.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    first_size = sum(archived["first_files"].values())
    assert second_file.stat().st_size < first_size, "the second run stores heads, not bodies"


def test_conditional_request_was_sent_and_answered_304(archived):
    workspace, site = archived["workspace"], archived["site"]
    requests_sent = [
        body for name, kind, headers, body in records(workspace)
        if kind == "request" and headers.get_header("WARC-Target-URI") == site.url("/etag")
    ]
    assert b"If-None-Match: \"v1\"" in requests_sent[-1]
    assert b"If-Modified-Since: Wed, 21 Nov 2018 10:00:00 GMT" in requests_sent[-1]
    rows = json.loads(workspace.run("history", site.url("/etag"), "--json").stdout)
    assert [(r["state"], r["http_status"]) for r in rows] == [("ok", 304), ("ok", 200)]


def test_show_resolves_revisits_to_the_original_bytes(archived):
    workspace, site = archived["workspace"], archived["site"]
    assert workspace.run("show", site.url("/nota.pdf"), "-o", "nota.pdf").returncode == 0
    assert (workspace.path / "nota.pdf").read_bytes() == PDF_BYTES
    shown = workspace.run("show", site.url("/etag"))
    assert shown.returncode == 0 and "Versión 1." in shown.stdout
    head = workspace.run("show", site.url("/etag"), "--headers").stdout
    assert head.startswith("HTTP/1.1 304")


def test_every_capture_has_a_metadata_record_telling_its_story(archived):
    workspace, site = archived["workspace"], archived["site"]
    metadata = [(headers, body) for _, kind, headers, body in records(workspace) if kind == "metadata"]
    assert len(metadata) == 2 * len(PAGES)
    headers, body = next((h, b) for h, b in metadata if site.url("/nota.pdf").encode() in b)
    text = body.decode()
    assert f"cited-url: {site.url('/nota.pdf')}" in text
    assert "cited-by: " in text and "| footnote 3 |" in text
    assert "state: ok" in text and "software: evidence/" in text
    assert headers.get_header("WARC-Target-URI").startswith("urn:evidence:capture:")
    assert headers.get_header("WARC-Concurrent-To")


def test_fastwarc_verifies_every_record(archived):
    for path in archived["workspace"].warc_files():
        blocks = [r.verify_block_digest(consume=False) for r in FastArchiveIterator(str(path), parse_http=False, fsspec_args=False)]
        assert blocks and all(blocks)


def test_verify_passes_on_an_intact_archive(archived):
    result = archived["workspace"].run("verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("all intact")


def copy_workspace(archived, tmp_path) -> Workspace:
    import shutil

    copy = Workspace(tmp_path)
    shutil.copy(archived["workspace"].db, copy.db)
    shutil.copytree(archived["workspace"].archive, copy.archive)
    return copy


def test_one_flipped_byte_fails_verify_and_names_the_record(archived, tmp_path):
    workspace = copy_workspace(archived, tmp_path)
    with sqlite3.connect(workspace.db) as connection:
        filename, offset, length, record_id = connection.execute(
            "SELECT filename, offset, length, record_id FROM records WHERE record_type = 'response' ORDER BY id LIMIT 1"
        ).fetchone()
    path = workspace.archive / filename
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = workspace.run("verify")
    assert result.returncode == 1
    damaged = [line for line in result.stdout.splitlines() if line.startswith("DAMAGED")]
    assert f"DAMAGED {filename} at offset {offset} ({record_id}): cannot be read" in damaged[0]
    assert any(line.startswith(f"DAMAGED {filename}: SHA-256 differs") for line in damaged)


def test_a_cut_file_and_a_missing_file_fail_verify(archived, tmp_path):
    workspace = copy_workspace(archived, tmp_path)
    first, second = workspace.warc_files()
    second.write_bytes(second.read_bytes()[:-100])
    first.unlink()
    result = workspace.run("verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    messages = {(d["filename"], d["message"]) for d in report["damage"]}
    assert (first.name, "file is missing") in messages
    assert any(name == second.name and "when closed" in message for name, message in messages)


def test_citation_table_exports_for_spreadsheets(archived, tmp_path):
    workspace, site = archived["workspace"], archived["site"]
    result = workspace.run("export", "--csv", str(tmp_path / "t.csv"), "--json", str(tmp_path / "t.json"))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("document,footnote,url,state,reason,http_status,checked_at")
    rows = json.loads((tmp_path / "t.json").read_text())
    assert [r["url"] for r in rows] == [site.url(p) for p in PAGES]
    assert all(r["snapshot"] for r in rows)
    assert workspace.run("export").returncode == 2, "nothing asked for is a usage error"


def test_cdxj_index_lists_responses_and_revisits(archived):
    workspace, site = archived["workspace"], archived["site"]
    assert workspace.run("index").returncode == 0
    lines = (workspace.archive / "index.cdxj").read_text().splitlines()
    assert lines == sorted(lines, key=str.encode)
    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    plan = [e for e in entries if e["url"] == site.url("/plan")]
    assert [e.get("mime") for e in plan] == ["text/html", "warc/revisit"]
    with open(workspace.archive / plan[1]["filename"], "rb") as handle:
        handle.seek(int(plan[1]["offset"]))
        record = next(iter(ArchiveIterator(handle)))
    assert record.rec_type == "revisit"


def last_record(workspace: Workspace, record_type: str) -> tuple[str, int, int, str]:
    with sqlite3.connect(workspace.db) as connection:
        return connection.execute(
            "SELECT filename, offset, length, record_id FROM records WHERE record_type = ? ORDER BY filename, offset DESC LIMIT 1",
            (record_type,),
        ).fetchone()


def test_a_record_cut_inside_its_gzip_member_fails_verify_and_is_named(archived, tmp_path):
    # What kill -9 inside a record leaves: warcio alone hands the rest back as a whole record.
    workspace = copy_workspace(archived, tmp_path)
    filename, offset, length, record_id = last_record(workspace, "metadata")
    path = workspace.archive / filename
    path.write_bytes(path.read_bytes()[: offset + length - 12])
    result = workspace.run("verify")
    assert result.returncode == 1
    damaged = [line for line in result.stdout.splitlines() if line.startswith("DAMAGED")]
    assert any(line.startswith(f"DAMAGED {filename} at offset {offset} ({record_id}): ") and "cut" in line for line in damaged), damaged


def test_a_record_rewritten_with_matching_digests_differs_from_the_database(archived, tmp_path):
    """A tamperer rewrites a capture's story and its digests (SHA-256 in base 16, which
    warcio checks too): the record is consistent in itself, not with the database."""
    import hashlib
    import zlib

    workspace = copy_workspace(archived, tmp_path)
    filename, offset, length, record_id = last_record(workspace, "metadata")
    path = workspace.archive / filename
    data = path.read_bytes()
    member = zlib.decompress(data[offset : offset + length], zlib.MAX_WBITS + 16)
    head, _, rest = member.partition(b"\r\n\r\n")
    block = rest[: len(rest) - 4].replace(b"state: ok", b"state: gone, as it always was")
    assert block != rest[:-4]
    lines = [line for line in head.split(b"\r\n") if not line.startswith((b"WARC-Block-Digest", b"Content-Length"))]
    lines += [b"WARC-Block-Digest: sha256:" + hashlib.sha256(block).hexdigest().encode(), b"Content-Length: %d" % len(block)]
    forged = b"\r\n".join(lines) + b"\r\n\r\n" + block + b"\r\n\r\n"
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    path.write_bytes(data[:offset] + packer.compress(forged) + packer.flush() + data[offset + length :])
    # The forgery passes warcio's own digest check...
    with open(path, "rb") as handle:
        forged_records = [r for r in ArchiveIterator(handle, check_digests=True) if r.rec_headers.get_header("WARC-Record-ID") == record_id]
        assert forged_records and all(r.digest_checker.passed is not False for r in forged_records)
    # ...and verify names it by what the database says of it.
    result = workspace.run("verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    mine = [d for d in report["damage"] if d["offset"] == offset]
    assert mine and mine[0]["record_id"] == record_id and "in the database" in mine[0]["message"], report["damage"]


def test_verify_reads_a_sha256_base16_archive_as_intact(archived, tmp_path):
    """Digests in another algorithm and encoding than the writer's are checked, not refused."""
    import hashlib
    import zlib

    workspace = copy_workspace(archived, tmp_path)
    (path,) = [p for p in workspace.warc_files() if p.name not in archived["first_files"]]
    out = bytearray()
    offsets: dict[int, tuple[int, int]] = {}
    original = path.read_bytes()
    with open(path, "rb") as handle:
        records = ArchiveIterator(handle)
        for _record in records:
            start = records.get_record_offset()
            raw = records.get_record_length()
            member = zlib.decompress(original[start : start + raw], zlib.MAX_WBITS + 16)
            head, _, rest = member.partition(b"\r\n\r\n")
            block = rest[:-4]
            lines = [b"WARC-Block-Digest: sha256:" + hashlib.sha256(block).hexdigest().upper().encode()
                     if line.startswith(b"WARC-Block-Digest") else line for line in head.split(b"\r\n")]
            packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
            packed = packer.compress(b"\r\n".join(lines) + b"\r\n\r\n" + block + b"\r\n\r\n") + packer.flush()
            offsets[start] = (len(out), len(packed))
            out += packed
    path.write_bytes(bytes(out))
    with sqlite3.connect(workspace.db) as connection:
        for old, (new, size) in offsets.items():
            connection.execute("UPDATE records SET offset = ?, length = ? WHERE filename = ? AND offset = ?",
                               (-new - 1, size, path.name, old))
        connection.execute("UPDATE records SET offset = -offset - 1 WHERE offset < 0")
        connection.execute("UPDATE warc_files SET sha256 = ?, size = ? WHERE name = ?",
                           (hashlib.sha256(bytes(out)).hexdigest(), len(out), path.name))
    result = workspace.run("verify")
    assert result.returncode == 0, result.stdout
