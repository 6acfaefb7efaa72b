"""Stamping closed WARC files and exported packages, and keeping the tokens.

A token is kept twice: in the database (``timestamps``) and as ``<file>.tsr`` beside the
file, so the archive folder alone can be checked with ``openssl ts -verify``. Stamping
asks the network, so it runs after a crawl's last file has closed, never inside the
crawl; a file no TSA stamped is owed a token, and every later crawl or
``evidence timestamp`` asks again. Nothing here fails a crawl: a failure is a file still
owed, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import ArchiveError, TimestampError
from crawler.store.models import Timestamp, WarcFile
from crawler.timestamps.tsa import Token, TsaSettings, load_roots, request_token, sha256_of

TSR_SUFFIX = ".tsr"


@dataclass(frozen=True)
class Stamped:
    filename: str
    tsa_url: str
    time: datetime
    #: from the file's closing to the TSA's time: how long the file's existence rests on
    #: the keeper's word alone (None for a package, stamped as it is written)
    delay: timedelta | None


@dataclass
class Stamping:
    """What a round of stamping did: files stamped, and files still owed a token, with why."""

    stamped: list[Stamped] = field(default_factory=list)
    owed: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "stamped": [
                {"file": s.filename, "tsa": s.tsa_url, "time": _iso(s.time),
                 "delay_seconds": None if s.delay is None else round(s.delay.total_seconds())}
                for s in self.stamped
            ],
            "owed": [{"file": name, "reason": reason} for name, reason in self.owed],
        }


def tsr_path(path: Path) -> Path:
    return path.with_name(path.name + TSR_SUFFIX)


def stamp_warc_files(sessions: sessionmaker[Session], archive_dir: Path, settings: TsaSettings, *,
                     every: bool = False) -> Stamping:
    """Stamp each closed WARC file that has no token yet (``every``: each closed file, adding
    a token to those that have one). Without a TSA set, nothing is asked and nothing owed."""
    result = Stamping()
    if not settings.urls:
        return result
    roots = load_roots(settings.ca)
    with sessions() as session:
        stamped = set(session.scalars(select(Timestamp.filename).where(Timestamp.kind == "warc")))
        files = [(f.name, f.sha256, f.closed_at) for f in session.scalars(select(WarcFile).order_by(WarcFile.closed_at, WarcFile.name))]
    unreachable: set[str] = set()
    for name, sha256, closed_at in files:
        if name in stamped and not every:
            continue
        try:
            token = request_token(sha256, settings.urls, timeout=settings.timeout, roots=roots, skip=unreachable)
        except TimestampError as exc:
            result.owed.append((name, str(exc)))
            continue
        path = archive_dir / name
        try:
            _write_beside(path, token.reply)
        except OSError as exc:
            # The database keeps the token all the same; verify reports the missing copy.
            result.owed.append((name, f"token received but {tsr_path(path)} not written ({exc.strerror})"))
        _keep(sessions, "warc", name, token)
        closed = closed_at.replace(tzinfo=timezone.utc)
        result.stamped.append(Stamped(name, token.tsa_url, token.time, max(token.time - closed, timedelta(0))))
    return result


def stamp_package(sessions: sessionmaker[Session], path: Path, settings: TsaSettings) -> Stamped:
    """Stamp an exported package and write its token beside it. Raises ``TimestampError``."""
    token = request_token(sha256_of(path), settings.urls, timeout=settings.timeout, roots=load_roots(settings.ca))
    try:
        _write_beside(path, token.reply)
    except OSError as exc:
        raise ArchiveError(f"cannot write {tsr_path(path)}: {exc.strerror}; choose a writable path") from exc
    _keep(sessions, "wacz", str(path), token)
    return Stamped(str(path), token.tsa_url, token.time, None)


def warc_tokens(sessions: sessionmaker[Session], filenames: Iterable[str]) -> dict[str, bytes]:
    """The latest token of each named WARC file that has one, for a package to carry."""
    names = sorted(set(filenames))
    tokens: dict[str, bytes] = {}
    with sessions() as session:
        query = (select(Timestamp.filename, Timestamp.reply).where(Timestamp.kind == "warc", Timestamp.filename.in_(names))
                 .order_by(Timestamp.id))
        for name, reply in session.execute(query):
            tokens[name] = reply
    return tokens


def _keep(sessions: sessionmaker[Session], kind: str, filename: str, token: Token) -> None:
    with sessions.begin() as session:
        session.add(Timestamp(kind=kind, filename=filename, sha256=token.sha256, tsa_url=token.tsa_url,
                              reply=token.reply, stamped_time=token.time.astimezone(timezone.utc).replace(tzinfo=None)))


def _write_beside(path: Path, reply: bytes) -> None:
    target = tsr_path(path)
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as handle:
        handle.write(reply)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
