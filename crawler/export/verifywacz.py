"""Check a WACZ package on its own, without the database that wrote it: every file against
``datapackage.json``, that file against ``datapackage-digest.json``, the digest's signature
against its public key (and the key an auditor expects, when given), and the time-stamp of
the signature against the trusted TSAs.

Every problem is one line naming the file; a package is intact when there is none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from crawler.exceptions import SigningError, TimestampError
from crawler.export.signing import parse_public_key, public_key_text, signature_holds

PACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"


@dataclass
class WaczFindings:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    #: The signer's public key (base64 SPKI DER) when the signature holds.
    signed_by: str | None = None
    #: When the signature existed by, per its time-stamp, when that holds.
    stamped_at: datetime | None = None
    tsa_checked: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"intact": self.intact, "problems": self.problems, "files": self.files, "signed_by": self.signed_by,
                "stamped_at": self.stamped_at.isoformat() if self.stamped_at else None, "tsa_checked": self.tsa_checked}


def verify_wacz(path: Path, *, expected_key: str | None = None, roots: list[Any] | None = None) -> WaczFindings:
    """``expected_key``: the public key the package must be signed with (as ``keys public``
    prints it). ``roots``: trusted TSA certificates; without them a token is checked against
    the signature but its own signature chain is not."""
    findings = WaczFindings()
    expected = parse_public_key(expected_key) if expected_key else None
    try:
        with zipfile.ZipFile(path) as package:
            _check(package, findings, expected, roots or [])
    except zipfile.BadZipFile as exc:
        findings.problems.append(f"{path}: not a ZIP file ({exc})")
    except OSError as exc:
        raise SigningError(f"cannot read {path}: {exc.strerror}") from exc
    return findings


def _check(package: zipfile.ZipFile, findings: WaczFindings, expected: ec.EllipticCurvePublicKey | None,
           roots: list[Any]) -> None:
    names = set(package.namelist())
    if PACKAGE not in names:
        findings.problems.append(f"{PACKAGE}: missing")
        return
    package_bytes = _read(package, PACKAGE, findings)
    if package_bytes is None:
        return
    try:
        datapackage = json.loads(package_bytes)
        resources = list(datapackage["resources"])
    except (ValueError, KeyError, TypeError):
        findings.problems.append(f"{PACKAGE}: not a data package (no resources list)")
        return
    listed: set[str] = set()
    for resource in resources:
        name = str(resource.get("path", "")) if isinstance(resource, dict) else ""
        if not name:
            findings.problems.append(f"{PACKAGE}: a resource without a path")
            continue
        listed.add(name)
        if name not in names:
            findings.problems.append(f"{name}: listed in {PACKAGE} but missing")
            continue
        hashed = _sha256(package, name, findings)
        if hashed is None:
            continue
        findings.files += 1
        got, size = hashed
        algorithm, _, want = str(resource.get("hash", "")).partition(":")
        if algorithm != "sha256":
            findings.problems.append(f"{name}: hash {resource.get('hash')!r} in {PACKAGE} is not sha256:HEX")
        elif got != want:
            findings.problems.append(f"{name}: SHA-256 differs from {PACKAGE}'s (altered)")
        if "bytes" in resource and resource["bytes"] != size:
            findings.problems.append(f"{name}: {size} bytes, {PACKAGE} says {resource['bytes']}")
    for name in sorted(names - listed - {PACKAGE, DIGEST}):
        if not name.endswith("/"):
            findings.problems.append(f"{name}: in the package but not listed in {PACKAGE}")
    _check_digest(package, names, package_bytes, datapackage, findings, expected, roots)


def _check_digest(package: zipfile.ZipFile, names: set[str], package_bytes: bytes, datapackage: Any,
                  findings: WaczFindings, expected: ec.EllipticCurvePublicKey | None, roots: list[Any]) -> None:
    if DIGEST not in names:
        findings.problems.append(f"{DIGEST}: missing")
        return
    raw = _read(package, DIGEST, findings)
    if raw is None:
        return
    try:
        digest = json.loads(raw)
        package_hash = str(digest["hash"])
    except (ValueError, KeyError, TypeError):
        findings.problems.append(f"{DIGEST}: not a digest (no hash)")
        return
    if package_hash != "sha256:" + hashlib.sha256(package_bytes).hexdigest():
        findings.problems.append(f"{PACKAGE}: SHA-256 differs from {DIGEST}'s hash (one of them altered)")
    signed = digest.get("signedData")
    if not isinstance(signed, dict):
        if expected is not None:
            findings.problems.append(f"{DIGEST}: not signed, but a signing key was expected")
        return
    if signed.get("hash") != package_hash:
        findings.problems.append(f"{DIGEST}: signedData.hash is not the package hash")
    if isinstance(datapackage, dict) and signed.get("created") != datapackage.get("created"):
        findings.problems.append(f"{DIGEST}: signedData.created differs from {PACKAGE}'s created")
    try:
        key = parse_public_key(str(signed.get("publicKey", "")))
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
    except (SigningError, binascii.Error) as exc:
        findings.problems.append(f"{DIGEST}: signedData has no usable publicKey or signature ({exc})")
        return
    if not signature_holds(key, signature, str(signed.get("hash", ""))):
        findings.problems.append(f"{DIGEST}: the signature does not sign the package hash with its public key")
        return
    if expected is not None and public_key_text(key) != public_key_text(expected):
        findings.problems.append(f"{DIGEST}: signed by another key ({public_key_text(key)[-16:]}), not the one expected")
        return
    findings.signed_by = public_key_text(key)
    if "timeSignature" in signed:
        _check_time(str(signed["timeSignature"]), str(signed["signature"]), findings, roots)


def _check_time(token: str, signature: str, findings: WaczFindings, roots: list[Any]) -> None:
    from crawler.timestamps.tsa import check_reply

    try:
        reply = base64.b64decode(token, validate=True)
        findings.stamped_at = check_reply(reply, hashlib.sha256(signature.encode("ascii")).digest(), roots)
        findings.tsa_checked = bool(roots)
    except (binascii.Error, TimestampError) as exc:
        findings.problems.append(f"{DIGEST}: signedData.timeSignature does not prove the signature's time ({exc})")


def _sha256(package: zipfile.ZipFile, name: str, findings: WaczFindings) -> tuple[str, int] | None:
    """The SHA-256 and size of a member, read in blocks: a package's WARC can be gigabytes."""
    digest, size = hashlib.sha256(), 0
    try:
        with package.open(name) as member:
            while block := member.read(1 << 20):
                digest.update(block)
                size += len(block)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        findings.problems.append(f"{name}: unreadable in the package ({exc})")
        return None
    return digest.hexdigest(), size


def _read(package: zipfile.ZipFile, name: str, findings: WaczFindings) -> bytes | None:
    try:
        return package.read(name)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        # A CRC error: the ZIP's own check caught a changed byte before ours could.
        findings.problems.append(f"{name}: unreadable in the package ({exc})")
        return None
