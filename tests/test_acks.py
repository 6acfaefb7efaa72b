"""`evidence ack`: a reviewed removal is not reported again while it stays the same; the next
real change is news again; acknowledgements keep their time and note."""

from __future__ import annotations

import json

from crawler.store.acks import in_force, signature
from crawler.store.models import Capture
from tests.conftest import Workspace
from tests.mockserver import MockServer


def news_urls(result) -> list[str]:
    return [item["url"] for item in json.loads(result.stdout)["news"]]


def test_an_acknowledged_removal_is_not_news_again_until_it_changes(workspace: Workspace, site: MockServer):
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 Padrón: {site.url('/flap')}\n2 Plan: {site.url('/plan')}\n", encoding="utf-8")
    flap = site.url("/flap")
    assert workspace.crawl(str(doc), "--json").returncode == 0  # v1: present

    site.set_version(2)  # 404
    gone = workspace.crawl("--json")
    assert gone.returncode == 1 and news_urls(gone) == [flap]

    acked = workspace.run("ack", flap, "--note", "reported to the ministry")
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.startswith(f"acknowledged {flap}: gone (http_404) in run 2, ")

    site.set_version(3)  # down for a night: not news, the ack stays
    down = workspace.crawl("--json")
    assert down.returncode == 0 and news_urls(down) == []

    site.set_version(4)  # 404 again: would be news (unreachable -> gone), but it was reviewed
    again = workspace.crawl("--json")
    assert again.returncode == 0, again.stdout
    summary = json.loads(again.stdout)
    assert summary["news"] == [] and [item["url"] for item in summary["acknowledged"]] == [flap]
    site.set_version(3)
    workspace.crawl()
    site.set_version(4)  # and once more, as people read it
    text = workspace.crawl()
    assert text.returncode == 0
    assert "no news since the previous run" in text.stdout
    assert "1 acknowledged (`evidence ack`) and not reported again" in text.stdout

    site.set_version(5)  # back, with other text: a real change, news again
    back = workspace.crawl("--json")
    assert back.returncode == 1
    assert [(item["url"], item["kind"]) for item in json.loads(back.stdout)["news"]] == [(flap, "restored")]

    history = json.loads(workspace.run("history", flap, "--json").stdout)
    acked_rows = [row for row in history if row["acked"]]
    assert len(acked_rows) == 1 and acked_rows[0]["run"] == 2 and len(history) == 7
    assert acked_rows[0]["acked"].endswith('Z "reported to the ministry"')


def test_ack_all_acknowledges_the_news_waiting_for_review(workspace: Workspace, site: MockServer):
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 {site.url('/nota')}\n2 {site.url('/avance')}\n3 {site.url('/plan')}\n", encoding="utf-8")
    workspace.crawl(str(doc))
    site.set_version(2)
    assert workspace.crawl().returncode == 1
    result = workspace.run("ack", "--all", "--note", "seen")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"acknowledged {site.url('/nota')}: gone (http_404) in run 2")
    assert lines[1].startswith(f"acknowledged {site.url('/avance')}: changed (text) in run 2")
    assert workspace.run("ack", "--all").stdout == "nothing to acknowledge: no news is waiting for review\n"


def test_ack_needs_a_known_url_or_all(workspace: Workspace, site: MockServer):
    doc = workspace.path / "informe.md"
    doc.write_text(f"1 {site.url('/plan')}\n", encoding="utf-8")
    workspace.crawl(str(doc))
    unknown = workspace.run("ack", "http://unknown.gob.mx/")
    assert unknown.returncode == 2
    assert unknown.stderr == "Error: http://unknown.gob.mx/ is not a cited URL in the database; `evidence status` lists them\n"
    assert workspace.run("ack").returncode == 2
    assert workspace.run("ack", site.url("/plan"), "--all").returncode == 2


def capture(id: int, state: str, fingerprint: str | None = None, final_url: str | None = None) -> Capture:
    return Capture(id=id, state=state, reason="", fingerprint=fingerprint, final_url=final_url)


def test_what_keeps_an_acknowledgement_in_force():
    changed = capture(1, "changed", "text:b")
    assert in_force(changed, [capture(2, "ok", "text:b")])
    assert in_force(changed, [capture(2, "unreachable"), capture(3, "changed", "text:b")])
    assert not in_force(changed, [capture(2, "changed", "text:c")])
    assert not in_force(changed, [capture(2, "ok", "text:c"), capture(3, "ok", "text:b")]), "a change in between ends it"
    moved = capture(1, "moved", final_url="http://x/new")
    assert in_force(moved, [capture(2, "moved", final_url="http://x/new")])
    assert not in_force(moved, [capture(2, "moved", final_url="http://x/other")])
    assert signature(capture(1, "gone")) == signature(capture(2, "gone"))
