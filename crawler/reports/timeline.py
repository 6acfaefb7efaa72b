"""The states of the cited URLs across runs, as an SVG bar chart readable without a network.

One column per run, the URLs of each state stacked in it, a legend, run numbers under the
columns and the count in each segment tall enough to hold it. Colours follow the report's
state badges; every segment also carries a ``<title>`` for a tooltip.
"""

from __future__ import annotations

from html import escape

from crawler.reports.collect import STATES, RunColumn

COLOURS = {"ok": "#2e7d32", "changed": "#ef6c00", "moved": "#1565c0", "gone": "#c62828", "unreachable": "#757575"}
PLOT_HEIGHT = 200
TOP = 40
LEFT = 40
#: At most this many runs are drawn (the latest ones): a year of nightly runs stays legible.
MAX_RUNS = 60


def timeline_svg(runs: list[RunColumn]) -> str:
    shown = runs[-MAX_RUNS:]
    column = 36 if len(shown) <= 20 else 18
    bar = column - 8
    width = max(LEFT + column * len(shown) + 20, 560)
    height = TOP + PLOT_HEIGHT + 50
    peak = max((sum(run.counts.values()) for run in shown), default=0) or 1
    scale = PLOT_HEIGHT / peak
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' id='timeline' role='img' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='11'>",
        "<title>States of the cited URLs in each run</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='#fff'/>",
    ]
    parts += _legend()
    base = TOP + PLOT_HEIGHT
    parts.append(f"<line x1='{LEFT - 4}' y1='{base}' x2='{width - 10}' y2='{base}' stroke='#333'/>")
    parts.append(f"<text x='{LEFT - 8}' y='{base}' text-anchor='end'>0</text>")
    parts.append(f"<text x='{LEFT - 8}' y='{TOP + 4}' text-anchor='end'>{peak}</text>")
    parts.append(f"<line x1='{LEFT - 4}' y1='{TOP}' x2='{width - 10}' y2='{TOP}' stroke='#ddd'/>")
    if not shown:
        parts.append(f"<text x='{LEFT + 10}' y='{TOP + PLOT_HEIGHT // 2}'>no run yet</text>")
    for index, run in enumerate(shown):
        x = LEFT + index * column + (column - bar) // 2
        y = float(base)
        for state in [*STATES, *sorted(set(run.counts) - set(STATES))]:
            n = run.counts.get(state, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            tip = f"run {run.run_id} ({run.started_at:%Y-%m-%d}): {n} {state}"
            parts.append(
                f"<rect class='state-{escape(state)}' x='{x}' y='{y:.1f}' width='{bar}' height='{h:.1f}' "
                f"fill='{COLOURS.get(state, '#9e9e9e')}'><title>{escape(tip)}</title></rect>"
            )
            if h >= 13:
                parts.append(
                    f"<text x='{x + bar / 2:.1f}' y='{y + h / 2 + 4:.1f}' text-anchor='middle' fill='#fff'>{n}</text>"
                )
        if len(shown) <= 20 or index % 5 == 0 or index == len(shown) - 1:
            parts.append(f"<text x='{x + bar / 2:.1f}' y='{base + 14}' text-anchor='middle'>{run.run_id}</text>")
    parts.append(f"<text x='{LEFT}' y='{base + 34}'>run</text>")
    if len(runs) > len(shown):
        parts.append(f"<text x='{LEFT + 40}' y='{base + 34}'>(the last {len(shown)} of {len(runs)} runs)</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _legend() -> list[str]:
    parts = []
    for index, state in enumerate(STATES):
        x = LEFT + index * 100
        parts.append(f"<rect x='{x}' y='10' width='12' height='12' fill='{COLOURS[state]}'/>")
        parts.append(f"<text x='{x + 16}' y='20'>{state}</text>")
    return parts
