"""The floor: the least a Python crawler can do per URL and still leave a WARC behind.

asyncio streams, one keep-alive connection per slot, at most ``--per-host`` requests per
host and ``--concurrency`` in all (the same limits ``evidence crawl`` runs with), and
warcio writing a request and a response record per URL with block and payload digests,
one gzip member per record. No database, no verdict, no redirects, no retries: anything
``evidence`` does beyond this is its own cost.

    python bench/floor.py URLS.txt OUT.warc.gz --concurrency 64 --per-host 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import zlib
from io import BytesIO
from urllib.parse import urlsplit

from warcio import warcwriter
from warcio.warcwriter import WARCWriter


class _SameGzip(warcwriter.GzippingWrapper):
    # warcio compresses with zlib at level 9; evidence uses ISA-L at its level 3 (or zlib
    # at level 6 with EVIDENCE_WARC_COMPRESSION=small, FLOOR_COMPRESSION=small here). The
    # floor uses the same compressor so that the comparison is about the pipeline.
    def __init__(self, out: object) -> None:
        if os.environ.get("FLOOR_COMPRESSION", "fast") == "small":
            self.compressor = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        else:
            from isal import isal_zlib

            self.compressor = isal_zlib.compressobj(3, isal_zlib.DEFLATED, isal_zlib.MAX_WBITS + 16)
        self.out = out


warcwriter.GzippingWrapper = _SameGzip  # type: ignore[misc]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def fetch(self, path: str) -> tuple[bytes, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "User-Agent: floor/1\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n"
        ).encode()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return request, head + body


async def crawl(urls: list[str], out_path: str, concurrency: int, per_host: int) -> int:
    pools: dict[tuple[str, int], asyncio.Queue[Connection]] = {}
    for url in urls:
        parts = urlsplit(url)
        key = (parts.hostname or "", parts.port or 80)
        if key not in pools:
            pool: asyncio.Queue[Connection] = asyncio.Queue()
            for _ in range(per_host):
                pool.put_nowait(Connection(*key))
            pools[key] = pool
    done = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    with open(out_path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                url = queue.get_nowait()
                parts = urlsplit(url)
                pool = pools[(parts.hostname or "", parts.port or 80)]
                connection = await pool.get()
                try:
                    request, response = await connection.fetch(parts.path or "/")
                finally:
                    pool.put_nowait(connection)
                record = writer.create_warc_record(
                    url, "response", payload=BytesIO(response), length=len(response)
                )
                req = writer.create_warc_record(url, "request", payload=BytesIO(request), length=len(request))
                writer.write_request_response_pair(req, record)
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        out.flush()
        os.fsync(out.fileno())
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("urls")
    parser.add_argument("out")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=2)
    options = parser.parse_args()
    with open(options.urls) as handle:
        urls = [line.strip() for line in handle if line.strip()]
    done = asyncio.run(crawl(urls, options.out, options.concurrency, options.per_host))
    print(f"floor: {done} URLs", file=sys.stderr)


if __name__ == "__main__":
    main()
