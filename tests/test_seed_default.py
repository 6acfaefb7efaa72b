"""The embedded default: an empty database and no document crawls the seed report's 18
URLs. No request leaves the machine: a local proxy answers plain HTTP itself and
refuses every HTTPS tunnel."""

from __future__ import annotations

import json

from crawler.citations import load_seed
from tests.conftest import Workspace
from tests.mockserver import MockServer


def test_crawl_without_documents_imports_and_crawls_the_embedded_seed(workspace: Workspace):
    with MockServer(proxy=True) as proxy:
        env = workspace.env(http_proxy=proxy.base, https_proxy=proxy.base)
        # The proxy answers every URL alike, so soft-404 probes would (rightly) flag them
        # all; this test is about the embedded default, so it visits the cited URLs only.
        result = workspace.crawl("-s", "EVIDENCE_PROBE_ENABLED=False", env=env)
        seen = proxy.seen()
    assert result.returncode in (0, 1), result.stderr
    seed_urls = [c.url for c in load_seed().citations]
    assert len(seed_urls) == 18 and len(set(seed_urls)) == 18

    rows = json.loads(workspace.run("status", "--json").stdout)
    assert [(r["footnote"], r["url"]) for r in rows] == [(c.footnote, c.url) for c in load_seed().citations]
    assert {r["document"] for r in rows} == {"seed"}
    # every URL was visited exactly once, through the proxy
    http_urls = [u for u in seed_urls if u.startswith("http://")]
    https_hosts = {u.split("/")[2] for u in seed_urls if u.startswith("https://")}
    assert sorted(u for u in seen if not u.startswith("CONNECT")) == sorted(http_urls)
    assert {u.split()[1].rsplit(":", 1)[0] for u in seen if u.startswith("CONNECT")} == https_hosts
    states = {r["url"]: r["state"] for r in rows}
    # The proxy answers with an HTML page everywhere: a cited PDF answered with HTML is a
    # document replaced by a page, the other plain-HTTP pages are present.
    documents = [u for u in http_urls if ".pdf" in u]
    assert len(documents) == 4
    assert all(states[u] == "gone" for u in documents)
    assert all(states[u] == "ok" for u in http_urls if u not in documents)
    assert all(states[u] == "unreachable" for u in seed_urls if u.startswith("https://"))


def test_a_second_crawl_rechecks_the_same_urls(workspace: Workspace):
    with MockServer(proxy=True) as proxy:
        env = workspace.env(http_proxy=proxy.base, https_proxy=proxy.base)
        workspace.crawl("-s", "EVIDENCE_PROBE_ENABLED=False", env=env)
        again = workspace.crawl("-s", "EVIDENCE_PROBE_ENABLED=False", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "run 2 finished: 18 URLs checked" in again.stdout
