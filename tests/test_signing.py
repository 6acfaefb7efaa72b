"""Signed WACZ packages: `evidence keys`, `export --wacz --sign`, `verify --wacz` without a
database, checked against implementations we did not write: OpenSSL for the ECDSA signature
and the RFC 3161 token, py-wacz's validator for the hashes and the digest. ReplayWeb.page's
own check of the signature is in tests/test_replaywebpage.py."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from crawler.timestamps.tsa import request_token
from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.tools import tool
from tests.tsaserver import TsaServer, make_authority


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("signing"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(f"1 <{site.url('/plan')}>\n2 <{site.url('/nota.pdf')}>\n", encoding="utf-8")
        assert workspace.crawl(str(doc)).returncode == 0
    return workspace


@pytest.fixture(scope="module")
def key(crawled: Workspace) -> dict[str, Any]:
    path = crawled.path / "signer.key"
    made = crawled.run("keys", "create", "--out", str(path))
    assert made.returncode == 0, made.stderr
    return {"path": path, "public": made.stdout.strip()}


@pytest.fixture(scope="module")
def signed(crawled: Workspace, key: dict[str, Any]) -> Path:
    package = crawled.path / "signed.wacz"
    exported = crawled.run("export", "--wacz", str(package), "--sign", str(key["path"]))
    assert exported.returncode == 0, exported.stderr
    assert "signed" in exported.stderr
    return package


def verify(workspace: Workspace, package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No database anywhere near: the package is checked on its own.
    env = workspace.env(EVIDENCE_DB=str(workspace.path / "no-such.db"))
    return workspace.run("verify", "--wacz", str(package), *args, env=env)


def py_wacz(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("wacz"), "validate", "-f", str(package)], capture_output=True, text=True)


def rewritten(package: Path, target: Path, change: dict[str, Any]) -> Path:
    """A copy of ``package`` with members replaced (name -> new bytes), each kept at its compression."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename in change:
                replacement = change[info.filename]
                data = replacement(data) if callable(replacement) else replacement
            out.writestr(info, data, compress_type=info.compress_type)
    return target


def flip(data: bytes, at: int | None = None) -> bytes:
    where = len(data) // 2 if at is None else at
    return data[:where] + bytes([data[where] ^ 0x01]) + data[where + 1:]


def test_keys_create_writes_a_private_key_only_its_owner_reads_and_prints_the_public_key(crawled, key):
    mode = stat.S_IMODE(key["path"].stat().st_mode)
    assert mode == 0o600
    public = crawled.run("keys", "public", str(key["path"]))
    assert public.returncode == 0 and public.stdout.strip() == key["public"]
    loaded = serialization.load_der_public_key(base64.b64decode(key["public"]))
    assert isinstance(loaded, ec.EllipticCurvePublicKey) and loaded.curve.name == "secp384r1"
    again = crawled.run("keys", "create", "--out", str(key["path"]))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert crawled.run("keys", "public", str(key["path"])).stdout.strip() == key["public"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_key_others_can_read_is_refused_naming_the_file_and_the_fix(crawled, key, tmp_path, mode):
    loose = tmp_path / "loose.key"
    shutil.copyfile(key["path"], loose)
    os.chmod(loose, mode)
    package = tmp_path / "never.wacz"
    exported = crawled.run("export", "--wacz", str(package), "--sign", str(loose))
    assert exported.returncode == 2
    errors = [line for line in exported.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and str(loose) in errors[0] and f"chmod 600 {loose}" in errors[0], exported.stderr
    assert not package.exists()
    assert crawled.run("keys", "public", str(loose)).returncode == 2


def test_a_signed_package_verifies_with_us_openssl_and_py_wacz(crawled, key, signed, tmp_path):
    checked = verify(crawled, signed, "--key", key["public"])
    assert checked.returncode == 0, checked.stdout
    assert f"signed by {key['public']}" in checked.stdout and "intact" in checked.stdout
    with zipfile.ZipFile(signed) as package:
        package_bytes = package.read("datapackage.json")
        digest = json.loads(package.read("datapackage-digest.json"))
    signed_data = digest["signedData"]
    assert digest["hash"] == signed_data["hash"] == "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    assert signed_data["publicKey"] == key["public"]
    assert signed_data["created"] == json.loads(package_bytes)["created"]
    # OpenSSL checks the signature over the hash string: raw r||s (WebCrypto's form) as DER for it.
    raw = base64.b64decode(signed_data["signature"])
    assert len(raw) == 96
    (tmp_path / "sig.der").write_bytes(encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")))
    (tmp_path / "hash.txt").write_text(signed_data["hash"], encoding="ascii")
    (tmp_path / "pub.der").write_bytes(base64.b64decode(key["public"]))
    subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(tmp_path / "pub.der"),
                    "-out", str(tmp_path / "pub.pem")], check=True)
    openssl = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                              str(tmp_path / "sig.der"), str(tmp_path / "hash.txt")], capture_output=True, text=True)
    assert openssl.returncode == 0 and "Verified OK" in openssl.stdout, openssl.stdout + openssl.stderr
    # py-wacz checks the hashes, the digest and that the signature's created is the package's.
    validation = py_wacz(signed)
    assert validation.returncode == 0 and "Has signature" in validation.stdout, validation.stdout


