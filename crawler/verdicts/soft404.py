"""Telling a "not found" page answered with 200 from a real page.

Several independent signals, each recorded by name when it fires:

- ``redirect_to_home``: the cited URL was redirected to the site's root or home page
  (the cited URL itself was not the root); ``redirect_to_error``: to a URL naming an error.
- ``probe_same_url`` / ``probe_similar``: a random sibling of the cited URL (Bar-Yossef et
  al., 2004) ends at the same URL, or answers with the same text (Jaccard >= 0.95 over
  words, the probe's own name and volatile tokens removed). A probe answered with an
  error status shows the server reports missing pages properly, and clears the page.
  For a URL with a query the sibling has a random parameter value; many servers ignore
  a parameter they do not use and serve the same real page, so a similar answer there
  is recorded as ``probe_query_similar`` and is not, on its own, a soft 404.
- ``document_became_html``: a cited document (PDF, Word, spreadsheet...) now answers with
  an HTML page.
- ``error_title``: the title or a main heading says the page was not found.

A page rendered in the browser is compared with its probe rendered too: an application
answers the same HTML shell for every path, so shells alike say nothing, while a rendered
"Página no encontrada" does. A rendered page and an unrendered probe (or the other way
round: one of the two renders failed) are not compared by their text at all.

``maintenance`` is recorded too, but makes a page unreachable, not gone.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from crawler.verdicts.fingerprint import Meaning, is_document, is_html, similarity

PROBE_SIMILARITY = 0.95
_HOME_PATHS = {"", "/index", "/home", "/inicio", "/default", "/portal", "/es", "/en", "/es/inicio", "/en/home"}
_ERROR_WORDS = re.compile(r"(^|[/_.=-])(404|notfound|not-found|not_found|error|errores|pagina-no-encontrada)([/_.?=-]|$)", re.I)
_DOCUMENT_EXTENSIONS = {".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".csv", ".zip", ".rtf"}
_NOT_FOUND = re.compile(
    r"\b(pagina no encontrada|no se (?:ha )?encontr|no encontrad[oa]|no existe|not found|page not found|"
    r"error 404|404 error|http 404|404 -|pagina solicitada no|recurso no disponible|documento no disponible)",
)
_MAINTENANCE = re.compile(r"\b(en mantenimiento|sitio en mantenimiento|under maintenance|down for maintenance)\b")
# A file extension: up to four letters and digits, at least one a letter (.pdf, .aspx,
# .xlsx, .mp4), or one of the longer page extensions. The dots of an address, a version
# or a date (127.0.0.2-8, v1.2-final, informe.2017.final) make no extension: read as
# one, each such name was a URL shape of its own, with a probe of its own.
_EXTENSION = re.compile(r"\.(?=[0-9]{0,3}[a-z])[a-z0-9]{1,4}|\.(?:shtml|xhtml|phtml|jhtml)", re.I)


@dataclass(frozen=True)
class ProbeAnswer:
    """What the random sibling answered."""

    url: str
    status: int | None
    final_url: str | None
    meaning: Meaning | None
    #: whether ``meaning`` is that of the probe's rendered DOM (crawler/browser/)
    rendered: bool = False


def _plain(text: str) -> str:
    """Lower case without accents, so "Página" and "pagina" match."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_root(url: str) -> bool:
    """The site's root or home page (``/``, ``/index.html``, ``/inicio``...), without a query."""
    parts = urlsplit(url)
    if parts.query:
        return False
    path = parts.path.rstrip("/").lower()
    head, _, last = path.rpartition("/")
    if PurePosixPath(last).stem in ("index", "default", "home", "inicio") and "." in last:
        path = head
    return path in _HOME_PATHS


def extension(name: str) -> str:
    """``name``'s file extension with its dot (``.aspx``, ``.PDF``), or "" when its last dot
    starts none (``127.0.0.2-8``, ``v1.2-final``, ``informe.2017.final``)."""
    suffix = PurePosixPath(name).suffix
    return suffix if _EXTENSION.fullmatch(suffix) else ""


def _random_name(like: str) -> str:
    """A random name of 25 letters, keeping ``like``'s extension (``.aspx``, ``.pdf``);
    a random nine-digit number where ``like`` is a number (ids)."""
    if like.isdigit():
        return "9" + "".join(secrets.choice(string.digits) for _ in range(8))
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(25)) + extension(like)


