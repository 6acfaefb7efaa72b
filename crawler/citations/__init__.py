"""Documents in, citations out: the URLs a PDF, Word, HTML, Markdown or text file cites."""

from crawler.citations.model import INLINE, Citation, Document, Problem
from crawler.citations.normalize import normalize_url
from crawler.citations.reader import read_document
from crawler.citations.seed import SEED_SOURCE, load_seed
from crawler.citations.text import extract_citations, parse_document

__all__ = [
    "INLINE",
    "SEED_SOURCE",
    "Citation",
    "Document",
    "Problem",
    "extract_citations",
    "load_seed",
    "normalize_url",
    "parse_document",
    "read_document",
]
