"""Reading the visible text of any page, however odd its markup, never fails the capture."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.verdicts.fingerprint import _html_text, meaning


TAGS = ["p", "div", "span", "a", "b", "li", "ul", "td", "tr", "table", "br", "h1", "h2", "nav", "script",
        "footer", "em", "section", "pre", "title", "body", "html", "head"]
ATTRIBUTES = ["", " role=navigation", " role=main", " hidden", ' aria-hidden="true"', ' aria-hidden="false"', " class=x"]
TEXTS = ["plan", "<nav>menu</nav>", "<script>menu</script>", " de ", "acción\n", "  ", "\t", "&nbsp;", "&amp;",
         "\ue000", "&#xe000;", "\x0c", "\x01", "2026-11-27", "<!-- nota -->", "<?php x ?>", "&lt;p&gt;", "\u00a0", "é", "\r\n"]


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 4 and draw(st.booleans()):
            tag = draw(st.sampled_from(TAGS))
            inner = draw(markup(depth + 1))
            closed = draw(st.booleans())
            parts.append(f"<{tag}{draw(st.sampled_from(ATTRIBUTES))}>{inner}" + (f"</{tag}>" if closed else ""))
        else:
            parts.append(draw(st.sampled_from(TEXTS)))
    return "".join(parts)


@settings(max_examples=600, deadline=None)
@given(markup(), st.sampled_from(["", "<!doctype html><html><head><title>T</title></head><body>", "<html><body>"]))
def test_any_markup_is_read_without_failing(fragment: str, prefix: str) -> None:
    text, rest, title, headings = _html_text((prefix + fragment).encode("utf-8"))
    assert isinstance(text, str) and isinstance(rest, str)


def test_a_control_character_after_a_dropped_element_no_longer_fails_the_capture() -> None:
    # lxml refused to join the form feed to the text before the <nav>: the capture failed.
    page = meaning(b"<html><body><p>uno</p><nav>menu</nav>\x0c<p>dos</p></body></html>", "text/html", None)
    assert page.kind == "html" and page.text == "uno\ndos"
