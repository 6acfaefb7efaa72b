"""``evidence verify``: is every archived byte the database points at still what was written?

The archive is read back with warcio, a reader that shares no code with the writer
(``crawler/warc/writer.py``), one file at a time from start to end:

- warcio recomputes each record's block and payload digests (any algorithm and RFC 3548
  encoding it knows: the writer's ``sha1:BASE32``, ``sha256:`` in base 16, ...) and compares
  them with the record's own headers;
- every record the database names must be found at its offset, of its length, with its id,
  type and payload digest: a record rewritten with digests to match, or cut short (warcio
  hands back a record cut inside its gzip member as if whole, warcio#138), differs there;
- every closed WARC file's SHA-256 and size, taken in the same pass, are compared with those
  recorded when it was closed (so a byte changed anywhere, even between records, is caught);
- every time-stamp token of a closed file must be over the file's SHA-256 as read in that
  pass, and signed by a TSA the given certificates vouch for (``crawler/timestamps/``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.exceptions import ArchiveError
from crawler.store.models import Record, WarcFile
from crawler.timestamps.checking import Proven, check_tokens
from crawler.timestamps.stamping import TSR_SUFFIX
from crawler.timestamps.tsa import load_roots
from crawler.warc.reader import locate
from crawler.warc.writer import OPEN_SUFFIX

_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Damage:
    filename: str
    offset: int | None
    record_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.filename if self.offset is None else f"{self.filename} at offset {self.offset}"
        record = f" ({self.record_id})" if self.record_id else ""
        return f"{where}{record}: {self.message}"


@dataclass
class Verification:
    records: int = 0
    files: int = 0
    damage: list[Damage] = field(default_factory=list)
    #: files never closed (their writer was killed): their records are checked, the file as a whole cannot be
    unclosed: list[str] = field(default_factory=list)
    #: closed files whose checksum was never recorded (a crash right after the file rolled over)
    unrecorded: list[str] = field(default_factory=list)
    #: closed files a good time-stamp token proves existed, and when
    proven: list[Proven] = field(default_factory=list)
    #: closed files with no time-stamp token (owed one: `evidence timestamp`)
    unstamped: list[str] = field(default_factory=list)
    #: whether token signatures were checked (a trusted TSA certificate was given)
    tsa_checked: bool = False

    @property
    def intact(self) -> bool:
        return not self.damage

    def as_dict(self) -> dict[str, Any]:
        """The findings for machines: ``evidence verify --json``."""
        return {
            "intact": self.intact, "records": self.records, "files": self.files,
            "damage": [vars(d) for d in self.damage], "unclosed": self.unclosed, "unrecorded": self.unrecorded,
            "timestamps": {
                "signatures_checked": self.tsa_checked,
                "proven": [{"file": p.filename, "time": p.time.strftime("%Y-%m-%dT%H:%M:%SZ"), "tsa": p.tsa_url}
                           for p in self.proven],
                "unstamped": self.unstamped,
            },
        }


@dataclass(frozen=True)
class _Row:
    """What the database says of one record."""

    offset: int
    length: int
    record_id: str
    record_type: str
    payload_digest: str | None


def verify_archive(sessions: sessionmaker[Session], archive_dir: Path, *, tsa_ca: Path | None = None) -> Verification:
    """``tsa_ca``: the TSA certificates trusted (a PEM bundle); without, a token's imprint is
    checked but not its signature."""
    roots = load_roots(tsa_ca)
    result = Verification(tsa_checked=bool(roots))
    hashes: dict[str, str] = {}
    rows: dict[str, list[_Row]] = {}
    with sessions() as session:
        query = select(Record.filename, Record.offset, Record.length, Record.record_id, Record.record_type,
                       Record.payload_digest).order_by(Record.filename, Record.offset)
        for filename, offset, length, record_id, record_type, payload_digest in session.execute(query):
            rows.setdefault(filename, []).append(_Row(offset, length, record_id, record_type, payload_digest))
        files = {row.name: row for row in session.scalars(select(WarcFile))}
    for filename in sorted(set(rows) | set(files)):
        named = rows.get(filename, [])
        result.records += len(named)
        closed = files.get(filename)
        if closed is not None:
            result.files += 1
        try:
            path = locate(archive_dir, filename)
        except ArchiveError:
            result.damage.append(Damage(filename, None, None, "file is missing"))
            continue
        scan = _Scan(path, filename, named)
        result.damage.extend(scan.run())
        if closed is not None:
            result.damage.extend(_check_file(scan, path, closed, hashes))
    tokens = check_tokens(sessions, archive_dir, hashes, roots)
    result.damage.extend(Damage(name, None, None, message) for name, message in tokens.problems)
    result.damage.extend(Damage(name, None, None, f"its time-stamp token has no copy beside it ({name}{TSR_SUFFIX})")
                         for name in tokens.missing_copies)
    result.proven, result.unstamped = tokens.proven, tokens.unstamped
    for path in sorted(archive_dir.glob("*.warc.gz*")) if archive_dir.is_dir() else []:
        if path.name.endswith(TSR_SUFFIX):
            continue
        if path.name.endswith(OPEN_SUFFIX):
            result.unclosed.append(path.name)
        elif path.name not in files:
            result.unrecorded.append(path.name)
    return result


class _Hashing:
    """The file as warcio reads it, hashed on the way: the whole-file check costs no second read."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.whole = True  # no seek yet: every byte went through the hash once, in order

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def tell(self) -> int:
        return self.handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        self.whole = False
        return self.handle.seek(offset, whence)


