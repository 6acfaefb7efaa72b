"""The embedded default document: the seed report's citations, shipped as package data.

The project must work without the original text at run time, so the citation list was
extracted once from the seed report, checked by hand and committed as ``data/seed.json``.
"""

from __future__ import annotations

import json
from importlib.resources import files

from crawler.citations.model import Citation, Document

SEED_SOURCE = "embedded:seed"


def load_seed() -> Document:
    """The seed report as a ``Document`` with its 18 citations (no problems)."""
    resource = files("crawler.citations") / "data" / "seed.json"
    data = json.loads(resource.read_text(encoding="utf-8"))
    citations = [
        Citation(footnote=str(c["footnote"]), url=c["url"], context=c["context"], line=int(c["line"]))
        for c in data["citations"]
    ]
    return Document(
        title=data["title"],
        date=data.get("date", ""),
        source=data.get("source", SEED_SOURCE),
        citations=citations,
        problems=[],
    )