def probe_url(url: str) -> str | None:
    """A random sibling of ``url`` of the same shape, or None for a site's root.

    With a query, the longest value is replaced (``Documento?doc=X.pdf`` ->
    ``Documento?doc=<random>.pdf``): sites serving documents by parameter answer
    missing ones there. Otherwise the last path segment is.
    """
    parts = urlsplit(url)
    if is_root(url):
        return None
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if pairs:
            index = max(range(len(pairs)), key=lambda i: len(pairs[i][1]))
            key, value = pairs[index]
            pairs[index] = (key, _random_name(unquote(value)))
            return urlunsplit(parts._replace(query=urlencode(pairs), fragment=""))
    trailing = parts.path.endswith("/")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        return None
    segments[-1] = _random_name(unquote(segments[-1]))
    path = "/" + "/".join(segments) + ("/" if trailing else "")
    return urlunsplit(parts._replace(path=path, query="", fragment=""))


def probe_key(url: str) -> str:
    """Probes are shared by URLs of one shape: host, directory and query keys."""
    parts = urlsplit(url)
    keys = ",".join(sorted(k for k, _ in parse_qsl(parts.query, keep_blank_values=True)))
    if keys:
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{keys}"
    directory = parts.path.rstrip("/").rsplit("/", 1)[0]
    trailing = "/" if parts.path.endswith("/") else ""
    suffix = extension(unquote(parts.path.rstrip("/"))).lower()
    return f"{parts.scheme}://{parts.netloc}{directory}/*{suffix}{trailing}"


def cited_document(url: str) -> bool:
    parts = urlsplit(url)
    candidates = [parts.path] + [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    return any(PurePosixPath(unquote(c)).suffix.lower() in _DOCUMENT_EXTENSIONS for c in candidates)


def _without_names(text: str, *urls: str) -> str:
    """Error pages often echo the requested name; remove every URL's distinctive parts."""
    for url in urls:
        parts = urlsplit(url)
        for piece in [unquote(s) for s in parts.path.split("/") if s] + [v for _, v in parse_qsl(parts.query)]:
            if len(piece) >= 3:
                text = text.replace(piece, " ").replace(PurePosixPath(piece).stem, " ")
    return text


def signals(
    cited_url: str,
    chain: list[tuple[str, int]],
    content_type: str | None,
    previous_content_type: str | None,
    page: Meaning | None,
    probe: ProbeAnswer | None,
    when: datetime | None = None,
    *,
    rendered: bool = False,
) -> list[str]:
    """Names of the soft-404 signals that fire for a 2xx final answer; ``rendered``: ``page``
    is that of the rendered DOM."""
    fired: list[str] = []
    final_url = chain[-1][0] if chain else cited_url
    redirected = len(chain) > 1
    if redirected and not is_root(cited_url):
        if is_root(final_url):
            fired.append("redirect_to_home")
        elif _ERROR_WORDS.search(urlsplit(final_url).path + "?" + urlsplit(final_url).query):
            fired.append("redirect_to_error")
    html = is_html(content_type, b"")
    if html and (cited_document(cited_url) or is_document(previous_content_type)):
        fired.append("document_became_html")
    if page is not None and page.kind == "html":
        labels = _plain(" | ".join((page.title, *page.headings)))
        if _NOT_FOUND.search(labels):
            fired.append("error_title")
        if _MAINTENANCE.search(labels):
            fired.append("maintenance")
    if probe is not None and probe.status is not None and 200 <= probe.status < 300 and not is_root(cited_url):
        if probe.final_url == final_url:
            fired.append("probe_same_url")
        elif page is not None and probe.meaning is not None and page.kind == probe.meaning.kind and probe.rendered == rendered:
            if page.kind == "bytes":
                alike = page.fingerprint == probe.meaning.fingerprint
            else:
                own = _without_names(page.text, cited_url, final_url)
                other = _without_names(probe.meaning.text, probe.url, probe.final_url or probe.url)
                alike = bool(own.strip()) and similarity(own, other, when) >= PROBE_SIMILARITY
            if alike:
                fired.append("probe_query_similar" if urlsplit(probe.url).query else "probe_similar")
    return fired
