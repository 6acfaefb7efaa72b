"""What rendering one page produced, handed from the spider to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crawler.warc.recorder import Hop

#: ``Rendered.outcome`` values, as ``captures.render`` records them.
RENDERED = "rendered"
#: rendered as the page stood at EVIDENCE_BROWSER_TIMEOUT: its network never went idle
CAPPED = "capped"
FAILED = "failed"


@dataclass
class Refused:
    """A request the page made that evidence did not fetch."""

    url: str
    #: ``private_address`` (the address guard), ``scheme`` (not http/https), ``limit``...
    reason: str


@dataclass
class Rendered:
    """One page rendered in the browser (a cited page, or the probe of a rendered one)."""

    #: the URL the browser was pointed at (the capture's final URL)
    url: str
    started: datetime
    #: ``rendered``, ``capped`` or ``failed``
    outcome: str
    #: the rendered DOM, serialized as HTML (UTF-8): what the fingerprint is made from
    dom: bytes = b""
    #: the visible text of the rendered page (``document.body.innerText``)
    text: str = ""
    #: full-page PNG
    screenshot: bytes | None = None
    #: the page's sub-resource exchanges, archived by the recorder like every other
    resources: list[Hop] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    #: for ``failed``: browser_missing, browser_crashed, render_failed, ...
    error_kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (RENDERED, CAPPED) and bool(self.dom)