class _Scan:
    """One pass over one file with warcio, record by record, against the database's rows."""

    def __init__(self, path: Path, filename: str, rows: list[_Row]) -> None:
        self.path = path
        self.filename = filename
        self.rows = {row.offset: row for row in rows}
        self.stream: _Hashing | None = None

    def run(self) -> list[Damage]:
        damage: list[Damage] = []
        seen: set[int] = set()
        pending = sorted(self.rows)
        with open(self.path, "rb") as handle:
            self.stream = stream = _Hashing(handle)
            start: int | None = 0
            while start is not None:
                failed = self._records(stream, start, seen, damage)
                if failed is None:
                    break
                # Past a damaged gzip member warcio cannot find the next one: start again at the
                # next record the database names, each being its own member.
                start = next((offset for offset in pending if offset > failed and offset not in seen), None)
                if start is not None:
                    stream.seek(start)
            if stream.whole:
                # warcio stops after the last record: whatever follows it is hashed too.
                while stream.read(_READ_SIZE):
                    pass
        for offset in pending:
            if offset not in seen:
                row = self.rows[offset]
                damage.append(Damage(self.filename, offset, row.record_id,
                                     "no WARC record starts there; the database and the archive disagree"))
        return damage

    def _records(self, stream: _Hashing, start: int, seen: set[int], damage: list[Damage]) -> int | None:
        """Check the records from ``start`` on. Returns the offset of a damaged record, past
        which warcio's parse of the file cannot be trusted, or None at the end of the file."""
        records = ArchiveIterator(stream, check_digests=True)
        current = start  # where the record being read starts
        try:
            for record in records:
                # Asking for the length reads the record to its end: that is when warcio
                # compares the digests.
                length = records.get_record_length()
                problems = self._check(record, current, length)
                row = self.rows.get(current)
                if row is not None:
                    seen.add(current)
                    damage.extend(Damage(self.filename, current, row.record_id, message) for message in problems)
                if problems:
                    return current
                current += length
        except (ArchiveLoadFailed, OSError, ValueError, EOFError) as exc:
            row = self.rows.get(current)
            seen.add(current)
            reason = " ".join(str(exc).split()) or type(exc).__name__
            damage.append(Damage(self.filename, current, row.record_id if row else None, f"cannot be read ({reason})"))
            return current
        return None

    def _check(self, record: Any, offset: int, length: int) -> list[str]:
        row = self.rows.get(offset)
        problems: list[str] = []
        headers = record.rec_headers
        if record.raw_stream.limit:
            problems.append(f"is cut short: {record.raw_stream.limit} bytes of its block are missing")
        for problem in record.digest_checker.problems:
            if problem.startswith("block"):
                problems.append("block digest does not match: the record's bytes were altered")
            elif problem.startswith("payload"):
                problems.append("payload digest does not match the body")
            else:
                problems.append(problem)
        if row is None:
            return problems
        record_id = headers.get_header("WARC-Record-ID")
        if record_id != row.record_id:
            return [f"holds record {record_id}, not the one the database names"]
        if record.rec_type != row.record_type:
            problems.append(f"is a {record.rec_type} record, the database says {row.record_type}")
        if headers.get_header("WARC-Block-Digest") is None:
            problems.append("has no WARC-Block-Digest")
        payload_digest = headers.get_header("WARC-Payload-Digest")
        if record.rec_type == "response" and payload_digest is None:
            problems.append("has no WARC-Payload-Digest")
        if row.payload_digest is not None and payload_digest is not None and not _same(row.payload_digest, payload_digest):
            problems.append("payload digest differs from the database's")
        if length != row.length and not problems:
            problems.append(f"is {length} bytes long in the file, {row.length} in the database: it was cut or rewritten")
        return problems


def _check_file(scan: _Scan, path: Path, row: WarcFile, hashes: dict[str, str]) -> Iterator[Damage]:
    stream = scan.stream
    if stream is not None and stream.whole:
        size, sha256 = stream.size, stream.sha256.hexdigest()
    else:
        size, sha256 = _hash(path)
    hashes[row.name] = sha256
    if size != row.size:
        yield Damage(row.name, None, None, f"is {size} bytes, {row.size} when closed: it was cut or extended")
    elif sha256 != row.sha256:
        yield Damage(row.name, None, None, "SHA-256 differs from the one recorded when the file was closed")


def _hash(path: Path) -> tuple[int, str]:
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_SIZE):
            hasher.update(chunk)
            size += len(chunk)
    return size, hasher.hexdigest()


def _same(a: str, b: str) -> bool:
    """Whether two digest labels name the same hash, in any case and in base 32 or 16."""
    return _digest(a) == _digest(b)


def _digest(label: str) -> tuple[str, bytes | str]:
    algorithm, _, value = label.partition(":")
    for decode in (base64.b32decode, base64.b16decode):
        try:
            return algorithm.lower(), decode(value.upper())
        except (binascii.Error, ValueError):
            continue
    return algorithm.lower(), value
