"""``evidence report``: gather, save the archived copies beside the report, render, write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import EvidenceError, ReportError
from crawler.reports.collect import ReportData, collect
from crawler.reports.files import Saved, SnapshotFolder
from crawler.reports.html import render_html
from crawler.reports.markdown import render_markdown
from crawler.reports.screenshots import Picture, Shot, read_screenshot, thumbnail
from crawler.reports.timeline import timeline_svg
from crawler.store.models import utcnow


@dataclass(frozen=True)
class Written:
    path: Path
    files: Path
    citations: int
    copies: int
    problems: list[str]


def files_folder(output: Path) -> Path:
    """``report.html`` keeps its archived copies in ``report_files/``."""
    return output.with_name(output.stem + "_files")


def write_report(
    sessions: sessionmaker[Session],
    archive_dir: Path,
    output: Path,
    fmt: str,
    database: str,
    document: str | None = None,
    now: datetime | None = None,
) -> Written:
    data = collect(sessions, archive_dir, database, now or utcnow(), document)
    folder = files_folder(output)
    snapshots = SnapshotFolder(archive_dir, folder, output.parent)
    copies = save_copies(data, snapshots)
    pictures = save_pictures(data, archive_dir, snapshots)
    try:
        if fmt == "md":
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "timeline.svg").write_text(timeline_svg(data.runs) + "\n", encoding="utf-8")
            text = render_markdown(data, copies, f"{folder.name}/timeline.svg", pictures)
        else:
            text = render_html(data, copies, pictures)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {exc.filename or output}: {exc.strerror}; check the folder and its permissions") from exc
    problems = data.problems + [p for p in copies.values() if isinstance(p, str)]
    problems += [p for p in pictures.values() if isinstance(p, str)]
    return Written(output, folder, sum(len(s.entries) for s in data.sections), sum(isinstance(c, Saved) for c in copies.values()), problems)


def save_copies(data: ReportData, folder: SnapshotFolder) -> dict[int, Saved | str]:
    """Each entry's archived copy saved once; a copy the archive cannot give becomes its problem text."""
    copies: dict[int, Saved | str] = {}
    for section in data.sections:
        for entry in section.entries:
            if entry.copy is None or entry.copy.id in copies:
                continue
            try:
                copies[entry.copy.id] = folder.save(entry.copy, entry.url)
            except OSError as exc:
                raise ReportError(f"cannot write into {folder.folder}: {exc.strerror}; check the folder and its permissions") from exc
            except EvidenceError as exc:
                copies[entry.copy.id] = f"archived copy unavailable: {exc}"
    return copies


def save_pictures(data: ReportData, archive_dir: Path, folder: SnapshotFolder) -> dict[int, Picture | str]:
    """Each screenshot the report shows, once: the PNG as archived (``<capture id>.screenshot.png``)
    and its thumbnail (``<capture id>.thumb.jpg``); one the archive cannot give becomes its problem text."""
    shots: dict[int, Shot] = {}
    for section in data.sections:
        for entry in section.entries:
            for shot in [entry.shot, *(shot for _, _, shot in entry.shot_pair)]:
                if shot is not None:
                    shots.setdefault(shot.capture_id, shot)
    pictures: dict[int, Picture | str] = {}
    for capture_id, shot in sorted(shots.items()):
        try:
            png = read_screenshot(archive_dir, shot)
            small = thumbnail(png)
        except EvidenceError as exc:
            pictures[capture_id] = f"screenshot of capture {capture_id} unavailable: {exc}"
            continue
        full, thumb = f"{capture_id}.screenshot.png", f"{capture_id}.thumb.jpg"
        try:
            folder.folder.mkdir(parents=True, exist_ok=True)
            (folder.folder / full).write_bytes(png)
            (folder.folder / thumb).write_bytes(small)
        except OSError as exc:
            raise ReportError(f"cannot write into {folder.folder}: {exc.strerror}; check the folder and its permissions") from exc
        pictures[capture_id] = Picture(capture_id, f"{folder.prefix}/{full}", small, f"{folder.prefix}/{thumb}", len(png))
    return pictures
