"""URL normalization and the rules that put a PDF's cut URLs back together: pure functions."""

from __future__ import annotations

import pytest

from crawler.citations import Citation, normalize_url
from crawler.citations.pdflines import Line, Part, rejoin


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.ORG", "http://www.example.org/"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://example.org/a#section-2", "https://example.org/a"),
        ("https://example.org/a%2fb?q=%c3%a9&x=%2F", "https://example.org/a%2Fb?q=%C3%A9&x=%2F"),
        # Path and query are kept byte for byte: no decoding, no re-encoding, no reordering.
        ("https://example.org/A/./b/../%7Euser?b=2&a=1", "https://example.org/A/./b/../%7Euser?b=2&a=1"),
        ("https://example.org/café", "https://example.org/café"),
        ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://münchen.de", "https://xn--mnchen-3ya.de/"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("http://user:Pass@Example.org/", "http://user:Pass@example.org/"),
        ("https://example.org?x=1", "https://example.org/?x=1"),
        ("https://example.org/a?", "https://example.org/a?"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", ["http://host.org:99999/", "not a url", "mailto:x@example.org"])
def test_normalize_leaves_what_it_cannot_parse(url: str) -> None:
    assert normalize_url(url) == url


def test_citation_computes_its_normalized_url() -> None:
    citation = Citation(footnote="1", url="HTTPS://Example.org/a#b", context="", line=1)
    assert citation.normalized == "https://example.org/a"
    assert citation.page is None and citation.visible == ""
    assert citation == Citation("1", "HTTPS://Example.org/a#b", "", 1)


def lines(*texts: str, page: int = 1) -> list[Line]:
    return [Line(text, [Part(page, 72.0, 700.0 - 12 * index, 8.0, 0)]) for index, text in enumerate(texts)]


def joined(*texts: str, targets: frozenset[str] = frozenset()) -> list[str]:
    return [line.text for line in rejoin([lines(*texts)], lambda _page: targets)]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        # Inside angle brackets a URL goes on until ">".
        (("1 See <https://a.org/x?doc=1.%20Nota%20T", "%C3%A9cnica.pdf>, and more"),
         ["1 See <https://a.org/x?doc=1.%20Nota%20T%C3%A9cnica.pdf>, and more"]),
        (("1 See <https://a.org/one/", "two/", "three>"), ["1 See <https://a.org/one/two/three>"]),
        # Cut after "-", "=", "." or "%" and followed by more URL: joined, the hyphen kept.
        (("1 https://a.org/mexico-first-", "national-plan"), ["1 https://a.org/mexico-first-national-plan"]),
        (("1 https://a.org/p?x=", "1&y=2"), ["1 https://a.org/p?x=1&y=2"]),
        (("1 https://www.example.", "org/docs/"), ["1 https://www.example.org/docs/"]),
        (("1 https://a.org/report-2012-", "13", "More text."), ["1 https://a.org/report-2012-13", "More text."]),
        # A cut at a letter: only a rest that is plainly a URL's is taken.
        (("1 https://a.org/Nota%20Instancia%20", "tripartita%20Salud.pdf"), ["1 https://a.org/Nota%20Instancia%20tripartita%20Salud.pdf"]),
        (("1 https://a.org/aga/Home/Docu", "mento?doc=Guion.pdf"), ["1 https://a.org/aga/Home/Documento?doc=Guion.pdf"]),
    ],
)
def test_cut_urls_are_rejoined(texts: tuple[str, ...], expected: list[str]) -> None:
    assert joined(*texts) == expected


@pytest.mark.parametrize(
    "texts",
    [
        ("Read https://a.org/some-", "thing else, he said."),
        ("Read https://a.org/page.", "Next sentence starts."),
        ("Read https://a.org/page.", "2019 was the year."),
        ("1 Available at: https://a.org/lobuenocuenta/", "out at this stage of the process."),
        ("1 Available at: https://a.org/x-", "2 Available at: https://b.org/"),
        ("1 Available at: https://a.org/x-", "¹⁵ Available at: https://b.org/"),
        ("1 Available at: https://a.org/", "https://b.org/"),
        ("1 Available at: <https://a.org/x>", "y/z"),
        ("1 https://a.org/report2012", "13", "More text."),
        # At the foot of the last page a lone number is a page number.
        ("1 https://a.org/report-2012-", "13"),
        ("1 https://a.org/plan.p", "df"),
        ("see (https://a.org/x)", "y=1"),
    ],
)
def test_complete_urls_and_prose_are_left_alone(texts: tuple[str, ...]) -> None:
    assert joined(*texts) == list(texts)


def test_annotation_targets_decide_where_a_url_ends() -> None:
    assert joined("1 https://a.org/plan.p", "df", targets=frozenset({"https://a.org/plan.pdf"})) == ["1 https://a.org/plan.pdf"]
    assert joined("1 https://a.org/long-", "report", targets=frozenset({"https://a.org/longreport"})) == [
        "1 https://a.org/long-report"
    ]
    assert joined("1 https://a.org/x/", "y/z", targets=frozenset({"https://a.org/x/"})) == ["1 https://a.org/x/", "y/z"]


def test_a_url_cut_at_the_foot_of_a_page_goes_on_on_the_next_page() -> None:
    first = lines("9 Available at: https://sisi.", "12", page=1)
    second = lines("13", "sedesol.gob.mx/", "Body text.", page=2)
    out = rejoin([first, second], lambda _page: ())
    assert [line.text for line in out] == ["9 Available at: https://sisi.sedesol.gob.mx/", "12", "\f", "13", "Body text."]
    assert [part.page for part in out[0].parts] == [1, 2]
    assert out[0].part_at(len("9 Available at: https://sisi.")).page == 2
