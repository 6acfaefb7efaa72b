"""``evidence verify``'s check of the time-stamp tokens: each closed WARC file's tokens (the
database's and the ``.tsr`` copy beside the file) must be over the file's SHA-256 as it
is read now, and signed by a chain to a certificate the user trusts (``EVIDENCE_TSA_CA``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import TimestampError
from crawler.store.models import Timestamp
from crawler.timestamps.stamping import tsr_path
from crawler.timestamps.tsa import UntrustedToken, WrongImprint, check_reply


@dataclass(frozen=True)
class Proven:
    """The earliest time a good token proves a file existed at."""

    filename: str
    time: datetime
    tsa_url: str
    #: whether the token's signature was checked against trusted certificates
    trusted: bool


@dataclass
class TokenFindings:
    proven: list[Proven] = field(default_factory=list)
    #: (file, message): a token that proves nothing for its file
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: closed files with no token (owed: `evidence timestamp` asks for one)
    unstamped: list[str] = field(default_factory=list)
    #: files whose database token has no ``.tsr`` copy beside them
    missing_copies: list[str] = field(default_factory=list)


def check_tokens(sessions: sessionmaker[Session], archive_dir: Path, hashes: Mapping[str, str],
                 roots: Sequence[Any]) -> TokenFindings:
    """Check every token of the closed files in ``hashes`` (name: SHA-256 as read now)."""
    findings = TokenFindings()
    replies: dict[str, list[tuple[str, bytes]]] = {}
    with sessions() as session:
        query = select(Timestamp.filename, Timestamp.tsa_url, Timestamp.reply).where(Timestamp.kind == "warc").order_by(Timestamp.id)
        for name, url, reply in session.execute(query):
            replies.setdefault(name, []).append((url, reply))
    for name in sorted(hashes):
        tokens = [("database token", url, reply) for url, reply in replies.get(name, [])]
        copy = tsr_path(archive_dir / name)
        if copy.is_file():
            data = copy.read_bytes()
            if all(reply != data for _, _, reply in tokens):
                tokens.append((f"token in {copy.name}", "", data))
        elif tokens:
            findings.missing_copies.append(name)
        if not tokens:
            findings.unstamped.append(name)
            continue
        good = list(_check(findings, name, bytes.fromhex(hashes[name]), tokens, roots))
        if good:
            findings.proven.append(min(good, key=lambda proven: proven.time))
    return findings


def _check(findings: TokenFindings, name: str, digest: bytes, tokens: list[tuple[str, str, bytes]],
           roots: Sequence[Any]) -> Iterator[Proven]:
    for which, url, reply in tokens:
        try:
            time = check_reply(reply, digest, roots)
        except WrongImprint as exc:
            findings.problems.append((name, f"time-stamp {which} {exc}: it proves nothing for the file as it is"))
        except UntrustedToken as exc:
            findings.problems.append((name, f"time-stamp {which} {exc}"))
        except TimestampError as exc:
            findings.problems.append((name, f"time-stamp {which} {exc}"))
        else:
            yield Proven(name, time, url, bool(roots))
