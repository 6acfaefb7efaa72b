"""The ``metadata`` record written beside each capture: why it was captured and what it showed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from crawler import __version__
from crawler.crawl.tlsinfo import Certificate
from crawler.warc.records import WarcRecord, warcinfo_block

CAPTURE_URI_PREFIX = "urn:evidence:capture:"


def metadata_record(
    *,
    cited_url: str,
    date: datetime,
    run_id: int,
    cited_by: list[tuple[str, str, str]],
    verdict: tuple[str, str, str | None, list[str]],
    http_status: int | None,
    final_url: str | None,
    error: str | None,
    concurrent_to: str | None,
    certificate: Certificate | None = None,
    render: tuple[str, str | None] | None = None,
    refused: Sequence[tuple[str, str]] = (),
) -> WarcRecord:
    """A record of ``application/warc-fields``.

    ``render`` is a rendered capture's outcome and error kind; ``refused`` the requests its
    page made that evidence did not (URL, reason: ``private_address``, ``scheme``...).

    Its target URI is its own (``urn:evidence:capture:RUN:URL``), not the page's: replay
    tools index records by target URI, and one that shares the page's URI can be served
    in place of the page.
    """
    state, reason, change, signals = verdict
    fields: list[tuple[str, str]] = [("software", f"evidence/{__version__}"), ("run", str(run_id)), ("cited-url", cited_url)]
    for name, title, footnote in cited_by:
        fields.append(("cited-by", f"{name} | footnote {footnote} | {title}"))
    fields += [("state", state), ("reason", reason)]
    if change:
        fields.append(("change", change))
    if signals:
        fields.append(("signals", ", ".join(signals)))
    if http_status is not None:
        fields.append(("http-status", str(http_status)))
    if final_url and final_url != cited_url:
        fields.append(("final-url", final_url))
    if error:
        fields.append(("error", error))
    if render is not None:
        outcome, error_kind = render
        fields.append(("render", f"{outcome} ({error_kind})" if error_kind else outcome))
    for url, reason in refused:
        fields.append(("browser-refused", f"{reason} {url}"))
    if certificate is not None:
        fields += [
            ("tls-certificate-sha256", certificate.sha256),
            ("tls-subject", certificate.subject),
            ("tls-issuer", certificate.issuer),
            ("tls-not-after", certificate.not_after),
            ("tls-problems", ", ".join(certificate.problems) or "none"),
            # The PEM on one field line: its base64 lines joined by spaces.
            ("tls-certificate", " ".join(certificate.pem.split())),
        ]
    return _fields_record(f"{CAPTURE_URI_PREFIX}{run_id}:{cited_url}", date, fields, concurrent_to)


def _fields_record(target_uri: str, date: datetime, fields: list[tuple[str, str]], concurrent_to: str | None) -> WarcRecord:
    """A ``metadata`` record of ``application/warc-fields``, linked to the response it
    speaks of when there is one."""
    extra = [("WARC-Concurrent-To", concurrent_to), ("WARC-Refers-To", concurrent_to)] if concurrent_to else []
    return WarcRecord(
        record_type="metadata",
        target_uri=target_uri,
        date=date,
        content_type="application/warc-fields",
        block=warcinfo_block(fields),
        extra_headers=extra,
    )


MEMENTO_URI_PREFIX = "urn:evidence:memento:"


def memento_record(
    *,
    cited_url: str,
    cited_at: str,
    date: datetime,
    run_id: int,
    archive: str,
    memento_url: str,
    raw_url: str,
    memento_datetime: datetime,
    original_url: str,
    signals: list[str],
    skipped: int,
    concurrent_to: str | None,
) -> WarcRecord:
    """The ``metadata`` record beside a memento fetched from a web archive: which cited URL
    and date it stands for, and where and when the archive captured it.

    Its target URI is its own (``urn:evidence:memento:URL``), never the page's or the
    archive's: a replay tool would serve a record with the page's URI in place of the page.
    """
    fields: list[tuple[str, str]] = [
        ("software", f"evidence/{__version__}"), ("run", str(run_id)), ("cited-url", cited_url), ("cited-at", cited_at),
        ("original-url", original_url), ("memento-url", memento_url), ("memento-raw-url", raw_url),
        ("memento-datetime", format_datetime(memento_datetime.astimezone(UTC), usegmt=True)), ("archive", archive),
    ]
    if signals:
        fields.append(("signals", ", ".join(signals)))
    if skipped:
        fields.append(("skipped-mementos", str(skipped)))
    return _fields_record(f"{MEMENTO_URI_PREFIX}{cited_url}", date, fields, concurrent_to)
