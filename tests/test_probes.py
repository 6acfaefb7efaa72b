"""The soft-404 probe's cost: one probe per URL shape and host, whatever dots a page's name has."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from crawler.verdicts.soft404 import probe_key, probe_url

# Names whose last dot starts no extension: an address, a version, a date.
DOTTED = ["127.0.0.2-8", "v1.2-final", "informe.2017.final", "10.0.0.1-3"]
EXTENSIONS = {"report.pdf": ".pdf", "page.aspx": ".aspx", "x.html": ".html", "datos.xlsx": ".xlsx", "NOTA.PDF": ".PDF"}


@pytest.mark.parametrize("name", DOTTED)
def test_dots_in_a_name_make_no_extension(name: str) -> None:
    url = f"http://127.0.0.1/publicaciones/{name}"
    probe = urlsplit(probe_url(url) or "").path.rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-z]{25}", probe), probe
    # Every such name of a folder is one shape: one probe for all of them.
    assert probe_key(url) == "http://127.0.0.1/publicaciones/*"


@pytest.mark.parametrize(("name", "suffix"), EXTENSIONS.items())
def test_a_short_alphanumeric_suffix_is_an_extension(name: str, suffix: str) -> None:
    url = f"http://127.0.0.1/publicaciones/{name}"
    probe = urlsplit(probe_url(url) or "").path.rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-z]{25}" + re.escape(suffix), probe), probe
    assert probe_key(url) == f"http://127.0.0.1/publicaciones/*{suffix.lower()}"
