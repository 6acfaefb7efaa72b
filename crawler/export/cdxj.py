"""A pywb-compatible CDXJ index (``SURT TIMESTAMP {json}`` lines, sorted) of archived records."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import surt


@dataclass(frozen=True)
class IndexEntry:
    """One replayable record (a ``response`` or a ``revisit``) and where it is."""

    url: str
    date: datetime
    record_type: str
    http_status: int | None
    content_type: str | None
    payload_digest: str | None
    filename: str
    offset: int
    length: int


def cdxj_line(entry: IndexEntry) -> str:
    fields: dict[str, str] = {"url": entry.url}
    if entry.record_type == "revisit":
        fields["mime"] = "warc/revisit"
    elif entry.content_type:
        fields["mime"] = entry.content_type.split(";")[0].strip()
    if entry.http_status is not None:
        fields["status"] = str(entry.http_status)
    if entry.payload_digest:
        fields["digest"] = entry.payload_digest
    fields |= {"length": str(entry.length), "offset": str(entry.offset), "filename": entry.filename}
    return f"{surt.surt(entry.url)} {entry.date:%Y%m%d%H%M%S} {json.dumps(fields, ensure_ascii=False)}"


def cdxj_lines(entries: Iterable[IndexEntry]) -> list[str]:
    """Index lines in the byte order pywb's binary search expects."""
    return sorted((cdxj_line(e) for e in entries), key=lambda line: line.encode("utf-8"))


def write_index(lines: list[str], path: Path) -> None:
    """Replace ``path`` with the index in one step, so pywb never reads half of one."""
    partial = path.with_name(path.name + ".part")
    partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(partial, path)
