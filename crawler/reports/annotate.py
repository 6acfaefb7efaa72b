"""``evidence annotate``: the document with each cited link pointing at its archived copy.

HTML gets the Robust Links attributes on each ``<a href>`` of a cited URL:
``data-versionurl`` (the saved copy, relative to the output) and ``data-versiondate``
(when it was captured, ISO 8601 UTC). Markdown and plain text get a note after each cited
URL: `` (archived on 2026-11-27: doc_files/12.view.html)``. Everything else in the file
is left byte for byte as it was.

The copy used is the web archive's memento of the cited date where one was found
(``evidence lookup``; the earliest cited date that has one): its public replay URL and
the time the archive made it, which any reader of the annotated document can open, where
a local file path could not be shared. Where there is none, the project's own copy: the
first capture in which the page was present, the one closest to when the author cited
it, saved beside the output. Links are matched by the URL string exactly as written.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.exceptions import DocumentError, ReportError
from crawler.reports.files import SnapshotFolder
from crawler.reports.report import files_folder
from crawler.store.mementos import found_mementos
from crawler.store.models import Capture, Citation, Target

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
NOTE = " (archived on {date}: {href})"
# A character that would continue a URL: a match followed by one is part of a longer URL.
_URL_CHAR = re.compile(r"[\w/\-~%#?=&+@$*;:.,!'()\[\]]")


@dataclass(frozen=True)
class Version:
    href: str
    captured: datetime


@dataclass(frozen=True)
class Annotated:
    output: Path
    files: Path
    links: int
    #: cited URLs found in the document that have no archived copy of a present page
    unarchived: list[str]


def annotate(sessions: sessionmaker[Session], archive_dir: Path, source: Path, output: Path) -> Annotated:
    text = _read(source)
    folder = SnapshotFolder(archive_dir, files_folder(output), output.parent)
    with sessions() as session:
        firsts = _first_copies(session)
        mementos = _mementos(session)
    html_doc = source.suffix.lower() in HTML_SUFFIXES
    found = [url for url in firsts if url in text]
    versions: dict[str, Version] = {}
    unarchived: list[str] = []
    for url in found:
        capture = firsts[url][1]
        memento = mementos.get(firsts[url][0])
        if memento is not None:
            versions[url] = memento
            continue
        if capture is None:
            unarchived.append(url)
            continue
        try:
            saved = folder.save(capture, firsts[url][0])
        except OSError as exc:
            raise ReportError(f"cannot write into {folder.folder}: {exc.strerror}; check the folder and its permissions") from exc
        versions[url] = Version(saved.href, capture.checked_at)
    annotated, links = (_annotate_html if html_doc else _annotate_text)(text, versions)
    try:
        output.write_text(annotated, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {output}: {exc.strerror}; check the folder and its permissions") from exc
    return Annotated(output, folder.folder, links, unarchived)


def _read(source: Path) -> str:
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{source} does not exist; check the path and try again") from None
    except OSError as exc:
        raise DocumentError(f"{source} cannot be read ({exc.strerror}); check the file and try again") from None
    if b"\x00" in raw[:4096]:
        raise DocumentError(f"{source} looks like a binary file; annotate reads HTML, Markdown and plain text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _first_copies(session: Session) -> dict[str, tuple[str, Capture | None]]:
    """For each URL as written and each target URL: (target URL, first capture of it present)."""
    firsts: dict[int, Capture] = {}
    for capture in session.scalars(
        select(Capture)
        .where(Capture.state.in_(("ok", "changed")), Capture.warc_filename.is_not(None))
        .order_by(Capture.run_id.desc(), Capture.id.desc())
    ):
        firsts[capture.target_id] = capture  # earlier runs overwrite later ones
    result: dict[str, tuple[str, Capture | None]] = {}
    for target in session.scalars(select(Target)):
        result[target.url] = (target.url, firsts.get(target.id))
    for written, target_id, url in session.execute(
        select(Citation.url_as_written, Citation.target_id, Target.url).join(Target, Target.id == Citation.target_id)
    ):
        result.setdefault(written, (url, firsts.get(target_id)))
    return result


def _mementos(session: Session) -> dict[str, Version]:
    """Per target URL with a found memento: its replay URL (never the raw ``id_`` one) and time."""
    urls: dict[int, str] = {target_id: url for target_id, url in session.execute(select(Target.id, Target.url))}
    return {
        urls[target_id]: Version(row.memento_url, row.memento_datetime)
        for target_id, row in found_mementos(session, list(urls)).items()
        if row.memento_url and row.memento_datetime is not None
    }


def _annotate_text(text: str, versions: dict[str, Version]) -> tuple[str, int]:
    inserts: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for url in sorted(versions, key=len, reverse=True):
        for match in re.finditer(re.escape(url), text):
            start, end = match.span()
            if any(a < end and start < b for a, b in taken) or _continues(text, end):
                continue
            taken.append((start, end))
            point = _after_construct(text, start, end)
            version = versions[url]
            note = NOTE.format(date=f"{version.captured:%Y-%m-%d}", href=version.href)
            if not text.startswith(" (archived on ", point):
                inserts.append((point, note))
    for point, note in sorted(inserts, reverse=True):
        text = text[:point] + note + text[point:]
    return text, len(inserts)


def _continues(text: str, end: int) -> bool:
    """Whether the URL goes on after ``end`` (trailing punctuation before a space does not)."""
    rest = text[end : end + 2]
    if not rest or not _URL_CHAR.match(rest[0]):
        return False
    if rest[0] in ".,;:!?')]" and (len(rest) == 1 or not _URL_CHAR.match(rest[1])):
        return False
    return True


def _after_construct(text: str, start: int, end: int) -> int:
    """Where the note goes: after ``<url>`` and ``[text](url "title")``, else right after the URL."""
    if start > 0 and text[start - 1] == "<" and text.startswith(">", end):
        return end + 1
    if text[max(0, start - 2) : start] == "](":
        close = text.find(")", end)
        newline = text.find("\n", end)
        if close != -1 and (newline == -1 or close < newline):
            return close + 1
    return end


class _Links(HTMLParser):
    """Finds the start tags of links, with where each starts in the source."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[tuple[int, int], str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.tags.append((self.getpos(), self.get_starttag_text() or "", dict(attrs)))

    handle_startendtag = handle_starttag


def _annotate_html(text: str, versions: dict[str, Version]) -> tuple[str, int]:
    parser = _Links()
    parser.feed(text)
    parser.close()
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    edits: list[tuple[int, int, str]] = []
    for (line, column), raw, attrs in parser.tags:
        version = versions.get((attrs.get("href") or "").strip())
        if version is None or "data-versionurl" in attrs:
            continue
        start = line_starts[line - 1] + column
        if text[start : start + len(raw)] != raw:
            continue  # positions disagree (odd markup): leave this link alone rather than guess
        close = len(raw) - (2 if raw.endswith("/>") else 1)
        added = (
            f' data-versionurl="{html.escape(version.href)}"'
            f' data-versiondate="{version.captured:%Y-%m-%dT%H:%M:%SZ}"'
        )
        edits.append((start, start + len(raw), raw[:close].rstrip() + added + raw[close:]))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, len(edits)
