"""Archived statuses from a CDX index, so that mementos known not to be 200 are passed over
without being fetched.

Two shapes answer ``?url=URL&output=json``: pywb's, one JSON object per line with a
``status`` field, and the Wayback Machine's (``/cdx/search/cdx``), one JSON array whose
first row names the columns (``statuscode``). A revisit or a capture without a status
shows ``-`` or nothing: unknown, so such a memento is still fetched.
"""

from __future__ import annotations

import json
from typing import Any

from crawler.memento.urls import parse_timestamp


def parse_cdx(body: str | bytes) -> dict[str, int | None]:
    """14-digit timestamp -> archived HTTP status (None: unknown), from a JSON CDX answer.

    A body in neither shape gives no statuses: the CDX index only saves requests, and the
    mementos are then judged by fetching them.
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    rows: list[dict[str, Any]] = []
    text = body.strip()
    if text.startswith("["):
        try:
            table = json.loads(text)
        except ValueError:
            return {}
        if isinstance(table, list) and table and isinstance(table[0], list):
            header = [str(name) for name in table[0]]
            rows = [dict(zip(header, row, strict=False)) for row in table[1:] if isinstance(row, list)]
    else:
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    statuses: dict[str, int | None] = {}
    for row in rows:
        stamp = str(row.get("timestamp", ""))
        if parse_timestamp(stamp) is None or len(stamp) != 14:
            continue
        raw = str(row.get("status", row.get("statuscode", "")))
        status = int(raw) if raw.isdigit() else None
        # One timestamp listed twice (two URL variants): a known 200 wins over anything.
        if stamp not in statuses or status == 200 or statuses[stamp] is None:
            statuses[stamp] = status
    return statuses
