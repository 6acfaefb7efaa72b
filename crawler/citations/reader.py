"""``read_document``: any supported document in, its citations out.

The format is decided by the content (``detect.py``), then one reader per format does the
work: ``pdf.py``, ``docx.py``, ``html.py``, and ``text.py`` for plain text and Markdown.
"""

from __future__ import annotations

import os
from pathlib import Path

from crawler.citations.detect import DOCX, HTML, PDF, detect
from crawler.citations.files import decode_text, read_bytes
from crawler.citations.model import Document
from crawler.citations.text import parse_document


def read_document(path: str | os.PathLike[str]) -> Document:
    """Read a PDF, Word (.docx), HTML, Markdown or plain-text file and extract its citations.

    Raises ``DocumentError`` with a one-line message naming the file, the reason and the fix
    when the file is missing, a directory, unreadable, encrypted, damaged, of a format that
    is not read, empty, or a PDF without a text layer.
    """
    name = os.fspath(path)
    raw = read_bytes(Path(name), name)
    kind = detect(raw, name)
    # Each reader is imported when its format turns up: pypdf alone costs a crawl of a
    # URL list 8 MB of memory and 45 ms.
    if kind == PDF:
        from crawler.citations.pdf import read_pdf

        return read_pdf(raw, name)
    if kind == DOCX:
        from crawler.citations.docx import read_docx

        return read_docx(raw, name)
    if kind == HTML:
        from crawler.citations.html import read_html

        return read_html(raw, name)
    return parse_document(decode_text(raw, name), source=name)
