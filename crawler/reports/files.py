"""Archived payloads saved beside a report or an annotated document, in forms that cannot run.

Each payload is written as ``<folder>/<capture id><extension>``. Passive types keep their
own extension (a PDF stays ``.pdf``); anything a browser would execute (HTML, SVG, XML,
scripts) is saved as ``.txt``, so opening it shows its source. HTML also gets a viewer,
``<capture id>.view.html``: the page inside an ``<iframe sandbox>`` (no scripts, forms
or pop-ups) under a Content-Security-Policy that loads nothing, so it renders offline
without running or fetching anything.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import lxml.html
from lxml import etree

from crawler.store.models import Capture
from crawler.warc.snapshots import load_snapshot

#: The policy of every page evidence writes: inline styles and data: images, nothing else.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

PASSIVE = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/json": ".json",
    "application/zip": ".zip",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
}
ACTIVE = {
    "text/html": ".html.txt",
    "application/xhtml+xml": ".xhtml.txt",
    "image/svg+xml": ".svg.txt",
    "text/xml": ".xml.txt",
    "application/xml": ".xml.txt",
    "text/javascript": ".js.txt",
    "application/javascript": ".js.txt",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Saved:
    capture_id: int
    #: where a reader should go, relative to the page that links it: the sandboxed viewer
    #: for HTML, the payload itself otherwise
    href: str
    #: the payload as served (content coding removed), relative to the page
    payload_href: str
    payload_name: str
    size: int
    content_type: str

    @property
    def viewer(self) -> bool:
        return self.href != self.payload_href


class SnapshotFolder:
    """Saves payloads into ``folder``; links are relative to ``page_dir``, where the linking page is."""

    def __init__(self, archive_dir: Path, folder: Path, page_dir: Path) -> None:
        self.archive_dir = archive_dir
        self.folder = folder
        self.prefix = "/".join(quote(part) for part in folder.relative_to(page_dir).parts)
        self.saved: dict[int, Saved] = {}

    def save(self, capture: Capture, url: str) -> Saved:
        """Write the payload of ``capture`` of ``url`` (once); raises ArchiveError if the WARC cannot give it."""
        if capture.id in self.saved:
            return self.saved[capture.id]
        snapshot = load_snapshot(self.archive_dir, capture)
        kind = (capture.content_type or "").split(";")[0].strip().lower()
        if not kind and snapshot.body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
            kind = "text/html"
        name = f"{capture.id}{PASSIVE.get(kind) or ACTIVE.get(kind) or '.bin'}"
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(snapshot.body)
        payload_href = f"{self.prefix}/{quote(name)}"
        href = payload_href
        if kind in HTML_TYPES:
            view = f"{capture.id}.view.html"
            (self.folder / view).write_text(viewer_page(capture, url, snapshot.body, name), encoding="utf-8")
            href = f"{self.prefix}/{quote(view)}"
        saved = Saved(capture.id, href, payload_href, name, len(snapshot.body), kind or "application/octet-stream")
        self.saved[capture.id] = saved
        return saved


def viewer_page(capture: Capture, cited_url: str, body: bytes, payload_name: str) -> str:
    """A page that shows archived HTML in a sandbox: nothing in it runs or loads."""
    when = f"{capture.checked_at:%Y-%m-%d %H:%M:%S} UTC"
    url = html.escape(cited_url)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">\n"
        "<meta name='referrer' content='no-referrer'>\n"
        f"<title>Archived copy of {url}, {when}</title>\n"
        "<style>body{margin:0;font:14px/1.4 sans-serif}header{padding:.5em 1em;background:#eee;border-bottom:1px solid #ccc}"
        "iframe{border:0;width:100%;height:calc(100vh - 4em)}</style></head><body>\n"
        f"<header>Archived copy of <code>{url}</code> captured {when} (run {capture.run_id}), shown without its scripts "
        f"and without loading anything. <a href='{quote(payload_name)}' download>Source as archived</a></header>\n"
        f"<iframe sandbox='' referrerpolicy='no-referrer' title='archived page' srcdoc=\"{html.escape(_as_text(body))}\"></iframe>\n"
        "</body></html>\n"
    )


def _as_text(body: bytes) -> str:
    """The archived HTML as text, in its own encoding, without a meta refresh (which a sandbox allows)."""
    try:
        root = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return body.decode("utf-8", "replace")
    for meta in root.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "refresh":
            meta.drop_tree()
    return str(lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>"))
