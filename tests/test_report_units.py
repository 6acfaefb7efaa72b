"""Pieces of the report and the notifiers that need no crawl: the chart, setting priorities."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import lxml.etree

from crawler.notify.email import SmtpSettings
from crawler.reports.collect import RunColumn
from crawler.reports.timeline import COLOURS, MAX_RUNS, timeline_svg


def runs(n: int) -> list[RunColumn]:
    return [RunColumn(i, datetime(2026, 1, 1), "finished", Counter(ok=10 - i % 3, gone=i % 3, unreachable=1)) for i in range(1, n + 1)]


def test_timeline_is_valid_svg_with_a_legend_labels_and_one_column_per_run():
    svg = lxml.etree.fromstring(timeline_svg(runs(4)).encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    texts = [t.text for t in svg.iterfind(".//s:text", ns)]
    assert {"ok", "changed", "moved", "gone", "unreachable"} <= set(texts), "a legend"
    assert {"1", "2", "3", "4"} <= set(texts), "run numbers under the columns"
    bars = svg.findall(".//s:rect[@class]", ns)
    assert {b.get("fill") for b in bars} == {COLOURS["ok"], COLOURS["gone"], COLOURS["unreachable"]}
    assert all(b.find("s:title", ns) is not None for b in bars), "every segment has a tooltip"


def test_timeline_keeps_the_last_runs_and_an_empty_one_says_so():
    many = timeline_svg(runs(MAX_RUNS + 15))
    assert f"(the last {MAX_RUNS} of {MAX_RUNS + 15} runs)" in many
    assert "run 16 (" in many and "run 15 (" not in many
    assert "no run yet" in timeline_svg([])


def test_smtp_settings_come_from_s_then_the_environment_then_the_defaults():
    env = {"EVIDENCE_SMTP_HOST": "mail.example.org", "EVIDENCE_SMTP_PORT": "587", "EVIDENCE_SMTP_STARTTLS": "yes"}
    smtp = SmtpSettings.resolve({"EVIDENCE_SMTP_PORT": "2525"}, env)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.user) == ("mail.example.org", 2525, True, "")
    assert smtp.sender.startswith("evidence@")
    default = SmtpSettings.resolve({}, {})
    assert (default.host, default.port, default.starttls, default.timeout) == ("localhost", 25, False, 30.0)