@pytest.mark.parametrize("member", ["datapackage.json", "archive/data.warc.gz", "pages/pages.jsonl",
                                    "indexes/index.cdx.gz", "indexes/index.idx"])
def test_one_byte_changed_in_any_file_fails_us_and_py_wacz(crawled, signed, tmp_path, member):
    tampered = rewritten(signed, tmp_path / "tampered.wacz", {member: flip})
    checked = verify(crawled, tampered)
    assert checked.returncode == 1
    assert any(line.startswith(f"DAMAGED {member}") for line in checked.stdout.splitlines()), checked.stdout
    assert py_wacz(tampered).returncode != 0


def test_hashes_recomputed_after_a_change_still_fail_on_the_signature(crawled, key, signed, tmp_path):
    """Whoever backdates a page and rewrites datapackage.json and the digest to match cannot
    re-sign without the key: py-wacz (hashes only) is fooled, the signature is not."""
    with zipfile.ZipFile(signed) as package:
        pages = package.read("pages/pages.jsonl")
        datapackage = json.loads(package.read("datapackage.json"))
        digest = json.loads(package.read("datapackage-digest.json"))
    backdated = pages.replace(b'"ts": "20', b'"ts": "19', 1)
    assert backdated != pages
    for resource in datapackage["resources"]:
        if resource["path"] == "pages/pages.jsonl":
            resource["hash"] = "sha256:" + hashlib.sha256(backdated).hexdigest()
    package_bytes = json.dumps(datapackage, indent=2).encode("utf-8")
    digest["hash"] = digest["signedData"]["hash"] = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    forged = rewritten(signed, tmp_path / "forged.wacz", {
        "pages/pages.jsonl": backdated, "datapackage.json": package_bytes,
        "datapackage-digest.json": json.dumps(digest).encode("utf-8"),
    })
    fooled = py_wacz(forged)
    assert fooled.returncode == 0, fooled.stdout
    checked = verify(crawled, forged)
    assert checked.returncode == 1
    assert "DAMAGED datapackage-digest.json: the signature does not sign the package hash" in checked.stdout


def test_a_changed_signature_or_a_package_re_signed_by_another_key_fails(crawled, key, signed, tmp_path):
    with zipfile.ZipFile(signed) as package:
        digest = json.loads(package.read("datapackage-digest.json"))
    raw = base64.b64decode(digest["signedData"]["signature"])
    digest["signedData"]["signature"] = base64.b64encode(flip(raw, 10)).decode("ascii")
    bad = rewritten(signed, tmp_path / "badsig.wacz", {"datapackage-digest.json": json.dumps(digest).encode("utf-8")})
    assert verify(crawled, bad).returncode == 1

    other = tmp_path / "other.key"
    assert crawled.run("keys", "create", "--out", str(other)).returncode == 0
    resigned = tmp_path / "resigned.wacz"
    assert crawled.run("export", "--wacz", str(resigned), "--sign", str(other)).returncode == 0
    assert verify(crawled, resigned).returncode == 0
    expected = verify(crawled, resigned, "--key", key["public"])
    assert expected.returncode == 1 and "signed by another key" in expected.stdout
    # The expected key read from a file, as `keys public KEY > FILE` leaves it.
    (tmp_path / "other.pub").write_text(crawled.run("keys", "public", str(other)).stdout, encoding="utf-8")
    assert verify(crawled, resigned, "--key", str(tmp_path / "other.pub")).returncode == 0


def test_an_unsigned_package_is_refused_when_a_key_is_expected(crawled, key, tmp_path):
    plain = tmp_path / "plain.wacz"
    assert crawled.run("export", "--wacz", str(plain)).returncode == 0
    assert verify(crawled, plain).returncode == 0
    expected = verify(crawled, plain, "--key", key["public"])
    assert expected.returncode == 1 and "not signed" in expected.stdout


