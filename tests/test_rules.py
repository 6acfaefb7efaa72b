"""The verdict rules and the text fingerprint, on their own (no network)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crawler.verdicts import Facts, History, is_news, judge
from crawler.verdicts.fingerprint import meaning
from crawler.verdicts.rules import same_page
from crawler.verdicts.soft404 import is_root, probe_url
from tests.pdfs import make_pdf

CITED = "http://transparencia.example.gob.mx/informes/2018/avance.html"


def facts(**overrides) -> Facts:
    values = {
        "cited_url": CITED, "http_status": 200, "final_url": CITED, "truncated": None, "error_kind": None,
        "redirected": False, "payload_digest": "sha1:B", "fingerprint": "text:sha256:1",
    }
    values.update(overrides)
    return Facts(**values)


@pytest.mark.parametrize(
    ("cited", "final"),
    [
        ("http://a.gob.mx/x", "https://a.gob.mx/x"),
        ("http://a.gob.mx/x", "http://www.a.gob.mx/x"),
        ("http://a.gob.mx/dir", "http://a.gob.mx/dir/"),
        ("http://A.gob.mx/x?q=1", "https://a.gob.mx/x?q=1"),
    ],
)
def test_trivial_redirects_are_the_same_page(cited, final):
    assert same_page(cited, final)
    history = History(last_good_fingerprint="text:sha256:1", recent=[("ok", "unchanged")])
    assert judge(facts(cited_url=cited, final_url=final, redirected=True), history).state == "ok"


def test_redirect_to_another_existing_page_is_moved():
    verdict = judge(facts(final_url="http://transparencia.example.gob.mx/nuevo/avance", redirected=True), History())
    assert (verdict.state, verdict.reason) == ("moved", "redirect")


@pytest.mark.parametrize("gone_after", [1, 2, 3, 5])
def test_gone_after_is_configurable(gone_after):
    history = History(recent=[])
    states = []
    for _ in range(gone_after):
        verdict = judge(facts(http_status=None, final_url=None, error_kind="dns"), history, gone_after=gone_after)
        states.append(verdict.state)
        history = History(recent=[(verdict.state, verdict.reason), *history.recent])
    assert states == ["unreachable"] * (gone_after - 1) + ["gone"]
    assert history.recent[0] == ("gone", "persistent_dns")


@pytest.mark.parametrize("status", [401, 403, 429, 451])
def test_access_refusals_are_never_gone(status):
    history = History(recent=[("unreachable", "blocked")] * 10)
    assert (judge(facts(http_status=status), history).state, judge(facts(http_status=status), history).reason) == (
        "unreachable",
        "blocked",
    )


def test_a_failure_after_a_success_starts_counting_again():
    history = History(recent=[("unreachable", "timeout"), ("ok", "unchanged"), ("unreachable", "timeout")])
    assert judge(facts(error_kind="timeout"), history).state == "unreachable"


def test_restored_and_news():
    history = History(last_good_fingerprint="text:sha256:1", recent=[("gone", "http_404")])
    verdict = judge(facts(), history)
    assert (verdict.state, verdict.reason) == ("ok", "restored")
    assert is_news(verdict.state, verdict.reason, "gone")
    assert not is_news("gone", "http_404", "gone")
    assert is_news("gone", "http_404", "ok")
    assert not is_news("unreachable", "timeout", "ok")


def test_same_text_other_bytes_is_ok_with_a_bytes_change():
    history = History(last_good_fingerprint="text:sha256:1", last_good_payload_digest="sha1:A", recent=[("ok", "x")])
    verdict = judge(facts(), history)
    assert (verdict.state, verdict.reason, verdict.change) == ("ok", "unchanged", "bytes")
    verdict = judge(facts(fingerprint="text:sha256:2"), history)
    assert (verdict.state, verdict.reason, verdict.change) == ("changed", "text", "text")


def test_pdf_fingerprint_is_its_text():
    lines = ["Nota técnica", "Programa Nacional de Exhumaciones 2018."]
    a = meaning(make_pdf(lines), "application/pdf", None)
    b = meaning(make_pdf(lines, producer="re-saved"), "application/pdf", None)
    c = meaning(make_pdf([lines[0], "Programa Nacional de Exhumaciones 2019."]), "application/pdf", None)
    assert a.kind == "pdf" and "Exhumaciones" in a.text
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_html_fingerprint_ignores_noise_but_not_dates_that_are_content():
    when = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

    def page(stamp: str, deadline: str) -> bytes:
        return (
            "<html><head><title>Avance</title><script>var x=1</script></head><body>"
            f"<input type=hidden name=__VIEWSTATE value='{stamp}xyz'><h1>Avance</h1>"
            f"<p>Plazo: {deadline}.</p><p>Consultado el {stamp}.</p></body></html>"
        ).encode()

    base = meaning(page("27/11/2026 10:00:01", "30/06/2018"), "text/html", None, when)
    later = meaning(page("27/11/2026 10:05:59", "30/06/2018"), "text/html", None, when)
    moved_deadline = meaning(page("27/11/2026 10:00:01", "31/12/2019"), "text/html", None, when)
    assert base.fingerprint == later.fingerprint
    assert base.fingerprint != moved_deadline.fingerprint


def test_probe_urls_keep_the_shape_and_skip_the_root():
    assert is_root("http://cambioclimatico.example.gob.mx/") and probe_url("http://a.gob.mx/index.html") is None
    probe = probe_url("http://a.gob.mx/aga/Home/Documento?doc=Nota%20aclaratoria.pdf")
    assert probe is not None and probe.startswith("http://a.gob.mx/aga/Home/Documento?doc=") and probe.endswith(".pdf")
    probe = probe_url("https://www.a.gob.mx/lobuenocuenta/")
    assert probe is not None and probe.endswith("/") and "lobuenocuenta" not in probe
