"""Trusted time: RFC 3161 tokens from real TSAs on 127.0.0.1 (OpenSSL's `ts -reply`), over
each closed WARC file and each exported WACZ, checked by evidence and by `openssl ts -verify`."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest

from crawler.exceptions import SettingError, TimestampError
from crawler.timestamps.tsa import TsaSettings, check_reply, load_roots, query, request_token
from tests.conftest import Workspace
from tests.mockserver import MockServer
from tests.tools import free_port, tool
from tests.tsaserver import TsaServer, make_authority


def openssl_verifies(data: Path, reply: Path, ca: Path) -> bool:
    result = subprocess.run(["openssl", "ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile", str(ca)],
                            capture_output=True, text=True)
    return result.returncode == 0 and "Verification: OK" in result.stdout


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("tsa")
    trusted, other = make_authority(folder / "trusted", "Trusted"), make_authority(folder / "other", "Other")
    with TsaServer(trusted) as good, TsaServer(other) as untrusted, TsaServer(None, garbage=True) as garbage:
        yield {"trusted": trusted, "other": other, "good": good, "untrusted": untrusted, "garbage": garbage,
               "down": f"http://127.0.0.1:{free_port()}/tsa"}


@pytest.fixture(scope="module")
def stamped(tsas, tmp_path_factory: pytest.TempPathFactory):
    """Two crawls, each asking a TSA that is down and one that answers garbage before the good one."""
    workspace = Workspace(tmp_path_factory.mktemp("stamped"))
    urls = ",".join([tsas["down"], tsas["garbage"].url, tsas["good"].url])
    env = workspace.env(EVIDENCE_TSA_URL=urls, EVIDENCE_TSA_CA=str(tsas["trusted"].ca))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(f"# Informe\n\n1 <{site.url('/plan')}>\n2 <{site.url('/nota.pdf')}>\n", encoding="utf-8")
        runs = [workspace.crawl(str(doc), env=env), workspace.crawl(env=env)]
    yield {"workspace": workspace, "runs": runs, "env": env}


def closed_files(workspace: Workspace) -> list[Path]:
    return [p for p in workspace.warc_files() if p.name.endswith(".warc.gz")]


def test_each_closed_warc_is_stamped_after_its_crawl_and_openssl_agrees(stamped, tsas):
    workspace = stamped["workspace"]
    assert [run.returncode for run in stamped["runs"]] == [0, 0], stamped["runs"][0].stderr
    files = closed_files(workspace)
    assert len(files) == 2
    for run, path in zip(stamped["runs"], files, strict=True):
        # each crawl stamps the file it closed; the second finds nothing owed from the first
        assert f"time-stamped {path.name}: " in run.stderr
        assert f"per {tsas['good'].url}" in run.stderr
        assert "owed" not in run.stderr
        assert openssl_verifies(path, path.with_name(path.name + ".tsr"), tsas["trusted"].ca)
        assert not openssl_verifies(path, path.with_name(path.name + ".tsr"), tsas["other"].ca)
    with sqlite3.connect(workspace.db) as db:
        rows = db.execute("SELECT filename, kind, sha256, tsa_url, reply FROM timestamps ORDER BY id").fetchall()
    assert [(name, kind, tsa) for name, kind, _, tsa, _ in rows] == [(p.name, "warc", tsas["good"].url) for p in files]
    for (_, _, sha256, _, reply), path in zip(rows, files, strict=True):
        assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert reply == path.with_name(path.name + ".tsr").read_bytes()


def test_verify_reports_the_proven_time_of_each_file(stamped, tsas):
    workspace = stamped["workspace"]
    result = workspace.run("verify", "--json", "--tsa-ca", str(tsas["trusted"].ca))
    assert result.returncode == 0, result.stdout
    found = json.loads(result.stdout)
    assert found["intact"] and found["timestamps"]["signatures_checked"]
    assert [p["file"] for p in found["timestamps"]["proven"]] == [p.name for p in closed_files(workspace)]
    assert found["timestamps"]["unstamped"] == []
    text = workspace.run("verify", "--tsa-ca", str(tsas["trusted"].ca))
    assert text.returncode == 0
    assert text.stdout.count("time-stamped evidence") == 2 and "all intact" in text.stdout


@pytest.fixture
def copy(stamped, tmp_path):
    """A copy of the stamped workspace, to tamper with."""
    shutil.copytree(stamped["workspace"].path, tmp_path / "copy")
    return Workspace(tmp_path / "copy")


def test_a_token_of_another_file_fails_naming_the_file(copy, tsas):
    first, second = closed_files(copy)
    shutil.copyfile(first.with_name(first.name + ".tsr"), second.with_name(second.name + ".tsr"))
    result = copy.run("verify", "--tsa-ca", str(tsas["trusted"].ca))
    assert result.returncode == 1
    damaged = [line for line in result.stdout.splitlines() if line.startswith("DAMAGED")]
    assert damaged == [f"DAMAGED {second.name}: time-stamp token in {second.name}.tsr is for SHA-256 "
                       f"{hashlib.sha256(first.read_bytes()).hexdigest()}, not this file's "
                       f"{hashlib.sha256(second.read_bytes()).hexdigest()}: it proves nothing for the file as it is"]


def test_a_tampered_file_fails_its_token_too(copy, tsas):
    path = closed_files(copy)[0]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    result = copy.run("verify", "--tsa-ca", str(tsas["trusted"].ca))
    assert result.returncode == 1
    assert f"DAMAGED {path.name}: time-stamp database token is for SHA-256" in result.stdout
    assert f"DAMAGED {path.name}: SHA-256 differs" in result.stdout


def test_a_token_from_an_untrusted_tsa_fails(copy, tsas):
    result = copy.run("verify", "--tsa-ca", str(tsas["other"].ca))
    assert result.returncode == 1
    for path in closed_files(copy):
        assert (f"DAMAGED {path.name}: time-stamp database token is not signed by a TSA the trusted "
                "certificates vouch for (Verify error: unable to get local issuer certificate)") in result.stdout
    # without a trusted certificate the imprints are still checked, the signatures not
    unchecked = copy.run("verify")
    assert unchecked.returncode == 0 and "signature not checked" in unchecked.stdout


def test_a_file_closed_while_the_tsa_is_down_is_owed_then_stamped_with_the_delay(tsas, tmp_path):
    workspace = Workspace(tmp_path)
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(f"# Informe\n\n1 <{site.url('/plan')}>\n", encoding="utf-8")
        crawled = workspace.crawl(str(doc), env=workspace.env(EVIDENCE_TSA_URL=tsas["down"]))
    # the crawl is not failed by its TSA
    assert crawled.returncode == 0, crawled.stderr
    (path,) = closed_files(workspace)
    assert (f"Warning: {path.name} is owed a time-stamp token (no time-stamping authority answered: "
            f"{tsas['down']}: cannot be reached") in crawled.stderr
    assert not path.with_name(path.name + ".tsr").exists()
    owed = workspace.run("verify", "--json", "--tsa-ca", str(tsas["trusted"].ca))
    assert json.loads(owed.stdout)["timestamps"]["unstamped"] == [path.name]

    still_down = workspace.run("timestamp", "--tsa-url", tsas["down"])
    assert still_down.returncode == 3 and "0 files time-stamped, 1 still owed a token" in still_down.stdout
    with sqlite3.connect(workspace.db) as db:  # closed an hour ago, as far as the database knows
        db.execute("UPDATE warc_files SET closed_at = datetime(closed_at, '-3700 seconds')")
    later = workspace.run("timestamp", "--tsa-url", tsas["down"], "--tsa-url", tsas["good"].url,
                          "--tsa-ca", str(tsas["trusted"].ca))
    assert later.returncode == 0, later.stderr
    assert f"time-stamped {path.name}: " in later.stdout and ", 61 min after it closed" in later.stdout
    assert "1 files time-stamped, 0 still owed a token" in later.stdout
    assert openssl_verifies(path, path.with_name(path.name + ".tsr"), tsas["trusted"].ca)
    # nothing owed now; --all adds a second token
    again = workspace.run("timestamp", "--json", "--tsa-url", tsas["good"].url)
    assert json.loads(again.stdout) == {"stamped": [], "owed": []}
    every = workspace.run("timestamp", "--all", "--json", "--tsa-url", tsas["good"].url)
    assert [s["file"] for s in json.loads(every.stdout)["stamped"]] == [path.name]
    verified = workspace.run("verify", "--tsa-ca", str(tsas["trusted"].ca))
    assert verified.returncode == 0 and f"time-stamped {path.name}: existed by " in verified.stdout


def test_the_wacz_carries_the_warc_tokens_and_is_stamped_itself(stamped, tsas, tmp_path):
    workspace = stamped["workspace"]
    package = tmp_path / "evidence.wacz"
    exported = workspace.run("export", "--wacz", str(package), "--tsa-url", tsas["good"].url,
                             "--tsa-ca", str(tsas["trusted"].ca))
    assert exported.returncode == 0, exported.stderr
    assert "2 time-stamp tokens" in exported.stderr and f"time-stamped {package}: " in exported.stderr
    assert openssl_verifies(package, tmp_path / "evidence.wacz.tsr", tsas["trusted"].ca)
    files = closed_files(workspace)
    with zipfile.ZipFile(package) as wacz:
        names = set(wacz.namelist())
        resources = {r["path"]: r for r in json.loads(wacz.read("datapackage.json"))["resources"]}
        for path in files:
            inside = f"archive/{path.name}.tsr"
            assert inside in names and inside in resources
            assert wacz.read(inside) == path.with_name(path.name + ".tsr").read_bytes()
            assert resources[inside]["hash"] == "sha256:" + hashlib.sha256(wacz.read(inside)).hexdigest()
    validation = subprocess.run([tool("wacz"), "validate", "-f", str(package)], capture_output=True, text=True)
    assert validation.returncode == 0, validation.stdout + validation.stderr
    with sqlite3.connect(workspace.db) as db:
        assert db.execute("SELECT filename FROM timestamps WHERE kind = 'wacz'").fetchall() == [(str(package),)]


def test_tsas_that_are_down_or_answer_garbage_each_say_so(tsas):
    digest = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(TimestampError) as failed:
        request_token(digest, [tsas["down"], tsas["garbage"].url, tsas["untrusted"].url], timeout=5,
                      roots=load_roots(tsas["trusted"].ca))
    message = str(failed.value)
    assert f"{tsas['down']}: cannot be reached (ConnectionError)" in message
    assert f"{tsas['garbage'].url}: is not a time-stamp reply" in message
    assert f"{tsas['untrusted'].url}: is not signed by a TSA the trusted certificates vouch for" in message


def test_the_request_is_one_openssl_reads_as_its_own(tmp_path):
    digest = hashlib.sha256(b"evidence").digest()
    (tmp_path / "q.tsq").write_bytes(query(digest, 0x0123456789ABCDEF))
    ours = subprocess.run(["openssl", "ts", "-query", "-in", "q.tsq", "-text"], cwd=tmp_path, capture_output=True, text=True)
    assert ours.returncode == 0, ours.stderr
    assert "Hash Algorithm: sha256" in ours.stdout and "Nonce: 0x0123456789ABCDEF" in ours.stdout
    assert "Certificate required: yes" in ours.stdout
    assert digest.hex()[:8] in ours.stdout.replace(" ", "").replace("-", "").lower()


def test_bad_tsa_settings_are_refused():
    with pytest.raises(SettingError, match="not an http or https URL"):
        TsaSettings.resolve({"EVIDENCE_TSA_URL": "ftp://tsa.example/"}, environ={})
    assert TsaSettings.resolve({}, environ={"EVIDENCE_TSA_URL": "http://a/ http://b/"}).urls == ("http://a/", "http://b/")
    assert TsaSettings.resolve({}, environ={}).urls == ()


def _signed_parts(reply: bytes) -> dict[str, range]:
    """Where a token's signed parts lie, as OpenSSL's own parser reads it: the TSTInfo (imprint,
    time, nonce...), the signed attributes and the signature value, as byte ranges of ``reply``."""
    parsed = subprocess.run(["openssl", "asn1parse", "-inform", "DER"], input=reply, capture_output=True, check=True)
    lines = [line.split(":", 1) for line in parsed.stdout.decode().splitlines()]
    rows = []
    for offset, rest in lines:
        depth = int(rest.split("d=")[1].split()[0])
        header = int(rest.split("hl=")[1].split()[0])
        length = int(rest.split("l=", 2)[2].split()[0]) if rest.count("l=") > 1 else 0
        rows.append((int(offset), depth, header, length, rest))
    parts: dict[str, range] = {}
    for index, (offset, depth, header, length, rest) in enumerate(rows):
        if "id-smime-ct-TSTInfo" in rest and "tstinfo" not in parts:
            content = next(row for row in rows[index + 1:] if "OCTET STRING" in row[4])
            parts["tstinfo"] = range(content[0], content[0] + content[2] + content[3])
        if depth == 6 and "cont [ 0 ]" in rest and offset > parts.get("tstinfo", range(0)).stop:
            parts["signed attributes"] = range(offset, offset + header + length)
    last = rows[-1]
    assert "OCTET STRING" in last[4] or "BIT STRING" in last[4]
    parts["signature"] = range(last[0] + last[2], last[0] + last[2] + last[3])
    return parts


def test_a_changed_byte_anywhere_in_what_the_tsa_signed_fails_the_token(tsas):
    """Every byte of the TSTInfo, the signed attributes and the signature matters. (A byte
    changed in what the TSA did not sign, such as a second copy of its certificate in the
    token's certificate bag, leaves the proof whole, and OpenSSL accepts it as well.)"""
    digest = hashlib.sha256(b"an archived file").digest()
    roots = load_roots(tsas["trusted"].ca)
    token = request_token(digest.hex(), [tsas["good"].url], timeout=10, roots=roots)
    parts = _signed_parts(token.reply)
    assert set(parts) == {"tstinfo", "signed attributes", "signature"}
    passed = []
    for name, where in parts.items():
        for at in where:
            altered = token.reply[:at] + bytes([token.reply[at] ^ 0x01]) + token.reply[at + 1:]
            try:
                check_reply(altered, digest, roots)
            except TimestampError:
                continue
            passed.append((name, at))
    assert passed == []
    assert sum(len(where) for where in parts.values()) > 400


def test_a_token_broken_anywhere_fails_as_a_token_never_as_a_crash(tsas):
    digest = hashlib.sha256(b"an archived file").digest()
    roots = load_roots(tsas["trusted"].ca)
    reply = request_token(digest.hex(), [tsas["good"].url], timeout=10, roots=roots).reply
    # Every byte but one in eight, to keep it quick: the parser's failures must all be TimestampError.
    for at in range(0, len(reply), 8):
        altered = reply[:at] + bytes([reply[at] ^ 0x01]) + reply[at + 1:]
        try:
            check_reply(altered, digest, roots)
        except TimestampError:
            pass
