"""Domain errors. Library code raises these; only ``cli.py`` turns them into messages
and exit codes, so every message names the thing that failed and how to fix it."""

from __future__ import annotations

from typing import Any


class EvidenceError(Exception):
    """Base class for every error this package raises on purpose."""


class DocumentError(EvidenceError):
    """A document could not be read or holds no usable text."""


class DatabaseError(EvidenceError):
    """The evidence database is missing, locked, unreadable or of an unknown schema."""


class ArchiveError(EvidenceError):
    """A WARC file is missing, unreadable or does not hold the record the database names."""


class NotFound(EvidenceError):
    """The URL, capture or document asked for is not in the database."""


class DatabaseMissing(DatabaseError):
    """No database where one was named, for a command that only reads."""


class RunLocked(DatabaseError):
    """Another crawl holds this database's run lock: two crawls never write one database."""


class NotifyError(EvidenceError):
    """A notification (webhook or e-mail) could not be delivered; the run itself is kept."""


class ReportError(EvidenceError):
    """A report or an annotated document could not be written."""


class RunFailed(EvidenceError):
    """A crawl had to stop: what it recorded before stopping is kept and consistent."""


class FrontierError(EvidenceError):
    """The shared frontier (Redis) cannot be reached or does not hold the run asked for."""


class ScrapyIncompatible(EvidenceError):
    """The installed Scrapy no longer has a private name evidence relies on
    (crawler/crawl/compat.py): an upgrade that needs the compatibility layer revised."""


class MementoError(EvidenceError):
    """A web archive was named in a form the Memento lookups cannot use."""


class SettingError(EvidenceError):
    """A setting, or a combination of settings, that cannot be used: refused before a
    database or archive is touched. ``override`` is the ``NAME=VALUE`` item at fault when
    the value was given as one (the CLI's ``-s``), so the message can point at it."""

    def __init__(self, message: str, *, override: str | None = None) -> None:
        super().__init__(message)
        self.override = override


class BrowserMissing(EvidenceError):
    """``--browser always`` on a machine without the browser (or Playwright) to render with:
    an input error, said in one line naming what to install."""


class NoCitations(DocumentError):
    """A document that cites no http(s) URL: almost always the wrong file. ``problems``
    are the candidate URLs skipped in it, which say why."""

    def __init__(self, source: str, problems: list[Any]) -> None:
        skipped = f" ({len(problems)} skipped, listed above)" if problems else ""
        super().__init__(f"{source} cites no http or https URL{skipped}; check that it is the right document")
        self.source = source
        self.problems = problems


class ClaimError(EvidenceError):
    """A pinned passage cannot be looked for: it holds no word or number to find."""


class TimestampError(EvidenceError):
    """No time-stamping authority gave a good token, or a token does not prove what it should."""


class SigningError(EvidenceError):
    """A signing key that cannot be created, read or trusted (wrong permissions, wrong kind)."""
