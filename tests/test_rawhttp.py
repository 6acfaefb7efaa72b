"""The download handler's own HTTP/1.1 client against a server that sends exactly the
bytes scripted here (framing, header case, keep-alive, cut bodies), on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError
from scrapy.utils.test import get_crawler

from crawler.crawl.handlers.rawhttp import WIRE_META_KEY, RawHttpDownloadHandler
from tests.conftest import Workspace
from tests.test_warc_recording import crawl_urls, records_by_uri

# A route writes its answer to the socket; False closes the connection afterwards.
Route = Callable[[socket.socket, str], bool]


def _answer(raw: bytes) -> Route:
    def route(sock: socket.socket, method: str) -> bool:
        sock.sendall(raw)
        return True

    return route


def _length_answer(body: bytes, extra: bytes = b"") -> Route:
    def route(sock: socket.socket, method: str) -> bool:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body)
        sock.sendall(head if method == "HEAD" else head + body)
        return True

    return route


def _then_close(route: Route) -> Route:
    """Answers, then closes the kept-alive connection (as a server's idle timeout does)."""

    def closing(sock: socket.socket, method: str) -> bool:
        route(sock, method)
        time.sleep(0.05)
        return False

    return closing


def _reset(sock: socket.socket, method: str) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n" + b"z" * 100)
    time.sleep(0.1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def _cut_chunked(sock: socket.socket, method: str) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n wor")
    return False


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n"
    b"7 ; other=\"quoted\"\r\n, world\r\n"
    b"0\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n"
)
HEADERS = (
    b"HTTP/1.1 200 Fine By Me\r\n"
    b"server: raw/1\r\n"
    b"X-lower-UPPER: 1\r\n"
    b"Set-Cookie: a=1\r\n"
    b"content-type: text/html\r\n"
    b"SET-COOKIE: b=2\r\n"
    b"Content-Length: 9\r\n\r\n"
    b"<p>hi</p>"
)

ROUTES: dict[str, Route] = {
    "/chunked": _answer(CHUNKED),
    "/headers": _answer(HEADERS),
    "/plain": _length_answer(b"hello"),
    "/head": _length_answer(b"x" * 100),
    "/not-modified": _answer(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'),
    "/no-content": _answer(b"HTTP/1.1 204 No Content\r\n\r\n"),
    "/continue": _answer(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ),
    "/bare-lf": _answer(
        b"HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Folded: one\n  two\nContent-Length: 3\n\nabc"
    ),
    "/until-close": _then_close(_answer(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")),
    "/idle-close": _then_close(_length_answer(b"bye")),
    "/reset": _reset,
    "/cut-chunked": _cut_chunked,
    "/big": _length_answer(b"b" * 100_000),
    "/hang": lambda sock, method: bool(time.sleep(10)) or False,
    # The last header line ends in a bare LF, the blank line after it in CRLF.
    "/lf-then-crlf": _answer(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\nContent-Length: 4\n\r\nseen"),
    "/latin-version": _answer(b"HTTP/1.\xb9 200 OK\r\nContent-Length: 2\r\n\r\nno"),
    "/version-0.9": _answer(b"HTTP/0.9 200 OK\r\nContent-Length: 3\r\n\r\nold"),
    "/version-1.99": _answer(b"HTTP/1.99 200 OK\r\nContent-Length: 3\r\n\r\nnew"),
    "/chunk-underscore": _then_close(
        _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"s" * 16 + b"\r\n0\r\n\r\n")
    ),
    "/chunk-hex": _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1A\t;ext\r\n" + b"h" * 26 + b"\r\n0\r\n\r\n"),
    # A Set-Cookie split over lines, a line with no colon (an HTML tag some servers emit),
    # its own continuation, then more headers: odd spacing and case, bare LF in between.
    "/no-colon": _answer(
        b"HTTP/1.1 203 Non-Authoritative\r\n"
        b"date:Tue, 01 Dec 2026 10:00:00 GMT\r\n"
        b"Set-Cookie: id=7;\r\n\t path=/\r\n"
        b"<meta charset=utf-8>\r\n"
        b"  still the tag\n"
        b"X-After  :   kept \r\n"
        b"content-length: 5\r\n\r\nafter"
    ),
}


class RawServer:
    """Each request is answered by its route in ``ROUTES`` (404 otherwise); every
    connection and request is counted."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        #: (connection number, method, path) of every request
        self.requests: list[tuple[int, str, str]] = []
        #: close a kept-alive connection when its second request arrives, unanswered
        self.drop_reused = False
        #: the client's address of every connection
        self.peers: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
                self.peers.append(sock.getpeername()[0])
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        # A client that gave up (a timeout, the deadline) resets the connection: part of
        # the script, not an error of this server's thread.
        with sock, contextlib.suppress(ConnectionResetError, BrokenPipeError):
            self._exchange(sock, number)

    def _exchange(self, sock: socket.socket, number: int) -> None:
        buffer = b""
        served = 0
        while True:
            while b"\r\n\r\n" not in buffer:
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            method, path = head.split(b" ", 2)[:2]
            with self.lock:
                self.requests.append((number, method.decode(), path.decode()))
            served += 1
            if served > 1 and self.drop_reused:
                return
            route = ROUTES.get(path.decode().split("?")[0])
            if route is None:
                sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            elif not route(sock, method.decode()):
                return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def fetch(*requests: Request | Callable[[], Any], **settings: Any) -> list[Any]:
    """Download the requests one after the other with one handler; a callable in the list
    is called in between (to wait, or to change the server's script)."""
    base = {
        "EVIDENCE_ALLOW_PRIVATE": True,
        "EVIDENCE_DOWNLOAD_DEADLINE": 300,
        "EVIDENCE_CONNECTION_POOLS": 512,
        "EVIDENCE_LARGE_BODY_SIZE": 4 << 20,
        "EVIDENCE_LARGE_BODY_SLOTS": 2,
        "EVIDENCE_LARGE_BODY_WAIT": 30,
        "EVIDENCE_MAX_BODY_SIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
    }
    crawler = get_crawler(settings_dict={**base, **settings})

    async def run() -> list[Any]:
        handler = RawHttpDownloadHandler(crawler)
        results: list[Any] = []
        try:
            for item in requests:
                if isinstance(item, Request):
                    try:
                        results.append(await handler.download_request(item))
                    except Exception as exc:  # the test looks at what was raised
                        results.append(exc)
                else:
                    result = item()
                    if asyncio.iscoroutine(result):
                        await result
        finally:
            await handler.close()
        return results

    return asyncio.run(run())


def test_chunked_body_is_dechunked_with_extensions_and_trailers(raw: RawServer):
    request = Request(raw.url("/chunked"))
    (response,) = fetch(request)
    assert response.status == 200
    assert response.body == b"hello, world"
    assert "dataloss" not in response.flags
    assert request.meta[WIRE_META_KEY].response_headers[-1] == (b"Transfer-Encoding", b"chunked")


def test_chunked_body_is_archived_dechunked(workspace: Workspace, raw: RawServer):
    crawl_urls(workspace, raw, "/chunked")  # type: ignore[arg-type]
    response, request = records_by_uri(workspace)[raw.url("/chunked")]
    assert response[0] == "response"
    assert response[3] == b"hello, world"


def test_header_case_order_and_repeats_are_archived_as_received(workspace: Workspace, raw: RawServer):
    crawl_urls(workspace, raw, "/headers")  # type: ignore[arg-type]
    response, request = records_by_uri(workspace)[raw.url("/headers")]
    http = response[2]
    assert http.statusline == "200 Fine By Me"
    assert http.headers == [
        ("server", "raw/1"),
        ("X-lower-UPPER", "1"),
        ("Set-Cookie", "a=1"),
        ("content-type", "text/html"),
        ("SET-COOKIE", "b=2"),
        ("Content-Length", "9"),
    ]
    assert response[3] == b"<p>hi</p>"
    sent = request[2]
    assert sent.protocol == "GET" and sent.statusline == "/headers HTTP/1.1"
    assert sent.headers[0] == ("Host", f"127.0.0.1:{raw.port}"), "Host goes first"


def test_head_304_and_204_have_no_body_and_keep_the_connection(raw: RawServer):
    results = fetch(
        Request(raw.url("/head"), method="HEAD"),
        Request(raw.url("/not-modified")),
        Request(raw.url("/no-content")),
        Request(raw.url("/head")),
    )
    assert [(r.status, r.body) for r in results] == [
        (200, b""), (304, b""), (204, b""), (200, b"x" * 100)
    ]
    assert raw.connections == 1, "no body was waited for, and the connection went on"


def test_interim_responses_are_skipped(raw: RawServer):
    (response,) = fetch(Request(raw.url("/continue")))
    assert (response.status, response.body) == (200, b"ok")


def test_bare_line_feeds_and_folded_headers(raw: RawServer):
    request = Request(raw.url("/bare-lf"))
    (response,) = fetch(request)
    assert (response.status, response.body) == (200, b"abc")
    assert (b"X-Folded", b"one two") in request.meta[WIRE_META_KEY].response_headers


def test_body_until_close(raw: RawServer):
    (response,) = fetch(Request(raw.url("/until-close")))
    assert (response.status, response.protocol, response.body) == (200, "HTTP/1.0", b"all of it")
    assert "dataloss" not in response.flags


def test_keep_alive_reuses_one_connection(raw: RawServer):
    results = fetch(Request(raw.url("/plain")), Request(raw.url("/chunked")), Request(raw.url("/plain")))
    assert [r.body for r in results] == [b"hello", b"hello, world", b"hello"]
    assert raw.connections == 1
    assert str(results[0].ip_address) == "127.0.0.1"


def test_a_connection_the_server_closed_while_idle_is_not_reused(raw: RawServer):
    results = fetch(Request(raw.url("/idle-close")), lambda: asyncio.sleep(0.3), Request(raw.url("/plain")))
    assert [r.body for r in results] == [b"bye", b"hello"]
    assert raw.connections == 2


def test_a_request_on_a_connection_closed_as_it_was_reused_goes_again(raw: RawServer):
    """The server closes the kept-alive connection just as the next request arrives."""

    def drop() -> None:
        raw.drop_reused = True

    results = fetch(Request(raw.url("/plain")), drop, Request(raw.url("/plain")))
    assert [getattr(r, "body", r) for r in results] == [b"hello", b"hello"]
    assert raw.connections == 2
    assert [number for number, _, _ in raw.requests] == [1, 1, 2]


def test_a_post_is_not_sent_twice(raw: RawServer):
    def drop() -> None:
        raw.drop_reused = True

    results = fetch(Request(raw.url("/plain")), drop, Request(raw.url("/plain"), method="POST", body=b"a=1"))
    assert results[0].body == b"hello"
    assert "without sending a response" in str(results[1])
    assert len(raw.requests) == 2


def test_a_reset_mid_body_keeps_the_partial_bytes_flagged(raw: RawServer):
    (response,) = fetch(Request(raw.url("/reset")))
    assert response.status == 200
    assert response.body == b"z" * 100
    assert "dataloss" in response.flags


def test_a_chunked_body_cut_short_is_flagged(raw: RawServer):
    (response,) = fetch(Request(raw.url("/cut-chunked")))
    assert response.body == b"hello wor"
    assert "dataloss" in response.flags


def test_data_loss_fails_when_asked_to(raw: RawServer):
    from scrapy.exceptions import ResponseDataLossError

    (result,) = fetch(Request(raw.url("/reset"), meta={"download_fail_on_dataloss": True}))
    assert isinstance(result, ResponseDataLossError)


def test_download_maxsize_cancels_as_scrapy_does(raw: RawServer):
    (result,) = fetch(Request(raw.url("/big"), meta={"download_maxsize": 10_000}))
    assert isinstance(result, DownloadCancelledError)
    assert "larger than download max size" in str(result)


def test_a_server_that_never_answers_times_out(raw: RawServer):
    (result,) = fetch(Request(raw.url("/hang"), meta={"download_timeout": 0.5}))
    assert isinstance(result, DownloadTimeoutError)
    assert "took longer than 0.5 seconds" in str(result)


def test_the_deadline_bounds_the_whole_exchange(raw: RawServer):
    (result,) = fetch(
        Request(raw.url("/hang"), meta={"download_timeout": 30}), EVIDENCE_DOWNLOAD_DEADLINE=0.01
    )
    assert isinstance(result, DownloadTimeoutError)
    assert "EVIDENCE_DOWNLOAD_DEADLINE" in str(result)


class TunnelProxy:
    """A forward proxy that opens every CONNECT tunnel asked for (127.0.0.1 only)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.heads: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += client.recv(4096)
        head = data.partition(b"\r\n\r\n")[0]
        self.heads.append(head)
        host, _, port = head.split(b" ")[1].rpartition(b":")
        assert host == b"127.0.0.1"
        upstream = socket.create_connection(("127.0.0.1", int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        _pipe(upstream, client)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_https_goes_through_a_connect_tunnel_kept_alive():
    from base64 import b64encode

    from tests.mockserver import MockServer

    proxy = TunnelProxy()
    auth = b"Basic " + b64encode(b"user:secret")
    with MockServer(tls=True) as site:
        requests = [
            Request(site.url("/plan"), meta={"proxy": f"127.0.0.1:{proxy.port}"}, headers={"Proxy-Authorization": auth})
            for _ in range(2)
        ]
        # The guard is not applied behind a proxy: the proxy is what is connected to.
        results = fetch(*requests, EVIDENCE_ALLOW_PRIVATE=False)
    proxy.listener.close()
    assert [r.status for r in results] == [200, 200]
    assert results[0].certificate and results[0].protocol == "HTTP/1.1"
    assert len(proxy.heads) == 1, "the second request went through the same tunnel"
    assert proxy.heads[0].startswith(b"CONNECT 127.0.0.1:")
    assert b"Proxy-Authorization: " + auth in proxy.heads[0]
    sent = requests[0].meta[WIRE_META_KEY].request_headers
    assert all(name.lower() != b"proxy-authorization" for name, _ in sent), "credentials stay out of the archive"


def test_loopback_is_refused_without_a_proxy(raw: RawServer):
    from scrapy.exceptions import DownloadConnectionRefusedError

    from crawler.crawl.failures import classify

    (result,) = fetch(Request(raw.url("/plain")), EVIDENCE_ALLOW_PRIVATE=False)
    assert isinstance(result, DownloadConnectionRefusedError)
    assert classify(result) == "private_address"
    assert raw.connections == 0


def test_a_refused_connection_is_classified_as_such():
    from scrapy.exceptions import DownloadConnectionRefusedError

    from crawler.crawl.failures import classify

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    (result,) = fetch(Request(f"http://127.0.0.1:{port}/"))
    assert isinstance(result, DownloadConnectionRefusedError)
    assert classify(result) == "refused"


def test_a_head_whose_last_line_ends_in_a_bare_lf_before_a_crlf_blank_line(raw: RawServer):
    (response,) = fetch(Request(raw.url("/lf-then-crlf"), meta={"download_timeout": 2}))
    assert (response.status, response.body, response.headers[b"Content-Type"]) == (200, b"seen", b"text/plain")


def test_a_non_ascii_byte_in_the_version_is_a_download_error_that_is_retried(raw: RawServer):
    from scrapy.exceptions import DownloadFailedError
    from scrapy.utils.misc import load_object

    (result,) = fetch(Request(raw.url("/latin-version")))
    assert isinstance(result, DownloadFailedError), result
    assert "not an HTTP/1.x status line" in str(result)
    retried = tuple(load_object(name) for name in get_crawler().settings.getlist("RETRY_EXCEPTIONS"))
    assert isinstance(result, retried)


def test_the_version_is_http_digit_dot_digit(raw: RawServer):
    from scrapy.exceptions import DownloadFailedError

    old, new = fetch(Request(raw.url("/version-0.9")), Request(raw.url("/version-1.99")))
    assert (old.status, old.protocol, old.body) == (200, "HTTP/0.9", b"old")
    assert isinstance(new, DownloadFailedError)


def test_chunk_sizes_are_hex_digits_only(raw: RawServer):
    bad, good = fetch(Request(raw.url("/chunk-underscore")), Request(raw.url("/chunk-hex")))
    # int("1_0", 16) is 16: that would have read the 16 bytes as a whole body.
    assert "dataloss" in bad.flags and bad.body == b""
    assert good.body == b"h" * 26 and "dataloss" not in good.flags


def test_the_bindaddress_meta_chooses_the_local_address_and_its_own_connection(raw: RawServer):
    results = fetch(
        Request(raw.url("/plain"), meta={"bindaddress": "127.0.0.3"}),
        Request(raw.url("/plain"), meta={"bindaddress": ("127.0.0.4", 0)}),
        Request(raw.url("/plain"), meta={"bindaddress": "127.0.0.3"}),
    )
    assert [r.body for r in results] == [b"hello"] * 3
    assert raw.peers == ["127.0.0.3", "127.0.0.4"], "the third went on the first's kept-alive connection"


def test_a_header_line_without_a_colon_is_skipped_kept_in_the_warc_and_signalled(workspace: Workspace, raw: RawServer):
    import json

    request = Request(raw.url("/no-colon"))
    (response,) = fetch(request)
    assert (response.status, response.body) == (203, b"after")
    assert response.headers[b"X-After"] == b"kept"
    assert response.headers[b"Set-Cookie"] == b"id=7; path=/"
    assert request.meta[WIRE_META_KEY].malformed_headers == (b"<meta charset=utf-8>", b"  still the tag")

    crawl_urls(workspace, raw, "/no-colon")  # type: ignore[arg-type]
    history = json.loads(workspace.run("history", raw.url("/no-colon"), "--json").stdout)
    assert "malformed_header" in history[0]["signals"]
    assert_heads_archived_as_received(workspace, raw.url("/no-colon"), ROUTE_BYTES["/no-colon"])


ROUTE_BYTES = {
    "/no-colon": (
        b"HTTP/1.1 203 Non-Authoritative\r\ndate:Tue, 01 Dec 2026 10:00:00 GMT\r\nSet-Cookie: id=7;\r\n\t path=/\r\n"
        b"<meta charset=utf-8>\r\n  still the tag\nX-After  :   kept \r\ncontent-length: 5\r\n\r\n",
        b"after",
    ),
    "/bare-lf": (b"HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Folded: one\n  two\nContent-Length: 3\n\n", b"abc"),
    "/until-close": (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", b"all of it"),
}


def assert_heads_archived_as_received(workspace: Workspace, url: str, expected: tuple[bytes, bytes]) -> None:
    """The response record's block is the head byte for byte and then the body, read by
    FastWARC (unparsed) and warcio (parsed), digests verified."""
    from fastwarc.warc import ArchiveIterator as FastArchiveIterator
    from fastwarc.warc import WarcRecordType

    head, body = expected
    blocks = []
    for path in workspace.warc_files():
        for record in FastArchiveIterator(str(path), record_types=WarcRecordType.response, parse_http=False):
            if record.headers.get("WARC-Target-URI") == url:
                assert record.verify_block_digest(consume=False)
                blocks.append(record.reader.read())
    assert blocks == [head + body]
    response, _request = records_by_uri(workspace)[url]  # warcio, digests checked
    assert response[3] == body


def test_heads_are_archived_as_received_and_the_request_as_sent(workspace: Workspace, raw: RawServer):
    from fastwarc.warc import ArchiveIterator as FastArchiveIterator
    from fastwarc.warc import WarcRecordType

    crawl_urls(workspace, raw, "/bare-lf", "/until-close")  # type: ignore[arg-type]
    for path in ("/bare-lf", "/until-close"):
        assert_heads_archived_as_received(workspace, raw.url(path), ROUTE_BYTES[path])
    response, request = records_by_uri(workspace)[raw.url("/bare-lf")]
    assert response[2].get_header("X-Folded").split() == ["one", "two"], "warcio reads the folded header"
    # Against an HTTP/1.0 server the request line still says what was sent: HTTP/1.1.
    requests = [
        record.reader.read()
        for path in workspace.warc_files()
        for record in FastArchiveIterator(str(path), record_types=WarcRecordType.request, parse_http=False)
        if record.headers.get("WARC-Target-URI") == raw.url("/until-close")
    ]
    assert len(requests) == 1 and requests[0].startswith(b"GET /until-close HTTP/1.1\r\nHost: 127.0.0.1:")
    assert requests[0].endswith(b"\r\n\r\n")
