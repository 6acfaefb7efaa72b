"""What an auditor does years later without evidence: validate the WACZ and replay the
archive in pywb, getting the original bytes back."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import Workspace, into_next_second
from tests.mockserver import PDF_BYTES, MockServer
from tests.tools import Wayback, tool

PAGES = ["/plan", "/nota.pdf", "/dir"]


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory):
    tool("wayback")  # skip early when the tools are absent
    workspace = Workspace(tmp_path_factory.mktemp("replay"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text("".join(f"{i} Disponible en: <{site.url(p)}>\n" for i, p in enumerate(PAGES, 1)), encoding="utf-8")
        assert workspace.crawl(str(doc)).returncode == 0
        into_next_second()
        assert workspace.crawl().returncode == 0  # the second run writes revisit records
        plan_body = __import__("requests").get(site.url("/plan"), timeout=5).content
        yield {"workspace": workspace, "site": site, "plan": plan_body}


def timestamps(workspace: Workspace, url: str) -> list[str]:
    rows = json.loads(workspace.run("history", url, "--json").stdout)
    return [row["checked_at"].replace("-", "").replace(":", "").replace("T", "").rstrip("Z") for row in rows]


def test_pywb_replays_the_archive_through_the_evidence_index(archived, tmp_path):
    workspace, site = archived["workspace"], archived["site"]
    indexed = workspace.run("index")
    assert indexed.returncode == 0, indexed.stderr
    collection = tmp_path / "collections" / "evidence"
    (collection / "indexes").mkdir(parents=True)
    shutil.copytree(workspace.archive, collection / "archive", ignore=shutil.ignore_patterns("index.cdxj"))
    shutil.copy(workspace.archive / "index.cdxj", collection / "indexes" / "index.cdxj")
    with Wayback(tmp_path) as pywb:
        for stamp in timestamps(workspace, site.url("/nota.pdf")):  # a response, then a revisit
            answer = pywb.original("evidence", stamp, site.url("/nota.pdf"))
            assert answer.status_code == 200
            assert answer.content == PDF_BYTES
        for stamp in timestamps(workspace, site.url("/plan")):
            answer = pywb.original("evidence", stamp, site.url("/plan"))
            assert answer.content == archived["plan"]
        hop = pywb.original("evidence", timestamps(workspace, site.url("/dir"))[0], site.url("/dir"))
        assert hop.status_code == 200 and "Índice" in hop.text, "the redirect hop replays to its target"


def test_the_wacz_validates_and_opens_in_pywb(archived, tmp_path):
    workspace, site = archived["workspace"], archived["site"]
    package = tmp_path / "evidence.wacz"
    exported = workspace.run("export", "--wacz", str(package))
    assert exported.returncode == 0, exported.stderr
    validation = subprocess.run([tool("wacz"), "validate", "-f", str(package)], capture_output=True, text=True)
    assert validation.returncode == 0, validation.stdout + validation.stderr
    assert "Validation succeeded" in validation.stdout

    subprocess.run([tool("wb-manager"), "init", "wacz"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([tool("wb-manager"), "add", "--unpack-wacz", "wacz", str(package)], cwd=tmp_path, check=True, capture_output=True)
    with Wayback(tmp_path) as pywb:
        latest = timestamps(workspace, site.url("/nota.pdf"))[0]
        answer = pywb.original("wacz", latest, site.url("/nota.pdf"))
        assert answer.status_code == 200 and answer.content == PDF_BYTES


def test_a_wacz_of_one_document_since_a_time(archived, tmp_path):
    workspace = archived["workspace"]
    second_run = json.loads(workspace.run("history", archived["site"].url("/plan"), "--json").stdout)[0]["checked_at"]
    package = tmp_path / "since.wacz"
    result = workspace.run("export", "--wacz", str(package), "--document", "informe.md", "--since", second_run)
    assert result.returncode == 0, result.stderr
    import zipfile

    with zipfile.ZipFile(package) as archive:
        pages = archive.read("pages/pages.jsonl").decode().splitlines()
        names = archive.namelist()
    assert len(pages) == 1 + len(PAGES)
    assert "archive/data.warc.gz" in names and "indexes/index.cdx.gz" in names
    validation = subprocess.run([tool("wacz"), "validate", "-f", str(package)], capture_output=True, text=True)
    assert validation.returncode == 0, validation.stdout
