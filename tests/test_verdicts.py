"""Verdicts people can trust: a noisy government-like site crawled over four runs.

Version 1 of the site is what was cited; version 2 removes, replaces, blocks and breaks
pages in every way the verdicts must tell apart; run 3 sees version 2 again; version 3
brings some back. Every page carries per-request noise (view state, tokens, clocks,
rotating banners), so the bytes change on every request while the text does not.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import Workspace, into_next_second
from tests.mockserver import MockServer

UNCHANGED = [f"/aspx/pagina{n}.aspx" for n in range(1, 56)]
CASES = [
    "/aspx/editado.aspx", "/aspx/datos", "/soft/directorio", "/soft/contacto", "/soft/retirado", "/clean/guion",
    "/seccion/lobuenocuenta/", "/docs/informe.pdf", "/caido", "/prohibido", "/intermitente", "/vuelve",
    "/mantenimiento", "/",
]


def status(workspace: Workspace) -> dict[str, dict]:
    result = workspace.run("status", "--json")
    assert result.returncode == 0, result.stderr
    return {row["url"]: row for row in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    workspace = Workspace(tmp_path_factory.mktemp("verdicts"))
    with MockServer() as site:
        doc = workspace.path / "informe.md"
        doc.write_text(
            "# Informe\n\n" + "".join(f"{i} Disponible en: <{site.url(p)}>\n" for i, p in enumerate(UNCHANGED + CASES, 1)),
            encoding="utf-8",
        )
        results, states = [], []
        for version in (1, 2, 2, 3):
            site.set_version(version)
            if results:
                into_next_second()
            results.append(workspace.crawl(str(doc)) if not results else workspace.crawl())
            states.append(status(workspace))
        yield {"workspace": workspace, "site": site, "results": results, "states": states}


def verdict(runs, run: int, path: str) -> tuple[str, str]:
    row = runs["states"][run - 1][runs["site"].url(path)]
    return row["state"], row["reason"]


def test_first_run_finds_every_page_present_even_on_a_soft_404_host(runs):
    for path in UNCHANGED + CASES:
        assert verdict(runs, 1, path) == ("ok", "first_capture"), path
    assert runs["results"][0].returncode == 0, runs["results"][0].stdout


def test_noise_never_reads_as_a_change(runs):
    """Fifty-five noisy but unchanged pages, crawled four times: zero false `changed`."""
    false_changes = [
        (run, path) for run in (2, 3, 4) for path in UNCHANGED if verdict(runs, run, path) != ("ok", "unchanged")
    ]
    print(f"false changed verdicts: {len(false_changes)} of {3 * len(UNCHANGED)} re-checks")
    assert false_changes == []


def test_a_real_edit_is_a_change_of_text(runs):
    assert verdict(runs, 2, "/aspx/editado.aspx") == ("changed", "text")
    assert verdict(runs, 3, "/aspx/editado.aspx") == ("ok", "unchanged")
    row = runs["states"][2][runs["site"].url("/aspx/editado.aspx")]
    assert row["differs_from_first"] is True, "still differs from what was cited"
    same = runs["states"][2][runs["site"].url(UNCHANGED[0])]
    assert same["differs_from_first"] is False


def test_only_bytes_changed_is_not_a_change(runs):
    workspace, site = runs["workspace"], runs["site"]
    history = json.loads(workspace.run("history", site.url("/aspx/datos"), "--json").stdout)
    assert [(h["state"], h["change"]) for h in history][:3] == [("ok", "bytes")] * 3
    assert len({h["payload_digest"] for h in history}) == 4, "the bytes differed every time"


@pytest.mark.parametrize(
    ("path", "signal"),
    [
        ("/soft/retirado", "probe_similar"),
        ("/clean/guion", "error_title"),
        ("/seccion/lobuenocuenta/", "redirect_to_home"),
        ("/docs/informe.pdf", "document_became_html"),
    ],
)
def test_soft_404s_are_gone_with_the_signal_that_fired(runs, path, signal):
    workspace, site = runs["workspace"], runs["site"]
    assert verdict(runs, 2, path) == ("gone", "soft_404")
    history = json.loads(workspace.run("history", site.url(path), "--json").stdout)
    assert signal in history[-2]["signals"]


def test_real_pages_on_a_soft_404_host_are_not_flagged(runs):
    # /soft/contacto is as short as the host's "not found" page.
    for run in (2, 3, 4):
        assert verdict(runs, run, "/soft/directorio") == ("ok", "unchanged")
        assert verdict(runs, run, "/soft/contacto") == ("ok", "unchanged")


def test_the_site_root_is_never_a_soft_404(runs):
    for run in (1, 2, 3, 4):
        assert verdict(runs, run, "/")[0] == "ok"


def test_failures_become_gone_only_after_three_runs(runs):
    assert [verdict(runs, r, "/caido") for r in (2, 3, 4)] == [
        ("unreachable", "http_503"),
        ("unreachable", "http_503"),
        ("gone", "persistent_http_503"),
    ]


def test_access_refusals_are_never_gone(runs):
    assert [verdict(runs, r, "/prohibido") for r in (2, 3, 4)] == [("unreachable", "blocked")] * 3


def test_a_bad_night_is_not_news(runs):
    assert verdict(runs, 2, "/intermitente") == ("unreachable", "http_503")
    assert verdict(runs, 4, "/intermitente") == ("ok", "unchanged")
    assert verdict(runs, 2, "/mantenimiento") == ("unreachable", "maintenance")
    assert verdict(runs, 4, "/mantenimiento") == ("ok", "unchanged")
    news = runs["results"][3].stdout
    assert runs["site"].url("/intermitente") not in news and runs["site"].url("/mantenimiento") not in news


def test_evidence_that_comes_back_is_restored_and_news(runs):
    assert verdict(runs, 2, "/vuelve") == ("gone", "http_404")
    assert verdict(runs, 4, "/vuelve") == ("ok", "restored")
    assert f"restored         {runs['site'].url('/vuelve')}" in runs["results"][3].stdout


def test_news_and_exit_codes_per_run(runs):
    site = runs["site"]
    second, third, fourth = runs["results"][1:]
    assert second.returncode == 1
    for path in ("/aspx/editado.aspx", "/soft/retirado", "/clean/guion", "/seccion/lobuenocuenta/", "/docs/informe.pdf", "/vuelve"):
        assert site.url(path) in second.stdout, path
    assert third.returncode == 0, third.stdout
    assert fourth.returncode == 1
    assert site.url("/caido") in fourth.stdout and site.url("/vuelve") in fourth.stdout


def test_diff_shows_what_the_reader_lost(runs):
    workspace, site = runs["workspace"], runs["site"]
    history = json.loads(workspace.run("history", site.url("/aspx/editado.aspx"), "--json").stdout)
    result = workspace.run("diff", site.url("/aspx/editado.aspx"), "--from", history[-1]["checked_at"], "--to", history[-2]["checked_at"])
    assert result.returncode == 0, result.stderr
    assert "-Meta comprometida: 100 medidores instalados." in result.stdout
    assert "+Meta comprometida: 40 medidores instalados." in result.stdout
    assert "VIEWSTATE" not in result.stdout and "Fecha de consulta" in result.stdout
    same = workspace.run("diff", site.url(UNCHANGED[0]))
    assert same.returncode == 0 and same.stdout.startswith("no text difference between")


def test_probes_are_archived_and_recorded(runs):
    workspace = runs["workspace"]
    with sqlite3.connect(workspace.db) as connection:
        probes = connection.execute("SELECT url, http_status FROM probes WHERE run_id = 1").fetchall()
        orphans = connection.execute(
            "SELECT COUNT(*) FROM records WHERE capture_id IS NULL AND probe_id IS NULL"
        ).fetchone()
    statuses = {url.split("/", 3)[3].split("/")[0]: status for url, status in probes}
    assert statuses["soft"] == 200 and statuses["clean"] == 404
    assert orphans == (0,)
