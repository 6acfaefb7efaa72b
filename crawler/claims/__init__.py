"""Claims: whether a cited page still holds the passage a citation relies on.

A footnote rarely relies on a whole page, but on a figure, a sentence or a commitment in it
("26 compromisos", "100 medidores instalados"). A researcher pins such passages; each capture
of the page is then searched for them:

- ``words.py`` turns a text into comparable words that keep their place in the original
  (case, accents, line-end hyphenation, quotes and dashes, thousands separators fall away);
- ``match.py`` finds a pinned passage in a page's text: ``holds``, ``partial`` (with a
  score and what differs) or ``lost`` (with the nearest passage left on the page);
- ``quotes.py`` proposes pins from a document: the passages its notes put in quotation marks.

These three are pure: no database, no network, no files. Around them:

- ``check.py`` checks pins against a capture's text (the fingerprint's extraction) or any text;
- ``store.py`` keeps pins and their results in the database (``evidence pin``, ``pins``,
  ``unpin``, ``import --pin-quotes``) and reads them back for news, ``status``, ``history``
  and the report.
"""

from __future__ import annotations

from crawler.claims.match import Difference, Match, Page, Span, find
from crawler.claims.quotes import quotes

__all__ = ["Difference", "Match", "Page", "Span", "find", "quotes"]
