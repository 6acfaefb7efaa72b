"""The time-stamp protocol (RFC 3161) over HTTP: one request per SHA-256, each TSA asked in turn.

rfc3161-client parses answers and checks signatures and certificate chains. Its request
builder hashes the data it is handed, whole and in memory; a WARC file is up to 1 GB and
its SHA-256 is already known from closing it, so the request (a fixed, 60-byte DER
structure) is written here, around the digest.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import __version__
from crawler import settings as default_settings
from crawler.exceptions import SettingError, TimestampError

SHA256_OID = "2.16.840.1.101.3.4.2.1"
# AlgorithmIdentifier { id-sha256, NULL }, DER
_SHA256_ALGORITHM = bytes.fromhex("300d060960864801650304020105 00".replace(" ", ""))
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
# A token is a few kilobytes; a TSA answering more is not answering the protocol.
_MAX_REPLY = 1 << 20


@dataclass(frozen=True)
class TsaSettings:
    """``EVIDENCE_TSA_URL``, ``EVIDENCE_TSA_CA`` and ``EVIDENCE_TSA_TIMEOUT``, resolved."""

    urls: tuple[str, ...]
    ca: Path | None
    timeout: float

    @classmethod
    def resolve(cls, overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> TsaSettings:
        """``overrides`` (``-s NAME=VALUE``) win, then the environment, then crawler/settings.py."""
        env = os.environ if environ is None else environ

        def pick(name: str) -> Any:
            if name in overrides:
                return overrides[name]
            if name in env:
                return env[name]
            return getattr(default_settings, name)

        urls = tsa_urls(pick("EVIDENCE_TSA_URL"))
        ca = str(pick("EVIDENCE_TSA_CA") or "")
        try:
            timeout = float(pick("EVIDENCE_TSA_TIMEOUT"))
        except (TypeError, ValueError):
            raise SettingError(f"EVIDENCE_TSA_TIMEOUT={pick('EVIDENCE_TSA_TIMEOUT')!r} is not a number of seconds") from None
        return cls(urls=urls, ca=Path(ca) if ca else None, timeout=timeout)


def tsa_urls(value: Any) -> tuple[str, ...]:
    """The TSA URLs of a setting: a list, or one string of URLs separated by commas or spaces."""
    items: Iterable[Any] = value.replace(",", " ").split() if isinstance(value, str) else (value or ())
    urls = tuple(str(item).strip() for item in items if str(item).strip())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingError(f"EVIDENCE_TSA_URL: {url!r} is not an http or https URL")
    return urls


def query(sha256: bytes, nonce: int) -> bytes:
    """A TimeStampReq (RFC 3161 2.4.1) for a SHA-256 digest, asking for the TSA's certificate."""
    if len(sha256) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    imprint = _der(0x30, _SHA256_ALGORITHM + _der(0x04, sha256))
    body = _der(0x02, b"\x01") + imprint + _der(0x02, _integer(nonce)) + _der(0x01, b"\xff")
    return _der(0x30, body)


def new_nonce() -> int:
    # 64 bits, positive: enough that a replayed answer to an older request is refused.
    return int.from_bytes(os.urandom(8), "big") >> 1


def _integer(value: int) -> bytes:
    # One byte more than the bits need keeps the sign bit clear: DER integers are signed.
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


@dataclass(frozen=True)
class Token:
    """A TSA's answer (TimeStampResp, DER: what ``openssl ts -verify -in`` reads) and what it says."""

    reply: bytes
    tsa_url: str
    sha256: str
    time: datetime


def request_token(sha256_hex: str, urls: Sequence[str], *, timeout: float, roots: Sequence[Any] = (),
                  skip: set[str] | None = None) -> Token:
    """Ask each TSA in turn for a token over ``sha256_hex``; the first good answer wins.

    An answer is kept only when it is granted, for this digest and nonce, and (with
    ``roots``) signed by a chain to one of them. A TSA that cannot be reached is added to
    ``skip``, so one that is down costs a batch of files one timeout, not one each.
    Raises ``TimestampError`` naming every TSA's failure.
    """
    digest = bytes.fromhex(sha256_hex)
    failures: list[str] = []
    for url in urls:
        if skip is not None and url in skip:
            failures.append(f"{url}: unreachable earlier")
            continue
        nonce = new_nonce()
        try:
            reply = _post(url, query(digest, nonce), timeout)
        except _Unreachable as exc:
            if skip is not None:
                skip.add(url)
            failures.append(f"{url}: {exc}")
            continue
        except TimestampError as exc:
            failures.append(f"{url}: {exc}")
            continue
        try:
            time = check_reply(reply, digest, roots, nonce=nonce)
        except TimestampError as exc:
            failures.append(f"{url}: {exc}")
            continue
        return Token(reply=reply, tsa_url=url, sha256=sha256_hex, time=time)
    raise TimestampError("no time-stamping authority answered: " + "; ".join(failures) if failures
                         else "no time-stamping authority is set (EVIDENCE_TSA_URL)")