def test_with_a_tsa_the_signature_is_time_stamped_and_openssl_agrees(crawled, key, tmp_path):
    trusted, other = make_authority(tmp_path / "trusted", "Trusted"), make_authority(tmp_path / "other", "Other")
    package = tmp_path / "stamped.wacz"
    with TsaServer(trusted) as tsa:
        exported = crawled.run("export", "--wacz", str(package), "--sign", str(key["path"]),
                               "--tsa-url", tsa.url, "--tsa-ca", str(trusted.ca))
        # A good token from the same TSA, but over another signature.
        elsewhere = request_token(hashlib.sha256(b"another signature").hexdigest(), [tsa.url], timeout=30).reply
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(package) as wacz:
        signed_data = json.loads(wacz.read("datapackage-digest.json"))["signedData"]
    (tmp_path / "signature.txt").write_text(signed_data["signature"], encoding="ascii")
    (tmp_path / "sig.tsr").write_bytes(base64.b64decode(signed_data["timeSignature"]))
    openssl = subprocess.run(["openssl", "ts", "-verify", "-data", str(tmp_path / "signature.txt"), "-in",
                              str(tmp_path / "sig.tsr"), "-CAfile", str(trusted.ca)], capture_output=True, text=True)
    assert openssl.returncode == 0 and "Verification: OK" in openssl.stdout, openssl.stdout + openssl.stderr

    checked = verify(crawled, package, "--key", key["public"], "--tsa-ca", str(trusted.ca))
    assert checked.returncode == 0, checked.stdout
    assert "signature time-stamped: existed by " in checked.stdout and "not checked" not in checked.stdout
    untrusted = verify(crawled, package, "--tsa-ca", str(other.ca))
    assert untrusted.returncode == 1 and "timeSignature" in untrusted.stdout
    # A token over another signature does not prove this one.
    signed_data["timeSignature"] = base64.b64encode(elsewhere).decode("ascii")
    with zipfile.ZipFile(package) as wacz:
        digest = json.loads(wacz.read("datapackage-digest.json"))
    digest["signedData"] = signed_data
    bad = rewritten(package, tmp_path / "badtime.wacz", {"datapackage-digest.json": json.dumps(digest).encode("utf-8")})
    broken = verify(crawled, bad, "--tsa-ca", str(trusted.ca))
    assert broken.returncode == 1 and "DAMAGED datapackage-digest.json: signedData.timeSignature" in broken.stdout


def test_verify_wacz_needs_no_database_and_key_needs_wacz(crawled, signed):
    checked = verify(crawled, signed)
    assert checked.returncode == 0 and "(not compared: give --key)" in checked.stdout
    assert not (crawled.path / "no-such.db").exists()
    assert crawled.run("verify", "--key", "x").returncode == 2


def test_a_p256_key_signs_a_package_that_verifies_with_us_and_openssl(crawled, tmp_path):
    key = tmp_path / "p256.key"
    made = crawled.run("keys", "create", "--out", str(key), "--curve", "P-256")
    assert made.returncode == 0, made.stderr
    public = made.stdout.strip()
    loaded = serialization.load_der_public_key(base64.b64decode(public))
    assert isinstance(loaded, ec.EllipticCurvePublicKey) and loaded.curve.name == "secp256r1"
    package = tmp_path / "p256.wacz"
    assert crawled.run("export", "--wacz", str(package), "--sign", str(key)).returncode == 0
    checked = verify(crawled, package, "--key", public)
    assert checked.returncode == 0 and f"signed by {public}" in checked.stdout, checked.stdout
    with zipfile.ZipFile(package) as opened:
        signed_data = json.loads(opened.read("datapackage-digest.json"))["signedData"]
    raw = base64.b64decode(signed_data["signature"])
    assert len(raw) == 64
    (tmp_path / "sig.der").write_bytes(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")))
    (tmp_path / "hash.txt").write_text(signed_data["hash"], encoding="ascii")
    (tmp_path / "pub.pem").write_bytes(loaded.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    openssl = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                              str(tmp_path / "sig.der"), str(tmp_path / "hash.txt")], capture_output=True, text=True)
    assert openssl.returncode == 0 and "Verified OK" in openssl.stdout, openssl.stdout + openssl.stderr
    # A one-byte change still fails on this curve.
    def resigned(data: bytes) -> bytes:
        return data.replace(b'"signature": "', b'"signature": "A', 1)

    altered = rewritten(package, tmp_path / "altered.wacz", {"datapackage-digest.json": resigned})
    assert verify(crawled, altered, "--key", public).returncode == 1


def test_a_key_on_another_curve_is_refused(crawled, tmp_path):
    key = tmp_path / "k1.key"
    private = ec.generate_private_key(ec.SECP256K1())
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key.chmod(0o600)
    exported = crawled.run("export", "--wacz", str(tmp_path / "never.wacz"), "--sign", str(key))
    assert exported.returncode == 2 and "not an ECDSA P-384 or P-256 key" in exported.stderr
