"""Judging one capture (``crawler.verdicts.capture``) without a crawl: an exchange as the
WARC recorder describes it, and the target's history, in; the capture's fingerprint,
signals and verdict out. The end-to-end verdicts, through the pipeline, are in
tests/test_verdicts.py and tests/test_open_web_verdicts.py."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path


from crawler.crawl.history import Good, TargetHistory
from crawler.crawl.spider import CaptureItem, Fetched
from crawler.verdicts.capture import Earlier, is_present
from crawler.verdicts.fingerprint import Noise, as_bytes, bytes_fingerprint, is_deferred, meaning
from crawler.verdicts.soft404 import ProbeAnswer
from crawler.warc.recorder import Hop
from crawler.warc.writer import RecordLocation

URL = "http://www.gob.mx/plan/agua"
WHEN = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
PAGE = b"<html><head><title>Plan</title></head><body><main><h1>Plan de agua</h1><p>%s</p></main></body></html>"
HTML = "text/html; charset=utf-8"


def hop(status: int = 200, body: bytes = b"", *, url: str = URL, record_type: str = "response",
        truncated: str | None = None, signals: tuple[str, ...] = ()) -> Hop:
    where = RecordLocation("evidence-1.warc.gz", 0, 100, "<urn:uuid:1>")
    return Hop(
        url=url, status=status, started=WHEN, response=where, request=where,
        payload_digest="sha1:" + hashlib.sha1(body).hexdigest() if body else None,
        content_type=HTML, body_length=len(body), truncated=truncated, location=None, record_type=record_type,
        signals=signals,
    )


def item(*hops: Hop, body: bytes = b"", error_kind: str | None = None) -> CaptureItem:
    return CaptureItem(url=URL, checked_at=WHEN, hops=list(hops), body=body, error_kind=error_kind)


def good_of(body: bytes, **extra: object) -> Good:
    page = meaning(body, HTML, None, WHEN, noise=Noise(()))
    return Good(
        payload_digest=hop(body=body).payload_digest, fingerprint=page.fingerprint, content_type=HTML,
        basis=page.basis, boilerplate=page.boilerplate_fingerprint, capture_id=1,
        checked_at=WHEN.replace(tzinfo=None), **extra,  # type: ignore[arg-type]
    )


def test_a_first_capture_is_ok_and_its_text_waits_until_there_is_something_to_compare(judge, counted) -> None:
    body = PAGE % b"Texto del plan."
    judged = judge.judge(item(hop(200, body), body=body), TargetHistory(1), probe=None)
    assert (judged.state, judged.reason, judged.change) == ("ok", "first_capture", None)
    # Nothing earlier to compare with: the text is not extracted (deferred), only named by its bytes.
    assert judged.fingerprint == "deferred:" + bytes_fingerprint(body, None).removeprefix("bytes:")
    assert as_bytes(judged.fingerprint) == bytes_fingerprint(body, None)
    assert judged.basis is None and judged.differs_from_first is False and judged.signals == []
    assert counted == ["evidence/text/deferred/html"]


def test_the_same_bytes_keep_the_earlier_fingerprint_and_are_unchanged(judge) -> None:
    body = PAGE % b"Texto del plan."
    previous = good_of(body)
    history = TargetHistory(1, previous=previous, first=previous, recent=[("ok", "first_capture")])
    judged = judge.judge(item(hop(200, body), body=body), history, probe=None)
    assert (judged.state, judged.reason) == ("ok", "unchanged")
    assert (judged.fingerprint, judged.basis, judged.boilerplate) == (previous.fingerprint, previous.basis, previous.boilerplate)
    assert judged.differs_from_first is False


def test_other_text_is_a_change_and_differs_from_what_was_cited(judge) -> None:
    before, after = PAGE % b"Meta: 100 pozos.", PAGE % b"Meta: 10 pozos."
    previous = good_of(before)
    history = TargetHistory(1, previous=previous, first=previous, recent=[("ok", "first_capture")])
    judged = judge.judge(item(hop(200, after), body=after), history, probe=None)
    assert (judged.state, judged.reason, judged.change) == ("changed", "text", "text")
    assert judged.fingerprint == meaning(after, HTML, None, WHEN, noise=Noise(())).fingerprint
    assert judged.differs_from_first is True


def test_a_server_error_is_unreachable_until_it_persists(judge) -> None:
    once = judge.judge(item(hop(503)), TargetHistory(1), probe=None)
    assert (once.state, once.reason, once.fingerprint, once.differs_from_first) == ("unreachable", "http_503", None, None)
    persisting = TargetHistory(1, recent=[(once.state, once.reason)] * 2)
    assert judge.judge(item(hop(503)), persisting, probe=None).reason == "persistent_http_503"
    assert judge.judge(item(hop(404)), TargetHistory(1), probe=None).state == "gone"
    assert not is_present(None) and is_present(hop(304, record_type="revisit")) and not is_present(hop(304))


def test_a_probe_answering_like_the_page_is_a_soft_404(judge) -> None:
    # What the site answers for any name under /plan/: its home page.
    body = b"<html><head><title>Inicio</title></head><body><main><p>Bienvenido al portal.</p></main></body></html>"
    probe_url = "http://www.gob.mx/plan/zq8x7"
    answer = ProbeAnswer(probe_url, 200, probe_url, meaning(body, HTML, None, WHEN))
    judged = judge.judge(item(hop(200, body), body=body), TargetHistory(1), probe=answer)
    assert (judged.state, judged.reason) == ("gone", "soft_404")
    assert "probe_similar" in judged.signals
    # The probe answered HTML: the page's text is extracted now, to compare with it.
    assert answer.meaning is not None and judged.fingerprint == answer.meaning.fingerprint
    assert not is_deferred(judged.fingerprint)


def test_exchange_signals_and_a_cut_coding_are_recorded(judge) -> None:
    import gzip

    cut = gzip.compress(PAGE % b"Texto.")[:-12]
    last = hop(200, cut, signals=("malformed_header",))
    judged = judge.judge(CaptureItem(url=URL, checked_at=WHEN, hops=[last], body=cut, content_encoding="gzip"),
                         TargetHistory(1, previous=good_of(PAGE % b"Antes.")), probe=None)
    assert judged.truncated == "encoding"
    assert judged.signals[-2:] == ["malformed_header", "content_coding_cut"]


def test_an_unreadable_earlier_capture_is_compared_by_its_bytes(judge, counted, tmp_path: Path) -> None:
    """The earlier text was never extracted (deferred) and its WARC file is not in the
    archive: the judge says so and compares bytes instead of guessing."""
    before, after = PAGE % b"Antes.", PAGE % b"Despues."
    deferred = "deferred:" + bytes_fingerprint(before, None).removeprefix("bytes:")
    previous = Good(payload_digest=hop(body=before).payload_digest, fingerprint=deferred, content_type=HTML,
                    capture_id=7, warc_filename="evidence-gone.warc.gz", warc_offset=0)
    rebased: list[Good] = []

    def rebase(good: Good, noise: Noise) -> Earlier | None:
        rebased.append(good)
        return judge.earlier(URL, 1, good, noise)

    judged = judge.judge(item(hop(200, after), body=after), TargetHistory(1, previous=previous, first=previous),
                         probe=None, rebase=rebase)
    assert (judged.state, judged.reason) == ("changed", "bytes")
    assert "previous_unreadable" in judged.signals
    assert rebased[0] is previous and "evidence/text/unreadable" in counted
    # Once per crawl: the second look at the same earlier capture is remembered.
    assert judge.earlier(URL, 1, previous, Noise(())) is None
    assert counted.count("evidence/text/unreadable") == 1


def test_noise_learned_from_a_second_fetch_is_left_out(judge, counted) -> None:
    before = PAGE % b"Meta: 100 pozos. Visitas: 1234 hoy"
    first_look, second_look = PAGE % b"Meta: 100 pozos. Aviso: abc", PAGE % b"Meta: 100 pozos. Aviso: xyz"
    previous = good_of(before)
    history = TargetHistory(1, previous=previous, first=previous, recent=[("ok", "first_capture")])
    captured = item(hop(200, first_look), body=first_look)
    assert judge.worth_a_second_fetch(item(hop(200, before), body=before), history) is None
    page = judge.worth_a_second_fetch(captured, history)
    assert page is not None
    again = Fetched(url=URL, checked_at=WHEN, hops=[hop(200, second_look)], body=second_look)
    judge.learn_noise(captured, history, page, again)
    assert "evidence/noise/learned" in counted
    judged = judge.judge(captured, history, probe=None)
    assert "noise_learned" in judged.signals
    noise = judge.grown_noise(1)
    assert noise is not None and len(noise) > 0
    assert judge.grown_noise(1) is None
