"""What a document is, from its content: a file name says what someone called it.

``report.txt`` holding a PDF is read as a PDF; a Markdown file that happens to contain a
little inline HTML is still Markdown. Formats that cannot be read get a ``DocumentError``
that names the file and says how to turn it into one that can.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile

from crawler.exceptions import DocumentError

PDF = "pdf"
DOCX = "docx"
HTML = "html"
TEXT = "text"

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Office stores a password-protected .docx as an OLE file holding this stream.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_WORD_MAIN = "wordprocessingml.document.main"
_ODT = b"application/vnd.oasis.opendocument.text"
_HTML_START = re.compile(r"<(?:!doctype\s+html|html|head|body|title|meta)[\s>/]", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[a-z][a-z0-9]*[\s>/]", re.IGNORECASE)
_LEADING_NOISE = re.compile(r"^(?:\s+|<\?xml[^>]*\?>|<!--.*?-->)+", re.DOTALL)
_HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")


def detect(raw: bytes, name: str) -> str:
    """``PDF``, ``DOCX``, ``HTML`` or ``TEXT`` (plain text and Markdown) for the bytes of ``name``."""
    # The header may follow some junk within the first 1024 bytes; then the trailer must
    # be there too, so a text file that mentions "%PDF-" stays text.
    if raw.lstrip().startswith(b"%PDF-") or (b"%PDF-" in raw[:1024] and b"%%EOF" in raw[-2048:]):
        return PDF
    if raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(raw, name)
    if raw.startswith(_OLE):
        if _ENCRYPTED_PACKAGE in raw:
            raise DocumentError(
                f"{name} is a password-protected Office document; open it in Word, remove the password "
                "(File > Info > Protect Document) and save it as .docx"
            )
        raise DocumentError(f"{name} is an old Office file (.doc/.xls); save it as .docx or PDF first")
    if raw.lstrip().startswith(b"{\\rtf"):
        raise DocumentError(f"{name} is an RTF file; save it as .docx or PDF first")
    if _looks_like_html(raw, name):
        return HTML
    return TEXT


def _zip_kind(raw: bytes, name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return DOCX
            if "[Content_Types].xml" in names and _WORD_MAIN in archive.read("[Content_Types].xml").decode("utf-8", "replace"):
                return DOCX
            if "mimetype" in names and archive.read("mimetype").strip() == _ODT:
                raise DocumentError(f"{name} is an OpenDocument text (.odt); save it as .docx or PDF first")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise DocumentError(
            f"{name} is a damaged ZIP file ({error}); if it is a .docx, download or save it again"
        ) from None
    raise DocumentError(f"{name} is a ZIP archive but not a Word document; unpack it and import the documents inside")


def _looks_like_html(raw: bytes, name: str) -> bool:
    head = _head_text(raw)
    start = _LEADING_NOISE.sub("", head, count=1)
    if _HTML_START.match(start):
        return True
    # A fragment ("<p>...") is HTML when the file says so; unnamed, it is read as Markdown,
    # which may contain HTML anyway.
    return name.lower().endswith(_HTML_SUFFIXES) and bool(_ANY_TAG.match(start))


def _head_text(raw: bytes) -> str:
    sample = raw[:4096]
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return sample.decode(codec, "replace")
    return sample.decode("utf-8-sig", "replace")
