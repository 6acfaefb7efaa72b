"""What the recorder writes for one exchange: the wire as received, read back with warcio."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from warcio.archiveiterator import ArchiveIterator

from crawler.warc.records import WarcRecord
from tests.conftest import Workspace
from tests.mockserver import MockServer


def records_by_uri(workspace: Workspace) -> dict[str, list]:
    """(type, WARC headers, raw HTTP head, body as stored) per target URI, in file order."""
    found: dict[str, list] = {}
    for path in workspace.warc_files():
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if uri is None or record.rec_type == "metadata":
                    continue
                found.setdefault(uri, []).append(
                    (record.rec_type, record.rec_headers, record.http_headers, record.raw_stream.read())
                )
    return found


def crawl_urls(workspace: Workspace, site: MockServer, *paths: str, extra: tuple[str, ...] = ()) -> None:
    doc = workspace.path / "doc.txt"
    doc.write_text("".join(f"{i} See {site.url(p)}\n" for i, p in enumerate(paths, 1)), encoding="utf-8")
    result = workspace.crawl(str(doc), *extra)
    assert result.returncode in (0, 1), result.stderr


def test_status_line_reason_and_repeated_headers_are_kept(workspace: Workspace, site: MockServer):
    crawl_urls(workspace, site, "/plan")
    (response, request) = records_by_uri(workspace)[site.url("/plan")]
    assert response[0] == "response" and request[0] == "request"
    http = response[2]
    assert http.protocol == "HTTP/1.1"
    assert http.statusline == "200 Everything Fine"
    names = [name for name, _ in http.headers]
    assert names[:3] == ["Server", "Date", "Set-Cookie"]
    assert [v for n, v in http.headers if n == "Set-Cookie"] == ["ASP.NET_SessionId=abc; path=/", "lang=es; path=/"]
    assert names.index("X-Powered-By") == 3, "headers stay in received order"
    # request and response are one capture
    assert request[1].get_header("WARC-Concurrent-To") == response[1].get_header("WARC-Record-ID")
    assert response[1].get_header("WARC-IP-Address") == "127.0.0.1"
    # A GET has no payload: its record has a block digest and nothing else to digest.
    assert request[1].get_header("WARC-Block-Digest") and request[1].get_header("WARC-Payload-Digest") is None
    assert response[1].get_header("WARC-Payload-Digest")


def test_request_line_keeps_the_query_and_the_headers_sent(workspace: Workspace, site: MockServer):
    crawl_urls(workspace, site, "/echo?a=1&b=&c=%C3%B3", extra=("--user-agent", "evidence-test/1 (ops@example.org)"))
    response, request = records_by_uri(workspace)[site.url("/echo?a=1&b=&c=%C3%B3")]
    assert request[2].protocol == "GET"
    assert request[2].statusline == "/echo?a=1&b=&c=%C3%B3 HTTP/1.1"
    sent = dict(request[2].headers)
    assert sent["User-Agent"] == "evidence-test/1 (ops@example.org)"
    assert sent["Accept-Encoding"] == "gzip, deflate"
    # the server saw exactly what the request record says was sent
    echoed = json.loads(response[3])
    assert echoed["path"] == "/echo?a=1&b=&c=%C3%B3"
    assert [tuple(h) for h in echoed["headers"]] == list(request[2].headers)


def test_body_is_stored_content_encoded_as_received(workspace: Workspace, site: MockServer):
    import gzip

    from tests.mockserver import PDF_BYTES

    crawl_urls(workspace, site, "/nota.pdf")
    response, _ = records_by_uri(workspace)[site.url("/nota.pdf")]
    assert response[2].get_header("Content-Encoding") == "gzip"
    assert response[3] == gzip.compress(PDF_BYTES, mtime=0)
    assert int(response[2].get_header("Content-Length")) == len(response[3])


def test_chunked_body_is_stored_dechunked_and_replays(workspace: Workspace, site: MockServer):
    crawl_urls(workspace, site, "/chunked")
    (response, _) = records_by_uri(workspace)[site.url("/chunked")]
    assert response[3] == b"primera parte, segunda parte"
    shown = workspace.run("show", site.url("/chunked"))
    assert shown.stdout == "primera parte, segunda parte"


def test_body_over_the_cap_is_cut_and_marked(workspace: Workspace, site: MockServer):
    crawl_urls(workspace, site, "/big?n=3000000", extra=("--max-body", "100000"))
    (response, _) = records_by_uri(workspace)[site.url("/big?n=3000000")]
    assert response[1].get_header("WARC-Truncated") == "length"
    assert len(response[3]) == 100000
    assert response[2].get_header("Content-Length") == "3000000", "the server's header is kept as sent"
    status = json.loads(workspace.run("status", "--json").stdout)
    # The first 100,000 bytes are kept, but never judged as the whole page.
    assert (status[0]["state"], status[0]["reason"]) == ("unreachable", "truncated_length")


def test_redirect_to_a_file_url_is_archived_but_never_followed(workspace: Workspace, site: MockServer):
    crawl_urls(workspace, site, "/to-file")
    found = records_by_uri(workspace)
    assert [r[0] for r in found[site.url("/to-file")]] == ["response", "request"]
    assert not any(uri.startswith("file:") for uri in found)
    status = json.loads(workspace.run("status", "--json").stdout)
    assert (status[0]["state"], status[0]["reason"]) == ("unreachable", "redirect_refused")


def test_record_bytes_are_exact():
    record = WarcRecord(
        record_type="response",
        target_uri="http://example.gob.mx/a?b=",
        date=datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=timezone.utc),
        content_type="application/http;msgtype=response",
        block=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        payload_offset=38,
        record_id="<urn:uuid:00000000-0000-0000-0000-000000000001>",
        extra_headers=[("WARC-IP-Address", "127.0.0.1")],
    )
    assert record.to_bytes() == (
        b"WARC/1.1\r\n"
        b"WARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"WARC-Date: 2026-11-27T10:00:00.123456Z\r\n"
        b"WARC-Target-URI: http://example.gob.mx/a?b=\r\n"
        b"WARC-IP-Address: 127.0.0.1\r\n"
        b"WARC-Block-Digest: sha1:ZDVCLR2Q5ZXFKAHAOPRARWI37TMSDVMH\r\n"
        b"WARC-Payload-Digest: sha1:YIVV7ELYGQTASQUNN5I3FRNPJQF542SC\r\n"
        b"Content-Type: application/http;msgtype=response\r\n"
        b"Content-Length: 40\r\n"
        b"\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        b"\r\n\r\n"
    )


def test_files_roll_over_at_the_configured_size(workspace: Workspace, site: MockServer):
    crawl_urls(workspace, site, "/plan", "/avance", "/dir", extra=("-s", "EVIDENCE_WARC_MAX_SIZE=1500"))
    files = workspace.warc_files()
    assert len(files) >= 2
    for path in files:
        with open(path, "rb") as handle:
            types = [record.rec_type for record in ArchiveIterator(handle, check_digests="raise")]
        assert types[0] == "warcinfo" and types.count("warcinfo") == 1


def test_refused_connection_is_recorded_without_any_record(workspace: Workspace):
    doc = workspace.path / "doc.txt"
    doc.write_text("1 See http://127.0.0.1:1/cerrado\n", encoding="utf-8")
    result = workspace.crawl(str(doc))
    assert result.returncode == 0, result.stderr
    row = json.loads(workspace.run("status", "--json").stdout)[0]
    assert (row["state"], row["reason"], row["snapshot"]) == ("unreachable", "refused", None)
    assert records_by_uri(workspace) == {}


def test_each_cited_url_is_fetched_as_a_fresh_visitor(workspace: Workspace, site: MockServer):
    # /plan sets two cookies; /echo, fetched after it from the same host, must not send them.
    crawl_urls(workspace, site, "/plan", "/echo?a=1", extra=("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"))
    (response, _) = records_by_uri(workspace)[site.url("/echo?a=1")]
    sent = dict(json.loads(response[3])["headers"])
    assert "Cookie" not in sent


def test_a_cookie_set_on_a_redirect_is_sent_on_the_next_hop(workspace: Workspace, site: MockServer):
    # Each URL's jar lives until its capture is done (redirects included), then is let go.
    crawl_urls(workspace, site, "/cookie-check", "/plan", "/echo?b=1", extra=("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"))
    rows = {row["url"]: row for row in json.loads(workspace.run("status", "--json").stdout)}
    assert rows[site.url("/cookie-check")]["state"] == "ok"
    assert rows[site.url("/cookie-check")]["http_status"] == 200


def test_incompressible_bodies_are_stored_and_read_back_exactly(tmp_path):
    import os
    import random

    from crawler.warc.writer import GZIP_LEVEL, WarcStore, gzip_level

    rng = random.Random(5)
    noise = bytes(rng.getrandbits(8) for _ in range(600_000))
    prose = " ".join(rng.choice(("plan", "accion", "agua", "clima", "meta")) for _ in range(120_000)).encode()
    # A compressible index in front of compressed data (as in some archive formats).
    mixed = prose[:40_000] + noise
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n\r\n"
    assert gzip_level((b"h", head, noise, b"t")) == 0
    assert gzip_level((b"h", head, prose, b"t")) == GZIP_LEVEL
    assert gzip_level((b"h", head, mixed, b"t")) == GZIP_LEVEL
    assert gzip_level((b"h", head, noise[:100_000], b"t")) == GZIP_LEVEL  # small: not worth a test

    bodies = {"noise": noise, "prose": prose, "mixed": mixed}
    with WarcStore(tmp_path) as store:
        for name, body in bodies.items():
            store.write([WarcRecord(
                record_type="response",
                target_uri=f"http://example.gob.mx/{name}",
                date=datetime(2026, 11, 27, tzinfo=timezone.utc),
                content_type="application/http;msgtype=response",
                block=head,
                tail=body,
                payload_offset=len(head),
            )])
    (path,) = tmp_path.glob("*.warc.gz")
    read = {}
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                read[record.rec_headers.get_header("WARC-Target-URI").rsplit("/", 1)[1]] = record.content_stream().read()
    assert read == bodies
    # The prose still shrinks: only the noise was stored as it is.
    assert os.path.getsize(path) < len(noise) + len(mixed) + len(prose) // 4


def test_an_archive_folder_moved_away_mid_run_is_a_clear_archive_error(tmp_path):
    import pytest

    from crawler.exceptions import ArchiveError
    from crawler.warc.writer import WarcStore

    store = WarcStore(tmp_path / "archive")
    store.write([WarcRecord(record_type="resource", target_uri="http://example.gob.mx/", date=datetime(2026, 11, 27, tzinfo=timezone.utc),
                            content_type="text/plain", block=b"plan")])
    (tmp_path / "archive").rename(tmp_path / "elsewhere")
    with pytest.raises(ArchiveError, match=r"cannot close .*\.warc\.gz\.open: No such file or directory; keep the archive folder"):
        store.close()
    store.close()  # nothing left to close
    (left,) = (tmp_path / "elsewhere").iterdir()
    assert left.name.endswith(".warc.gz.open")


def test_redirected_hops_carry_no_referer_and_nothing_warns(workspace: Workspace, site: MockServer):
    # A cited URL is fetched as if typed in: no Referer, on the first hop or after a redirect.
    doc = workspace.path / "doc.txt"
    doc.write_text(f"1 See {site.url('/dir')}\n", encoding="utf-8")
    result = workspace.crawl(str(doc), "-v")
    assert result.returncode in (0, 1), result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))], result.stderr
    records = records_by_uri(workspace)
    hops = [site.url("/dir"), site.url("/dir/")]
    for url in hops:
        request = next(record for record in records[url] if record[0] == "request")
        assert b"Referer:" not in request[3] and b"referer:" not in request[3].lower(), request[3]
