"""The report as Markdown, for a repository or a wiki; the chart is an SVG file beside it.

Text from the database and the archive is escaped for Markdown and for the HTML a
Markdown renderer lets through; diffs sit in fenced code blocks longer than any run of
backticks they contain.
"""

from __future__ import annotations

import re
from datetime import datetime

from crawler.claims.store import PinReport, cited_claim_text
from crawler.reports.collect import STATES, Entry, ReportData
from crawler.reports.drift import METHOD, OVERALL, SHARES, VERDICTS, percent
from crawler.reports.files import Saved
from crawler.reports.screenshots import Picture, Shot

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~<>])")


def render_markdown(
    data: ReportData, copies: dict[int, Saved | str], chart: str | None, pictures: dict[int, Picture | str] | None = None
) -> str:
    pictures = pictures or {}
    counts = data.counts
    names = [s for s in (*STATES, "unchecked") if counts.get(s)] + sorted(set(counts) - {*STATES, "unchecked"})
    out = [
        "# Evidence report",
        "",
        f"Generated {_time(data.generated_at)} UTC from `{_code(data.database)}`: {len(data.sections)} documents, "
        f"{sum(len(s.entries) for s in data.sections)} citations, {len(data.runs)} runs.",
        "",
        *_figures(data),
        "## Citations per state",
        "",
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        "| " + " | ".join(str(counts[n]) for n in names) + " |",
        "",
        "## States across runs",
        "",
    ]
    if chart:
        out += [f"![States of the cited URLs in each run]({chart})", ""]
    out += ["| run | started | " + " | ".join(STATES) + " |", "|---|---|" + "---|" * len(STATES)]
    for run in data.runs:
        out.append(f"| {run.run_id} | {_time(run.started_at)} | " + " | ".join(str(run.counts.get(s, 0)) for s in STATES) + " |")
    for section in data.sections:
        out += ["", f"## {_escape(section.label)}", ""]
        if section.title:
            out += [_escape(section.title), ""]
        out += [
            "| footnote | cited | cited URL | state | since | first capture | last capture | archived copy | review "
            "| since citation | memento | screenshot |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        details: list[str] = []
        pinned: list[str] = []
        for entry in section.entries:
            pinned += [_pin_row(entry, pin) for pin in entry.pins]
            out.append(_row(entry, copies, pictures))
            if entry.shot_pair:
                details += [
                    "",
                    f"Footnote {_escape(entry.footnote)}, {_escape(entry.url)}: the page as a person saw it",
                    "",
                    " ".join(_image(pictures, shot, f"{what}, {_time(when)}") for what, when, shot in entry.shot_pair),
                ]
            if entry.diff:
                fence = "`" * max(3, _longest_backticks(entry.diff) + 1)
                details += [
                    "",
                    f"Footnote {_escape(entry.footnote)}, {_escape(entry.url)}: {_escape(entry.diff_label)}",
                    "",
                    f"{fence}diff",
                    entry.diff.rstrip("\n"),
                    fence,
                ]
            if entry.problem:
                details += ["", f"Footnote {_escape(entry.footnote)}: {_escape(entry.problem)}"]
        if pinned:
            out += [
                "", "### Pinned passages", "",
                "| footnote | pinned passage | claim | last found | on the page now | when cited |",
                "|---|---|---|---|---|---|", *pinned,
            ]
        if details:
            out += ["", "### Text changes", *details]
    return "\n".join(out) + "\n"


def _row(entry: Entry, copies: dict[int, Saved | str], pictures: dict[int, Picture | str]) -> str:
    state = f"**{entry.state}** {_escape(entry.reason)}".strip()
    copy = "none"
    if entry.copy is not None:
        saved = copies.get(entry.copy.id)
        if isinstance(saved, Saved):
            label = "sandboxed view" if saved.viewer else saved.content_type
            copy = f"[{_time(entry.copy.checked_at)}]({saved.href}) ({_escape(label)}, {saved.size} bytes)"
        elif isinstance(saved, str):
            copy = _escape(saved)
    review = ""
    if entry.ack is not None:
        review = f"acknowledged {_time(entry.ack.acked_at)}" + (f": {_escape(entry.ack.note)}" if entry.ack.note else "")
    elif entry.unreviewed:
        review = "**news, not reviewed**"
    times = [_time(entry.since), _time(entry.first), _time(entry.last)]
    cells = [_escape(entry.footnote), entry.cited_label, f"`{_code(entry.url)}`", state, *times, copy, review]
    memento = f"[{_escape(entry.memento_datetime or '')}](<{_code(entry.memento_url)}>)" if entry.memento_url else ""
    shot = _image(pictures, entry.shot, f"screenshot, {_time(entry.shot.checked_at)}") if entry.shot else ""
    cells += [entry.since_citation, memento, shot]
    return "| " + " | ".join(cells) + " |"


def _image(pictures: dict[int, Picture | str], shot: Shot | None, caption: str) -> str:
    """The thumbnail beside the report, linking to the whole screenshot."""
    if shot is None:
        return f"({_escape(caption)}: not rendered, no screenshot)"
    picture = pictures.get(shot.capture_id)
    if picture is None:
        return ""
    if isinstance(picture, str):
        return _escape(picture)
    if shot.render == "capped":
        caption += " (capped)"
    return f"[![{_escape(caption)}]({picture.thumb_href})]({picture.href})"


def _figures(data: ReportData) -> list[str]:
    """The reference-rot figures, per document and overall, and how they were made."""
    words = [SHARES[v] for v in VERDICTS]
    out = [
        "## Since citation",
        "",
        "| document | citations | " + " | ".join(words) + " |",
        "|---|---|" + "---|" * len(words),
    ]
    for row in data.drift:
        name = f"**{_escape(row['document'])}**" if row["document"] == OVERALL else _escape(row["document"])
        cells = [f"{row[w]} ({percent(row[w + '_share'])})" for w in words]
        out.append(f"| {name} | {row['citations']} | " + " | ".join(cells) + " |")
    return [*out, "", _escape(METHOD), ""]


def _pin_row(entry: Entry, pin: PinReport) -> str:
    claim = f"**{pin.status}**" + (f" ({pin.score:.2f})" if pin.status == "partial" and pin.score is not None else "")
    where = f" (characters {pin.found_at[0]}–{pin.found_at[1]})" if pin.found_at else ""
    last = f"{_time(pin.last_found)}{where}" if pin.last_found else "never"
    now = _escape(pin.now or "")
    if pin.status == "lost":
        now = f"nearest: {now}" if now else "nothing near it"
    elif pin.differs:
        now += f" ({_escape(pin.differs)})"
    cells = [_escape(entry.footnote), _escape(pin.quote), claim, last, now, _escape(cited_claim_text(pin.cited))]
    return "| " + " | ".join(cells) + " |"


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _code(text: str) -> str:
    # Inside a code span only backticks and the table's pipes matter.
    return text.replace("`", "'").replace("|", "%7C")


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _time(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""
