"""Read a plain-text or Markdown document and extract the URLs it cites."""

from crawler.citations.model import INLINE, Citation, Document, Problem
from crawler.citations.seed import SEED_SOURCE, load_seed
from crawler.citations.text import extract_citations, parse_document, read_document

__all__ = [
    "INLINE",
    "SEED_SOURCE",
    "Citation",
    "Document",
    "Problem",
    "extract_citations",
    "load_seed",
    "parse_document",
    "read_document",
]
