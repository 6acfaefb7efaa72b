"""The verdict on one capture, given what it answered and what the target's history says.

States: ``ok`` (present; its text unchanged since the last good capture, or first capture),
``changed`` (the text, or for non-text payloads the bytes, differs from the last good
capture), ``moved`` (redirected to another, existing page that is not the home page),
``gone`` (404, 410, a soft 404, or a failure persisting over ``gone_after`` runs), and
``unreachable`` (no usable answer this time: DNS, refused, timeout, TLS, 5xx after
retries, access refused, maintenance page, a body that is not whole).

A capture that is not whole is never judged on its partial content: whatever cut it
(``EVIDENCE_DOWNLOAD_DEADLINE``, the length cap, the server closing or resetting early,
broken chunked framing, a content coding that stops short) it is ``unreachable`` with
the reason ``truncated_<cut>`` (``truncated_time``, ``truncated_length``,
``truncated_disconnect``, ``truncated_encoding``). Its bytes are archived; the last
whole capture stays the citation's evidence. A truncation never turns into ``gone``:
the server did answer with the page, only not all of it.

A present page after a ``gone`` one is reported with reason ``restored``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

GONE_STATUSES = {404: "http_404", 410: "http_410"}
# Access refusals are answers about us, not about the evidence: never a removal.
BLOCKED_STATUSES = {401, 402, 403, 407, 412, 428, 429, 451}
TRUNCATED_REASONS = {"truncated_time", "truncated_length", "truncated_disconnect", "truncated_encoding"}
NOT_TRANSIENT = {"blocked", "robots", "redirect_refused", "scheme", "private_address", *TRUNCATED_REASONS}
NEWS_STATES = {"changed", "moved", "gone"}
# States in which the cited URL answered with a page.
PRESENT_STATES = {"ok", "changed", "moved"}
SOFT_404_SIGNALS = {
    "redirect_to_home", "redirect_to_error", "probe_same_url", "probe_similar", "document_became_html", "error_title",
}


@dataclass(frozen=True)
class Facts:
    cited_url: str
    http_status: int | None
    final_url: str | None
    truncated: str | None
    error_kind: str | None
    redirected: bool
    payload_digest: str | None = None
    fingerprint: str | None = None
    signals: tuple[str, ...] = ()
    #: the fingerprint of the text outside the page's main content
    boilerplate: str | None = None


@dataclass(frozen=True)
class History:
    """What earlier runs recorded for the target."""

    #: the last capture that archived the page as present (ok or changed)
    last_good_fingerprint: str | None = None
    last_good_payload_digest: str | None = None
    last_good_boilerplate: str | None = None
    #: states and reasons of the most recent captures, newest first
    recent: list[tuple[str, str]] = field(default_factory=list)

    @property
    def previous_state(self) -> str | None:
        return self.recent[0][0] if self.recent else None


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str
    #: for ok/changed: ``None`` (same bytes), ``bytes`` (bytes differ, text the same),
    #: ``boilerplate`` (only the text outside the main content differs), ``text``
    change: str | None = None


def judge(facts: Facts, history: History, *, gone_after: int = 3) -> Verdict:
    failure = _failure(facts)
    if failure is not None:
        return _persisting(failure, history, gone_after)
    status = facts.http_status or 0
    soft = [s for s in facts.signals if s in SOFT_404_SIGNALS]
    if soft:
        return Verdict("gone", "soft_404")
    if "maintenance" in facts.signals:
        return _persisting(Verdict("unreachable", "maintenance"), history, gone_after)
    if facts.redirected and facts.final_url and not same_page(facts.cited_url, facts.final_url):
        return Verdict("moved", "redirect")
    assert 200 <= status < 300
    restored = history.previous_state == "gone"
    if history.last_good_fingerprint is None:
        return Verdict("ok", "restored" if restored else "first_capture")
    if history.last_good_fingerprint != facts.fingerprint:
        kind = "bytes" if (facts.fingerprint or "").startswith("bytes:") else "text"
        return Verdict("changed", "restored" if restored else kind, kind)
    change = None
    if facts.payload_digest != history.last_good_payload_digest:
        # Recorded, not news: the evidence text is the same; only what surrounds it (or
        # the bytes) changed.
        outside = facts.boilerplate is not None and history.last_good_boilerplate is not None
        change = "boilerplate" if outside and facts.boilerplate != history.last_good_boilerplate else "bytes"
    return Verdict("ok", "restored" if restored else "unchanged", change)


def _failure(facts: Facts) -> Verdict | None:
    """The verdict for an answer that does not show the page, or None if it does."""
    if facts.error_kind is not None:
        return Verdict("unreachable", facts.error_kind)
    status = facts.http_status or 0
    if facts.truncated:
        return Verdict("unreachable", f"truncated_{facts.truncated}")
    if status in GONE_STATUSES:
        return Verdict("gone", GONE_STATUSES[status])
    if status in BLOCKED_STATUSES:
        return Verdict("unreachable", "blocked")
    if status >= 500:
        return Verdict("unreachable", f"http_{status}")
    if 300 <= status < 400:
        # A redirect that was not followed: no Location, or one to a refused scheme.
        return Verdict("unreachable", "redirect_refused")
    if status >= 400:
        # Other client errors (400, 405...) may be about the request: transient until they persist.
        return Verdict("unreachable", f"http_{status}")
    if status < 200:
        return Verdict("unreachable", f"http_{status}")
    return None


def _persisting(verdict: Verdict, history: History, gone_after: int) -> Verdict:
    """A transient failure becomes ``gone`` once it has lasted ``gone_after`` runs in a row."""
    if verdict.state != "unreachable" or verdict.reason in NOT_TRANSIENT:
        return verdict
    earlier = history.recent[: max(gone_after - 1, 0)]
    if len(earlier) < gone_after - 1:
        return verdict
    if all(_transient(state, reason) for state, reason in earlier):
        return Verdict("gone", f"persistent_{verdict.reason}")
    return verdict


def _transient(state: str, reason: str) -> bool:
    return (state == "unreachable" and reason not in NOT_TRANSIENT) or reason.startswith("persistent_")


def same_page(cited: str, final: str) -> bool:
    """True when a redirect only normalised the address (scheme upgrade, ``www.``, slash)."""
    return _page_key(urlsplit(cited)) == _page_key(urlsplit(final))


def _page_key(parts: SplitResult) -> tuple[str, str, str]:
    host = (parts.hostname or "").lower().removeprefix("www.")
    return host, parts.path.rstrip("/") or "/", parts.query


def is_news(state: str, reason: str, previous_state: str | None) -> bool:
    """Worth a non-zero exit: a change, a new move or loss, or evidence that came back."""
    return news_kind(state, reason, previous_state) not in (None, "unreachable")


def news_kind(state: str, reason: str, previous_state: str | None) -> str | None:
    """What a capture tells a reader since the previous run: ``changed``, ``moved``, ``gone``,
    ``restored``, ``unreachable`` (newly: it answered last run), or None for nothing new.

    Newly unreachable is reported but is not evidence news (no exit 1): one bad night is
    not a loss, and a failure that lasts becomes ``gone`` after ``gone_after`` runs.
    """
    if reason == "restored":
        return "restored"
    if state == "changed":
        return "changed"
    if state in NEWS_STATES and state != previous_state:
        return state
    if state == "unreachable" and previous_state in PRESENT_STATES:
        return "unreachable"
    return None
