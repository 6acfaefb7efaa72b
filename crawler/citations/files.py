"""Reading a document's bytes, and decoding the ones that are text.

Every failure is a ``DocumentError`` whose one-line message names the file, says why it
cannot be read and what to do about it.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

from crawler.exceptions import DocumentError

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
FORMATS = "PDF, Word (.docx), HTML, Markdown and plain text"

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def read_bytes(path: Path, name: str) -> bytes:
    """The whole file; ``name`` is how messages call it (the path as the user typed it)."""
    try:
        if path.is_dir():
            raise DocumentError(f"{name} is a directory; give the path of a document inside it")
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                f"{name} is {size // (1024 * 1024)} MB; documents over "
                f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MB are not read, check it is the right file"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{name} does not exist; check the path and try again") from None
    except PermissionError:
        raise DocumentError(f"{name} cannot be read (permission denied); make it readable, e.g. chmod u+r") from None
    except IsADirectoryError:
        raise DocumentError(f"{name} is a directory; give the path of a document inside it") from None
    except OSError as error:
        reason = error.strerror or error
        raise DocumentError(f"{name} cannot be read ({reason}); check the file and try again") from None


def decode_text(raw: bytes, name: str) -> str:
    """Text of a plain-text or Markdown file: BOM, then UTF-8, then Windows-1252."""
    text = _decode(raw, name)
    if _mostly_binary(text):
        raise DocumentError(f"{name} looks like a binary file; evidence reads {FORMATS}")
    if not text.strip():
        raise DocumentError(f"{name} is empty; give a document that holds text")
    return text


def html_charset(raw: bytes) -> str | None:
    """The encoding an HTML file declares: its BOM, else a ``<meta charset>`` near the top."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return codec
    if match := _CHARSET.search(raw[:4096]):
        name = match.group(1).decode("ascii", "replace")
        try:
            return codecs.lookup(name).name
        except LookupError:
            return None
    return None


def _decode(raw: bytes, name: str) -> str:
    # UTF-16 files are full of NUL bytes, so their BOM must be honoured before the NUL test.
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                break
    if b"\x00" in raw:
        raise DocumentError(f"{name} looks like a binary file (it holds NUL bytes); evidence reads {FORMATS}")
    return decode_guess(raw)


def decode_guess(raw: bytes) -> str:
    """UTF-8 if it is valid UTF-8, else Windows-1252, else Latin-1 (which maps every byte)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _mostly_binary(text: str) -> bool:
    sample = text[:8192]
    if not sample:
        return False
    odd = sum(1 for char in sample if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn")
              and char not in "\t\n\r\f\v")
    return odd / len(sample) > 0.05
