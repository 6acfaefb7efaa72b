"""The screenshots of rendered captures, as a report shows them: read from their
``urn:screenshot:<url>`` resource records, written beside the report, and made small.

A thumbnail is the top of the page (what a reader sees first on opening it), at most
``THUMB_RATIO`` times as tall as it is wide, scaled to ``THUMB_WIDTH`` pixels and encoded as
JPEG: a few kilobytes, so the HTML report can carry every one inside itself (a reader who
gets the one file by e-mail still sees them) while the full pictures stay in the folder
beside it, byte for byte as archived.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.exceptions import ArchiveError
from crawler.store.models import Capture, Record
from crawler.warc.rendered import SCREENSHOT_PREFIX
from crawler.warc.snapshots import load_resource

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
THUMB_WIDTH = 240
#: The thumbnail's height at most, as a multiple of its width: a long page's top, not a sliver.
THUMB_RATIO = 1.25
THUMB_QUALITY = 80


@dataclass(frozen=True)
class Shot:
    """Where a capture's screenshot is, and what the capture was."""

    capture_id: int
    checked_at: datetime
    state: str
    #: ``rendered`` or ``capped`` (``captures.render``)
    render: str | None
    filename: str
    offset: int


def shots_of(session: Session, captures: list[Capture]) -> dict[int, Shot]:
    """The screenshot of each of ``captures`` that has one, by capture id."""
    by_id = {capture.id: capture for capture in captures}
    if not by_id:
        return {}
    query = (
        select(Record.capture_id, Record.filename, Record.offset)
        .where(
            Record.capture_id.in_(list(by_id)), Record.record_type == "resource",
            Record.target_uri.startswith(SCREENSHOT_PREFIX, autoescape=True),
        )
        # A capture's own render comes first among its records; a second render (to learn
        # its noise, crawler/verdicts/capture.py) after it, and is not the capture's picture.
        .order_by(Record.capture_id, Record.position)
    )
    shots: dict[int, Shot] = {}
    for capture_id, filename, offset in session.execute(query):
        if capture_id is None or capture_id in shots:
            continue
        capture = by_id[capture_id]
        shots[capture_id] = Shot(capture_id, capture.checked_at, capture.state, capture.render, filename, offset)
    return shots


def read_screenshot(archive_dir: Path, shot: Shot) -> bytes:
    """The PNG as archived; raises ArchiveError when the record is not a screenshot."""
    block = load_resource(archive_dir, shot.filename, shot.offset, "screenshot")
    if not block.startswith(PNG_SIGNATURE):
        raise ArchiveError(f"the screenshot record {shot.filename}#{shot.offset} holds no PNG image")
    return block


def thumbnail(png: bytes, width: int = THUMB_WIDTH) -> bytes:
    """The top of the picture, ``width`` pixels wide, as JPEG."""
    # Pillow is imported here: only a report with screenshots pays for it.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            full_width, full_height = image.size
            top = image.crop((0, 0, full_width, min(full_height, round(full_width * THUMB_RATIO))))
            scale = min(1.0, width / full_width)
            size = (max(1, round(top.width * scale)), max(1, round(top.height * scale)))
            small = top.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise ArchiveError(f"the screenshot cannot be read as an image: {exc}") from exc
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue()


@dataclass(frozen=True)
class Picture:
    """A screenshot saved beside a report."""

    capture_id: int
    #: the full PNG, relative to the report
    href: str
    #: the thumbnail (JPEG), inside the HTML report and as a file beside it for Markdown
    thumb: bytes
    thumb_href: str
    size: int
