"""Recording a document's citations in the database (``evidence import``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.citations import SEED_SOURCE, load_seed, normalize_url, read_document
from crawler.citations.model import Document as ParsedDocument
from crawler.citations.model import Problem
from crawler.models import Citation, Document, Target


@dataclass(frozen=True)
class Imported:
    """What importing one document did."""

    name: str
    title: str
    citations: int
    footnotes: int
    urls: list[str]
    problems: list[Problem]


def document_key(source: str) -> str:
    """Database name of a document: its absolute path, or the embedded source label."""
    if source.startswith("embedded:"):
        return source
    return str(Path(source).expanduser().resolve())


def import_path(sessions: sessionmaker[Session], path: str) -> Imported:
    """Read ``path`` and record its citations, replacing those of an earlier import."""
    return record_file(sessions, read_document(path))


def record_file(sessions: sessionmaker[Session], parsed: ParsedDocument) -> Imported:
    """Record a document already read from the file ``parsed.source``."""
    digest = hashlib.sha256(Path(parsed.source).read_bytes()).hexdigest()
    return record_document(sessions, parsed, document_key(parsed.source), digest)


def import_seed(sessions: sessionmaker[Session]) -> Imported:
    parsed = load_seed()
    digest = hashlib.sha256(json.dumps([c.url for c in parsed.citations]).encode()).hexdigest()
    return record_document(sessions, parsed, SEED_SOURCE, digest)


def record_document(sessions: sessionmaker[Session], parsed: ParsedDocument, name: str, digest: str) -> Imported:
    with sessions() as session, session.begin():
        document = session.scalar(select(Document).where(Document.name == name))
        if document is None:
            document = Document(name=name)
            session.add(document)
        document.title = parsed.title
        document.date = parsed.date
        document.sha256 = digest
        # Citations are re-derived from the document each import; targets, and the
        # captures hanging off them, are kept, so history survives a re-import.
        document.citations.clear()
        session.flush()
        known, by_url = _known_targets(session)
        used: dict[str, Target] = {}
        for position, cited in enumerate(parsed.citations):
            target = _target(session, known, by_url, cited.url, cited.normalized)
            used.setdefault(target.url, target)
            document.citations.append(
                Citation(
                    position=position,
                    footnote=cited.footnote,
                    url_as_written=cited.url,
                    normalized_url=cited.normalized,
                    context=cited.context,
                    line=cited.line,
                    page=cited.page,
                    target=target,
                )
            )
    return Imported(
        name=name,
        title=parsed.title,
        citations=len(parsed.citations),
        footnotes=len({c.footnote for c in parsed.citations}),
        urls=list(used),
        problems=list(parsed.problems),
    )


def _known_targets(session: Session) -> tuple[dict[str, Target], dict[str, Target]]:
    """Every target by its normalized URL (the first recorded spelling wins), and by URL."""
    known: dict[str, Target] = {}
    by_url: dict[str, Target] = {}
    for target in session.scalars(select(Target).order_by(Target.id)):
        known.setdefault(normalize_url(target.url), target)
        by_url[target.url] = target
    return known, by_url


def _target(session: Session, known: dict[str, Target], by_url: dict[str, Target], url: str, normalized: str) -> Target:
    """The target of a cited URL: one per normalized address, so "HTTP://Example.org" and
    "http://example.org/#top" share the capture history of "http://example.org/". The
    crawler fetches the target's URL, the first spelling recorded, exactly as written."""
    target = known.get(normalized) or by_url.get(url)
    if target is None:
        # Inserted with the citations at the end of the transaction: one flush per
        # document, not one per new URL.
        target = Target(url=url)
        session.add(target)
        by_url[url] = target
    known.setdefault(normalized, target)
    return target


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
