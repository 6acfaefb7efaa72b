"""First, deliberately simple verdict rules.

States: ``ok`` (present; unchanged since the previous capture, or first capture),
``changed`` (the archived payload differs from the previous capture), ``moved``
(redirected to another page), ``gone`` (404/410), ``unreachable`` (no usable answer:
DNS, refused, timeout, TLS, 5xx or access refusals after retries, a cut body).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

GONE_STATUSES = {404: "http_404", 410: "http_410"}
BLOCKED_STATUSES = {401, 403, 407, 429, 451}
NEWS_STATES = {"changed", "moved", "gone"}


@dataclass(frozen=True)
class Facts:
    cited_url: str
    http_status: int | None
    final_url: str | None
    payload_digest: str | None
    truncated: str | None
    error_kind: str | None
    redirected: bool


@dataclass(frozen=True)
class Previous:
    state: str
    payload_digest: str | None
    final_url: str | None


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str


def judge(facts: Facts, previous: Previous | None) -> Verdict:
    if facts.error_kind is not None:
        return Verdict("unreachable", facts.error_kind)
    status = facts.http_status or 0
    if facts.truncated == "disconnect":
        return Verdict("unreachable", "truncated")
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
        return Verdict("unreachable", f"http_{status}")
    if facts.redirected and facts.final_url and not same_page(facts.cited_url, facts.final_url):
        return Verdict("moved", "redirect")
    if previous is None or previous.payload_digest is None:
        return Verdict("ok", "first_capture")
    if previous.payload_digest != facts.payload_digest:
        return Verdict("changed", "content")
    return Verdict("ok", "unchanged")


def same_page(cited: str, final: str) -> bool:
    """True when a redirect only normalised the address (scheme upgrade, ``www.``, slash)."""
    return _page_key(urlsplit(cited)) == _page_key(urlsplit(final))


def _page_key(parts: SplitResult) -> tuple[str, str, str]:
    host = (parts.hostname or "").lower().removeprefix("www.")
    return host, parts.path.rstrip("/") or "/", parts.query


def is_news(state: str, previous_state: str | None) -> bool:
    """Whether a verdict is worth a non-zero exit: a change, or a new move or loss."""
    if state == "changed":
        return True
    return state in NEWS_STATES and state != previous_state
