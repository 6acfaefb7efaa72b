"""The report as one self-contained HTML file: inline styles, an inline SVG chart, no script.

Everything taken from the database or an archive is escaped; the page's
Content-Security-Policy loads nothing (no script, no frame, no remote image), so even a
mistake in escaping could not run or fetch anything. Archived copies are linked, never
embedded: HTML through the sandboxed viewer, everything else as a download. The
screenshots of rendered pages are the exception: their thumbnails are inside the file as
``data:`` images (made by evidence, never the archived page's own content), each linking
to the whole picture saved beside the report.
"""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from crawler.claims.store import cited_claim_text
from crawler.reports.collect import STATES, Entry, ReportData
from crawler.reports.drift import METHOD, OVERALL, SHARES, VERDICTS, percent
from crawler.reports.files import CSP, Saved
from crawler.reports.screenshots import Picture, Shot
from crawler.reports.timeline import COLOURS, timeline_svg

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}.meta{color:#555}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.url{word-break:break-all;max-width:28em}
.state{display:inline-block;padding:0 .45em;border-radius:3px;color:#fff;font-weight:600}
.state-unchecked{background:#9e9e9e}
pre.diff{background:#fafafa;border:1px solid #ddd;padding:.5em;overflow-x:auto;white-space:pre-wrap}
.del{color:#b71c1c}.ins{color:#1b5e20}.note{color:#555;font-size:90%}
table.counts{width:auto}.counts td,.counts th{padding-right:2em}.problem{color:#b71c1c}td.time{white-space:nowrap}
figure.shot{display:inline-block;margin:.4em 1em .2em 0;vertical-align:top}figure.shot img{border:1px solid #ccc;display:block}
figure.shot figcaption{font-size:85%;color:#555;max-width:240px}.shots{white-space:nowrap}
figure.latest img{width:160px;height:auto}figure.latest figcaption{max-width:160px}
""" + "".join(f".state-{state}{{background:{colour}}}" for state, colour in COLOURS.items())


def render_html(data: ReportData, copies: dict[int, Saved | str], pictures: dict[int, Picture | str] | None = None) -> str:
    pictures = pictures or {}
    out = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">",
        "<meta name='referrer' content='no-referrer'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Evidence report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Evidence report</h1>",
        f"<p class='meta'>Generated {_time(data.generated_at)} from <code>{escape(data.database)}</code>: "
        f"{len(data.sections)} documents, {sum(len(s.entries) for s in data.sections)} citations, {len(data.runs)} runs.</p>",
        _figures(data),
        _counts(data),
        "<section id='states-across-runs'><h2>States across runs</h2>",
        timeline_svg(data.runs),
        "</section>",
    ]
    for section in data.sections:
        out.append(f"<section class='document'><h2>{escape(section.label)}</h2>")
        if section.title:
            out.append(f"<p class='meta'>{escape(section.title)}</p>")
        out.append(
            "<table><thead><tr><th>Footnote</th><th>Cited</th><th>Cited URL</th><th>State</th><th>Since</th><th>First capture</th>"
            "<th>Last capture</th><th>Archived copy</th><th>Review</th><th>Since citation</th><th>Memento</th></tr></thead><tbody>"
        )
        for entry in section.entries:
            out.append(_row(entry, copies, pictures))
        out.append("</tbody></table></section>")
    out.append(
        "<p class='note'>Archived copies are saved beside this file. HTML pages open in a viewer that runs none of "
        "their scripts and loads nothing; other files download. A page rendered in a browser shows the top of its "
        "latest screenshot, which links to the whole picture beside this file. Times are UTC.</p>"
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _counts(data: ReportData) -> str:
    counts = data.counts
    names = [s for s in (*STATES, "unchecked") if counts.get(s)] + sorted(set(counts) - {*STATES, "unchecked"})
    cells = "".join(f"<th>{_badge(name)}</th>" for name in names)
    numbers = "".join(f"<td>{counts[name]}</td>" for name in names)
    return (
        "<section id='counts'><h2>Citations per state</h2>"
        f"<table class='counts'><tr>{cells}</tr><tr>{numbers}</tr></table></section>"
    )


def _row(entry: Entry, copies: dict[int, Saved | str], pictures: dict[int, Picture | str]) -> str:
    url = escape(entry.url)
    link = url
    if urlsplit(entry.url).scheme in ("http", "https"):
        link = f"<a href='{escape(entry.url, quote=True)}' rel='noopener noreferrer nofollow'>{url}</a>"
    reason = f" <span class='note'>{escape(entry.reason)}</span>" if entry.reason else ""
    cells = [
        escape(entry.footnote),
        escape(entry.cited_label),
        link,
        _badge(entry.state) + reason,
        _time(entry.since),
        _time(entry.first),
        _time(entry.last),
        _copy(entry, copies) + _latest_shot(entry, pictures),
        _review(entry),
        escape(entry.since_citation),
        _memento(entry),
    ]
    classes = ["", "time", "url", "", "time", "time", "time", "", "", "", "time"]
    row = "<tr>" + "".join(f"<td class='{c}'>{v}</td>" if c else f"<td>{v}</td>" for c, v in zip(classes, cells, strict=True)) + "</tr>"
    if entry.shot_pair:
        figures = "".join(_figure(pictures, shot, f"{what}, {_time(when)}") for what, when, shot in entry.shot_pair)
        row += f"<tr class='shots'><td></td><td colspan='10'><div class='note'>The page as a person saw it:</div>{figures}</td></tr>"
    if entry.diff:
        row += (
            f"<tr class='diff'><td></td><td colspan='10'><details><summary>Text diff: {escape(entry.diff_label)}</summary>"
            f"<pre class='diff'>{_diff(entry.diff)}</pre></details></td></tr>"
        )
    if entry.pins:
        row += f"<tr class='pins'><td></td><td colspan='10'>{_pins(entry)}</td></tr>"
    if entry.problem:
        row += f"<tr><td></td><td colspan='10' class='problem'>{escape(entry.problem)}</td></tr>"
    return row


def _memento(entry: Entry) -> str:
    """The web archive's public copy of the cited date, for a reader to open."""
    if not entry.memento_url:
        return ""
    href = escape(entry.memento_url, quote=True)
    return f"<a href='{href}' rel='noopener noreferrer nofollow'>{escape(entry.memento_datetime or '')}</a>"


def _figures(data: ReportData) -> str:
    """The reference-rot figures, per document and overall, and how they were made."""
    words = [SHARES[v] for v in VERDICTS]
    head = "".join(f"<th>{word}</th>" for word in ["document", "citations", *words])
    rows = []
    for row in data.drift:
        name = f"<strong>{escape(row['document'])}</strong>" if row["document"] == OVERALL else escape(row["document"])
        cells = "".join(f"<td>{row[w]} ({percent(row[w + '_share'])})</td>" for w in words)
        rows.append(f"<tr><td>{name}</td><td>{row['citations']}</td>{cells}</tr>")
    return (
        "<section id='since-citation'><h2>Since citation</h2>"
        f"<table class='counts'><tr>{head}</tr>{''.join(rows)}</table>"
        f"<p class='note'>{escape(METHOD)}</p></section>"
    )


def _pins(entry: Entry) -> str:
    """The footnote's pinned passages: each beside where it was last found and what the
    page says now (the nearest passage, when it is lost)."""
    rows = []
    for pin in entry.pins:
        score = f" ({pin.score:.2f})" if pin.status == "partial" and pin.score is not None else ""
        where = f" <span class='note'>characters {pin.found_at[0]}–{pin.found_at[1]}</span>" if pin.found_at else ""
        last = f"{_time(pin.last_found)}{where}" if pin.last_found else "never"
        now = escape(pin.now or "")
        if pin.status == "lost":
            now = f"<span class='note'>nearest:</span> {now}" if now else "<span class='note'>nothing near it</span>"
        elif pin.differs:
            now += f" <span class='note'>({escape(pin.differs)})</span>"
        colour = _CLAIM_BADGE.get(pin.status, "unchecked")
        cited = escape(cited_claim_text(pin.cited))
        if pin.cited is not None and pin.cited.claim == "lost":
            cited = f"<strong>{cited}</strong>"
        rows.append(
            f"<tr><td>{escape(pin.quote)}</td><td><span class='state state-{colour}'>{escape(pin.status)}</span>{score}</td>"
            f"<td class='time'>{last}</td><td>{now}</td><td>{cited}</td></tr>"
        )
    return (
        "<table class='pins'><thead><tr><th>Pinned passage</th><th>Claim</th><th>Last found</th><th>On the page now</th>"
        "<th>When cited</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


# Claims wear the colours of the states they resemble.
_CLAIM_BADGE = {"holds": "ok", "partial": "changed", "lost": "gone"}


def _copy(entry: Entry, copies: dict[int, Saved | str]) -> str:
    if entry.copy is None:
        return "<span class='note'>none: never archived as present</span>"
    saved = copies.get(entry.copy.id)
    if saved is None:
        return ""
    if isinstance(saved, str):
        return f"<span class='problem'>{escape(saved)}</span>"
    when = _time(entry.copy.checked_at)
    size = f"{saved.size:,} bytes"
    if saved.viewer:
        return (
            f"<a href='{escape(saved.href)}' target='_blank' rel='noopener noreferrer'>{when}</a> "
            f"<span class='note'>(sandboxed view; <a href='{escape(saved.payload_href)}' download>source</a>, {size})</span>"
        )
    return (
        f"<a href='{escape(saved.href)}' download='{escape(saved.payload_name)}'>{when}</a> "
        f"<span class='note'>({escape(saved.content_type)}, {size})</span>"
    )


def _latest_shot(entry: Entry, pictures: dict[int, Picture | str]) -> str:
    if entry.shot is None:
        return ""
    return _figure(pictures, entry.shot, f"screenshot, {_time(entry.shot.checked_at)}", "shot latest")


def _figure(pictures: dict[int, Picture | str], shot: Shot | None, caption: str, classes: str = "shot") -> str:
    """A thumbnail inside the page (the policy allows data: images only), linking to the whole PNG."""
    if shot is None:
        return f"<figure class='{classes}'><figcaption>{escape(caption)}: not rendered, no screenshot</figcaption></figure>"
    picture = pictures.get(shot.capture_id)
    if picture is None:
        return ""
    if isinstance(picture, str):
        return f"<figure class='{classes}'><figcaption class='problem'>{escape(picture)}</figcaption></figure>"
    if shot.render == "capped":
        caption += " (capped: its network never went idle)"
    source = "data:image/jpeg;base64," + base64.b64encode(picture.thumb).decode("ascii")
    return (
        f"<figure class='{classes}'><a href='{escape(picture.href)}' target='_blank' rel='noopener noreferrer' "
        f"title='the whole screenshot ({picture.size:,} bytes)'><img src='{source}' alt='{escape(caption)}'></a>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _review(entry: Entry) -> str:
    if entry.ack is not None:
        note = f": {escape(entry.ack.note)}" if entry.ack.note else ""
        return f"acknowledged {_time(entry.ack.acked_at)}{note}"
    return "<strong>news, not reviewed</strong>" if entry.unreviewed else ""


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        escaped = escape(line)
        if line.startswith("-") and not line.startswith("---"):
            escaped = f"<span class='del'>{escaped}</span>"
        elif line.startswith("+") and not line.startswith("+++"):
            escaped = f"<span class='ins'>{escaped}</span>"
        lines.append(escaped)
    return "\n".join(lines)


def _badge(state: str) -> str:
    return f"<span class='state state-{escape(state)}'>{escape(state)}</span>"


def _time(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""
