"""The WARC ``resource`` records of a rendered page: what the browser showed.

Three per rendered capture, each ``WARC-Concurrent-To`` the page's response record (the
Browsertrix convention for the first): ``urn:screenshot:<url>`` (the full-page PNG),
``urn:dom:<url>`` (the rendered DOM, what the fingerprint is made from) and
``urn:text:<url>`` (the visible text). A capped page's records say so
(``WARC-Evidence-Render: capped``): the picture is of a page still loading.
"""

from __future__ import annotations

from datetime import datetime

from crawler.browser.model import Rendered
from crawler.warc.records import WarcRecord

SCREENSHOT_PREFIX = "urn:screenshot:"
DOM_PREFIX = "urn:dom:"
TEXT_PREFIX = "urn:text:"
DOM_CONTENT_TYPE = "text/html; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


def rendered_records(url: str, rendered: Rendered, date: datetime, concurrent_to: str | None) -> list[WarcRecord]:
    """The records of a rendered page (none for a failed render), screenshot first, then DOM, then text."""
    if not rendered.ok:
        return []
    extra = [("WARC-Concurrent-To", concurrent_to)] if concurrent_to else []
    extra.append(("WARC-Evidence-Render", rendered.outcome))
    parts: list[tuple[str, str, bytes]] = []
    if rendered.screenshot:
        parts.append((SCREENSHOT_PREFIX, "image/png", rendered.screenshot))
    parts.append((DOM_PREFIX, DOM_CONTENT_TYPE, rendered.dom))
    parts.append((TEXT_PREFIX, TEXT_CONTENT_TYPE, rendered.text.encode("utf-8")))
    return [
        WarcRecord(
            record_type="resource", target_uri=f"{prefix}{url}", date=date, content_type=content_type,
            block=block, payload_offset=0, extra_headers=list(extra),
        )
        for prefix, content_type, block in parts
    ]
