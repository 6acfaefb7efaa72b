"""Signed WACZ packages: the anonymous variant of Webrecorder's WACZ Signing and Verification
recommendation. ``datapackage-digest.json`` carries ``signedData``: the package hash, its
``created`` time, the software, an ECDSA signature over the hash string and the signer's
public key (base64 SubjectPublicKeyInfo, DER).

The signature is raw ``r || s`` (IEEE P1363), base64, over the hash string's ASCII bytes
with SHA-256. Keys are P-384 by default: that is the curve ReplayWeb.page (wabac.js 2.x)
imports to check a package without a domain certificate, so a P-384 package verifies in the
viewer auditors use. The recommendation's text names P-256, which ``keys create --curve
P-256`` makes; such a package verifies with ``evidence verify --wacz``, OpenSSL and any
verifier that reads the key's curve from its SubjectPublicKeyInfo, but ReplayWeb.page 2.5
shows its signature as invalid. A DER signature would fail there on either curve.

With a TSA set, ``timeSignature`` is the RFC 3161 reply over the SHA-256 of the signature
string, as the recommendation defines the field for the domain variant (authsign time-stamps
the signature, not the hash: the token then proves the signature itself existed by then).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from crawler import __version__
from crawler.exceptions import SigningError

if TYPE_CHECKING:
    from crawler.timestamps.tsa import TsaSettings

#: The curves ``keys create`` makes, by the names WebCrypto and the recommendation use.
CURVES: dict[str, ec.EllipticCurve] = {"P-384": ec.SECP384R1(), "P-256": ec.SECP256R1()}
DEFAULT_CURVE = "P-384"
# Curves a verifier accepts: ours, and the third WebCrypto ECDSA curve other signers use.
VERIFIABLE_CURVES = ("secp256r1", "secp384r1", "secp521r1")


def create_key(path: Path, curve: str = DEFAULT_CURVE) -> str:
    """Write a new private key on ``curve`` (``P-384``, ``P-256``) to ``path`` (PEM, mode
    0600, never over an existing file); return its public key as published (base64 SPKI DER)."""
    if curve not in CURVES:
        raise SigningError(f"no curve {curve!r}: choose {' or '.join(CURVES)}")
    key = ec.generate_private_key(CURVES[curve])
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        # O_EXCL: a key that signed packages is their identity; overwriting it loses it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningError(f"{path} already exists; a signing key is never overwritten: choose another --out") from None
    except OSError as exc:
        raise SigningError(f"cannot write {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return public_key_text(key.public_key())


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The private key in ``path``, refused when group or others may read or write it."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningError(f"signing key {path} is accessible to others (mode {stat.S_IMODE(mode):04o}); "
                           f"run `chmod 600 {path}`")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"{path} is not an unencrypted PEM private key; `evidence keys create` makes one") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in {c.name for c in CURVES.values()}:
        raise SigningError(f"{path} is not an ECDSA P-384 or P-256 key; `evidence keys create` makes one")
    return key


def public_key_text(key: ec.EllipticCurvePublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def signer(key: ec.EllipticCurvePrivateKey, stamp: Callable[[str], bytes] | None = None) -> Callable[[str, str], dict[str, Any]]:
    """The ``signedData`` maker ``write_wacz`` calls with the package hash and ``created``.

    ``stamp`` asks a TSA for a token over a SHA-256 (hex) and returns the reply."""

    def sign(package_hash: str, created: str) -> dict[str, Any]:
        signature = base64.b64encode(sign_text(key, package_hash)).decode("ascii")
        signed: dict[str, Any] = {
            "hash": package_hash,
            "created": created,
            "software": f"evidence/{__version__}",
            "signature": signature,
            "publicKey": public_key_text(key.public_key()),
        }
        if stamp is not None:
            reply = stamp(hashlib.sha256(signature.encode("ascii")).hexdigest())
            signed["timeSignature"] = base64.b64encode(reply).decode("ascii")
        return signed

    return sign


def sign_text(key: ec.EllipticCurvePrivateKey, text: str) -> bytes:
    """Raw ``r || s`` signature over ``text``: WebCrypto's form, not DER."""
    r, s = decode_dss_signature(key.sign(text.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def parse_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """A public key as ``keys create`` prints it (base64 SPKI DER), or as PEM."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"not a public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in VERIFIABLE_CURVES:
        raise SigningError("not an ECDSA P-256, P-384 or P-521 public key")
    return key


def signature_holds(key: ec.EllipticCurvePublicKey, signature: bytes, text: str) -> bool:
    """Whether ``signature`` (raw ``r || s`` or DER) signs ``text`` with ``key``."""
    from cryptography.exceptions import InvalidSignature

    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size:
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
    else:
        der = signature
    try:
        key.verify(der, text.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def package_signer(key_file: Path, tsa: TsaSettings) -> Callable[[str, str], dict[str, Any]]:
    """The signer of ``export --wacz --sign KEY``: the key read (and its permissions checked)
    before anything is written, and the signature time-stamped when a TSA is set."""
    from crawler.timestamps.tsa import load_roots, request_token

    key = load_key(key_file)
    if not tsa.urls:
        return signer(key)
    roots = load_roots(tsa.ca)

    def stamp(sha256_hex: str) -> bytes:
        return request_token(sha256_hex, tsa.urls, timeout=tsa.timeout, roots=roots).reply

    return signer(key, stamp)
