"""Recording a document's citations in the database (``evidence import``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.citations import SEED_SOURCE, load_seed, normalize_url, read_document
from crawler.citations.model import Document as ParsedDocument
from crawler.citations.model import cited_at
from crawler.citations.model import Problem
from crawler.exceptions import NoCitations
from crawler.store.models import Citation, Document, Target


_TARGETS = Target.metadata.tables[Target.__tablename__]
_CITATIONS = Citation.metadata.tables[Citation.__tablename__]


@dataclass(frozen=True)
class Imported:
    """What importing one document did."""

    name: str
    title: str
    citations: int
    footnotes: int
    urls: list[str]
    problems: list[Problem]
    #: per citation, in order: when it was cited and what says so (see ``cited_at``)
    cited: list[tuple[date | None, str | None]]


def document_key(source: str) -> str:
    """Database name of a document: its absolute path, or the embedded source label."""
    if source.startswith("embedded:"):
        return source
    return str(Path(source).expanduser().resolve())


def require_citations(parsed: ParsedDocument) -> ParsedDocument:
    """``parsed``, if it cites an http(s) URL: a document citing none is almost always the
    wrong file, and recording it would only hide that (``NoCitations``)."""
    if not parsed.citations:
        raise NoCitations(parsed.source, parsed.problems)
    return parsed


def read_cited(path: str) -> ParsedDocument:
    """Read the document at ``path``, which must cite something (``require_citations``)."""
    return require_citations(read_document(path))


def import_path(sessions: sessionmaker[Session], path: str, given: date | None = None) -> Imported:
    """Read ``path`` and record its citations, replacing those of an earlier import."""
    return record_file(sessions, read_cited(path), given)


def record_file(sessions: sessionmaker[Session], parsed: ParsedDocument, given: date | None = None) -> Imported:
    """Record a document already read from the file ``parsed.source``; ``given`` is the
    day all its citations were made, when the person importing it knows it."""
    digest = hashlib.sha256(Path(parsed.source).read_bytes()).hexdigest()
    return record_document(sessions, parsed, document_key(parsed.source), digest, given)


def import_seed(sessions: sessionmaker[Session]) -> Imported:
    parsed = load_seed()
    digest = hashlib.sha256(json.dumps([c.url for c in parsed.citations]).encode()).hexdigest()
    return record_document(sessions, parsed, SEED_SOURCE, digest)


def record_document(
    sessions: sessionmaker[Session], parsed: ParsedDocument, name: str, digest: str, given: date | None = None
) -> Imported:
    with sessions() as session, session.begin():
        document = session.scalar(select(Document).where(Document.name == name))
        if document is None:
            document = Document(name=name)
            session.add(document)
        document.title = parsed.title
        document.date = parsed.date
        document.sha256 = digest
        session.flush()
        # Citations are re-derived from the document each import; targets, and the
        # captures hanging off them, are kept, so history survives a re-import. Plain
        # rows, not ORM objects: a list of 10,000 URLs took 195 MB as objects; and
        # inserted into the tables, not the entities, which skips the ORM's bulk path
        # (0.15 to 0.11 s for 10,000 citations).
        session.execute(delete(Citation).where(Citation.document_id == document.id))
        known, by_url = _known_targets(session)
        chosen: list[str] = []
        new: list[str] = []
        for cited in parsed.citations:
            url = _target_url(known, by_url, cited.url, cited.normalized, new)
            chosen.append(url)
        if new:
            session.connection().execute(insert(_TARGETS), [{"url": url} for url in new])
            ids = _target_ids(session, new)
            for url in new:
                by_url[url] = ids[url]
        dates = [cited_at(cited, parsed.date, given) for cited in parsed.citations]
        rows = [
            {
                "document_id": document.id,
                "target_id": by_url[url],
                "position": position,
                "footnote": cited.footnote,
                "url_as_written": cited.url,
                "normalized_url": cited.normalized,
                "context": cited.context,
                "line": cited.line,
                "page": cited.page,
                "cited_at": day,
                "cited_at_source": source,
            }
            for position, (cited, url, (day, source)) in enumerate(zip(parsed.citations, chosen, dates, strict=True))
        ]
        if rows:
            session.connection().execute(insert(_CITATIONS), rows)
        session.expire(document, ["citations"])
    return Imported(
        name=name,
        title=parsed.title,
        citations=len(parsed.citations),
        footnotes=len({c.footnote for c in parsed.citations}),
        urls=list(dict.fromkeys(chosen)),
        problems=list(parsed.problems),
        cited=dates,
    )


def _known_targets(session: Session) -> tuple[dict[str, str], dict[str, int]]:
    """Every target's URL by its normalized URL (the first recorded spelling wins), and
    every target's id by its URL."""
    known: dict[str, str] = {}
    by_url: dict[str, int] = {}
    for target_id, url in session.execute(select(Target.id, Target.url).order_by(Target.id)):
        known.setdefault(normalize_url(url), url)
        by_url[url] = target_id
    return known, by_url


def _target_url(known: dict[str, str], by_url: dict[str, int], url: str, normalized: str, new: list[str]) -> str:
    """The target URL of a cited URL: one per normalized address, so "HTTP://Example.org" and
    "http://example.org/#top" share the capture history of "http://example.org/". The
    crawler fetches the target's URL, the first spelling recorded, exactly as written."""
    target = known.get(normalized) or (url if url in by_url else None)
    if target is None:
        target = url
        new.append(url)
        by_url[url] = 0  # its id is known once inserted
    known.setdefault(normalized, target)
    return target


def _target_ids(session: Session, urls: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for start in range(0, len(urls), 500):
        chunk = urls[start : start + 500]
        ids.update({url: target_id for target_id, url in session.execute(select(Target.id, Target.url).where(Target.url.in_(chunk)))})
    return ids


def has_documents(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return session.scalar(select(Document.id).limit(1)) is not None


def all_cited_urls(sessions: sessionmaker[Session]) -> list[str]:
    """Every distinct URL any recorded document cites, in first-cited order."""
    with sessions() as session:
        rows = session.execute(
            select(Target.url).join(Citation, Citation.target_id == Target.id).order_by(Citation.document_id, Citation.position)
        )
        return list(dict.fromkeys(url for (url,) in rows))
