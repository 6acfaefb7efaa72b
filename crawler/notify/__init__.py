"""Telling people about news: a webhook POST and an e-mail, sent only when a run has news.

A notifier that fails never costs the run: ``notify`` returns the failures for the
command line to report and count, and the run's verdicts are already committed.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crawler import __version__
from crawler.exceptions import NotifyError
from crawler.notify.email import SmtpSettings, send_mail
from crawler.notify.webhook import post_json
from crawler.runs.lifecycle import RunSummary
from crawler.store.db import display_name


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: dict[str, Any]


def build_message(summary: RunSummary, database: str) -> Message:
    """The same news for people (subject, text) and for machines (JSON payload)."""
    kinds: dict[str, int] = {}
    for item in summary.news:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    subject = f"evidence: news in run {summary.run_id} ({counts})"
    lines = [
        f"Run {summary.run_id} of evidence on {socket.gethostname()} checked {summary.targets} cited URLs "
        f"in {database} and found news since the previous run:",
        "",
    ]
    for item in summary.news:
        where = "; ".join(f"{document} note {footnote}" for document, footnote in item.cited_in)
        lines.append(f"  {item.kind:<11} {item.reason:<18} {item.url}")
        if where:
            lines.append(f"  {'':<11} cited in {where}")
        if item.memento_url:
            lines.append(f"  {'':<11} archived {item.memento_datetime}: {item.memento_url}")
    lines += [
        "",
        "`evidence status` and `evidence report` show the details; `evidence ack URL` marks a change as reviewed.",
    ]
    payload = {
        "software": f"evidence/{__version__}",
        "host": socket.gethostname(),
        "database": database,
        # the shape `evidence crawl --json` prints
        **summary.as_dict(),
    }
    return Message(subject, "\n".join(lines) + "\n", payload)


def notify(
    summary: RunSummary,
    database: str,
    *,
    webhooks: Sequence[str] = (),
    emails: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
) -> list[NotifyError]:
    """Send the run's news to every webhook and address; nothing when there is no news.

    Returns the deliveries that failed (with unusable settings, the one reason none was
    tried): a notification that was not sent never undoes a run."""
    if not summary.news or not (webhooks or emails):
        return []
    # A PostgreSQL URL may carry its password: a webhook or an inbox is no place for it.
    message = build_message(summary, display_name(database))
    try:
        smtp = SmtpSettings.resolve(settings or {})
    except NotifyError as exc:
        # A setting that cannot be used sends nothing: reported like a failed delivery,
        # since the run's results are recorded all the same.
        return [exc]
    failures: list[NotifyError] = []
    for url in webhooks:
        try:
            post_json(url, message.payload, timeout=smtp.timeout)
        except NotifyError as exc:
            failures.append(exc)
    for address in emails:
        try:
            send_mail(smtp, address, message.subject, message.text)
        except NotifyError as exc:
            failures.append(exc)
    return failures
