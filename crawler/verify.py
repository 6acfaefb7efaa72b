"""``evidence verify``: is every archived byte the database points at still what was written?

Two independent checks:

- every record the database names is re-read at its offset; its block and payload
  digests are recomputed and compared with its own headers, and its id, type and
  payload digest with the database row;
- every closed WARC file is hashed whole and compared with the SHA-256 recorded when
  it was closed (so a byte changed anywhere, even between records, is caught).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import ArchiveError
from crawler.models import Record, WarcFile
from crawler.warc.reader import locate, read_record
from crawler.warc.records import digest
from crawler.warc.writer import OPEN_SUFFIX


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

    @property
    def intact(self) -> bool:
        return not self.damage


def verify_archive(sessions: sessionmaker[Session], archive_dir: Path) -> Verification:
    result = Verification()
    with sessions() as session:
        records = list(session.scalars(select(Record).order_by(Record.filename, Record.offset)))
        files = {row.name: row for row in session.scalars(select(WarcFile))}
    missing: set[str] = set()
    for record in records:
        result.records += 1
        if record.filename in missing:
            continue
        try:
            locate(archive_dir, record.filename)
        except ArchiveError:
            missing.add(record.filename)
            result.damage.append(Damage(record.filename, None, None, "file is missing"))
            continue
        result.damage.extend(_check_record(archive_dir, record))
    for _, row in sorted(files.items()):
        result.files += 1
        result.damage.extend(_check_file(archive_dir, row))
    for path in sorted(archive_dir.glob("*.warc.gz*")) if archive_dir.is_dir() else []:
        if path.name.endswith(OPEN_SUFFIX):
            result.unclosed.append(path.name)
        elif path.name not in files:
            result.unrecorded.append(path.name)
    return result


def _check_record(archive_dir: Path, record: Record) -> Iterator[Damage]:
    def damage(message: str) -> Damage:
        return Damage(record.filename, record.offset, record.record_id, message)

    try:
        stored = read_record(archive_dir, record.filename, record.offset, check_digest=False)
    except ArchiveError as exc:
        yield damage(f"cannot be read ({exc})")
        return
    if stored.header("WARC-Record-ID") != record.record_id:
        yield damage(f"holds record {stored.header('WARC-Record-ID')}, not the one the database names")
        return
    if stored.header("WARC-Type") != record.record_type:
        yield damage(f"is a {stored.header('WARC-Type')} record, the database says {record.record_type}")
    block_digest = stored.header("WARC-Block-Digest")
    if block_digest is None:
        yield damage("has no WARC-Block-Digest")
    elif not _same(digest(stored.block), block_digest):
        yield damage("block digest does not match: the record's bytes were altered")
    payload_digest = stored.header("WARC-Payload-Digest")
    if stored.header("WARC-Type") == "response":
        if payload_digest is None or not _same(digest(stored.http_body), payload_digest):
            yield damage("payload digest does not match the body")
        elif record.payload_digest is not None and not _same(record.payload_digest, payload_digest):
            yield damage("payload digest differs from the database's")


def _check_file(archive_dir: Path, row: WarcFile) -> Iterator[Damage]:
    path = archive_dir / row.name
    if not path.exists():
        yield Damage(row.name, None, None, "file is missing")
        return
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
    if size != row.size:
        yield Damage(row.name, None, None, f"is {size} bytes, {row.size} when closed: it was cut or extended")
    elif hasher.hexdigest() != row.sha256:
        yield Damage(row.name, None, None, "SHA-256 differs from the one recorded when the file was closed")


def _same(a: str, b: str) -> bool:
    """Compare ``sha1:BASE32`` labels, tolerant of the label's case."""
    algorithm_a, _, value_a = a.partition(":")
    algorithm_b, _, value_b = b.partition(":")
    return algorithm_a.lower() == algorithm_b.lower() and value_a.upper() == value_b.upper()