class _Unreachable(TimestampError):
    pass


def _post(url: str, body: bytes, timeout: float) -> bytes:
    import requests

    try:
        response = requests.post(
            url, data=body, timeout=timeout, allow_redirects=False, stream=True,
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE, "User-Agent": f"evidence/{__version__}"},
        )
    except requests.RequestException as exc:
        raise _Unreachable(f"cannot be reached ({type(exc).__name__})") from exc
    with response:
        if response.status_code != 200:
            raise TimestampError(f"answered HTTP {response.status_code}")
        try:
            data = response.raw.read(_MAX_REPLY + 1, decode_content=True)
        except (requests.RequestException, OSError) as exc:
            raise _Unreachable(f"broke off its answer ({type(exc).__name__})") from exc
    if len(data) > _MAX_REPLY:
        raise TimestampError("answered more than 1 MB: not a time-stamp reply")
    return bytes(data)


def check_reply(reply: bytes, digest: bytes, roots: Sequence[Any] = (), *, nonce: int | None = None) -> datetime:
    """The time a reply proves ``digest`` existed at, once it is found to be a granted token
    over exactly that SHA-256 (and ``nonce``), signed by a chain to ``roots`` when given.

    Raises ``TimestampError`` saying what is wrong; ``UntrustedToken`` for a signature or
    chain that does not lead to ``roots``.
    """
    from rfc3161_client import PKIStatus, VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        response = decode_timestamp_response(reply)
        status = response.status
        info = response.tst_info if status in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS) else None
    except ValueError as exc:
        raise TimestampError(f"is not a time-stamp reply ({exc})") from exc
    if info is None:
        said = " ".join(response.status_string) if status != PKIStatus.GRANTED else ""
        raise TimestampError(f"refused the request (PKI status {status}{': ' + said if said else ''})")
    if info.message_imprint.hash_algorithm.dotted_string != SHA256_OID:
        raise TimestampError(f"stamped another hash ({info.message_imprint.hash_algorithm.dotted_string}), not SHA-256")
    if info.message_imprint.message != digest:
        raise WrongImprint(f"is for SHA-256 {info.message_imprint.message.hex()}, not this file's {digest.hex()}")
    if nonce is not None and info.nonce != nonce:
        raise TimestampError("answered another request (nonce differs)")
    if roots:
        builder = VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        try:
            builder.build().verify(response, digest)
        except ValueError as exc:
            # Parsed lazily: a byte changed inside a certificate of the token surfaces here.
            raise TimestampError(f"is not a readable time-stamp token ({exc})") from exc
        except VerificationError as exc:
            # The library passes OpenSSL's error stack on whole; its verify reason is the news.
            found = re.search(r'data: "([^"]+)"', str(exc))
            raise UntrustedToken(f"is not signed by a TSA the trusted certificates vouch for "
                                 f"({found.group(1) if found else exc})") from exc
    time = info.gen_time
    return time if time.tzinfo is not None else time.replace(tzinfo=timezone.utc)


class WrongImprint(TimestampError):
    """A token over other bytes than the file's."""


class UntrustedToken(TimestampError):
    """A token whose signature or chain does not lead to a trusted certificate."""


def load_roots(path: Path | None) -> list[Any]:
    """The certificates of a PEM bundle (``EVIDENCE_TSA_CA``); none without a path."""
    if path is None:
        return []
    from cryptography.x509 import load_pem_x509_certificates

    try:
        return list(load_pem_x509_certificates(path.read_bytes()))
    except OSError as exc:
        raise SettingError(f"EVIDENCE_TSA_CA: cannot read {path} ({exc.strerror})") from exc
    except ValueError as exc:
        raise SettingError(f"EVIDENCE_TSA_CA: {path} holds no PEM certificate ({exc})") from exc


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()
