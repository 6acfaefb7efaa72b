"""Times as people give them (``--at``, ``--from``/``--to``, ``--since``) and as they are shown.

Times are stored and shown in UTC, to the second. A time given without a fraction of a
second therefore means the whole of that second, and a bare date the whole of that day:
"at or before 2026-11-27" includes what was captured at 18:00 on that day.
"""

from __future__ import annotations

from datetime import datetime, timezone

from crawler.exceptions import SettingError


def parse_time(value: str, *, upper: bool = True) -> datetime:
    """A naive UTC time from ISO 8601 (a ``Z`` or an offset is converted to UTC; no zone
    means UTC). ``upper`` reads a time without fraction (or a bare date) as the end of that
    second (day), for "at or before"; otherwise as its start, for "at or after"."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SettingError(f"{value!r} is not an ISO date or time such as 2026-11-27 or 2026-11-27T10:00Z") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    if not upper:
        return moment
    if len(value) == 10:
        moment = moment.replace(hour=23, minute=59, second=59)
    if "." not in value:
        moment = moment.replace(microsecond=999_999)
    return moment


def at_or_before(value: str | None) -> datetime | None:
    """The latest moment ``value`` names (None: no bound), for "the latest at or before"."""
    return None if value is None else parse_time(value, upper=True)


def at_or_after(value: str | None) -> datetime | None:
    """The earliest moment ``value`` names (None: no bound), for "at or after"."""
    return None if value is None else parse_time(value, upper=False)


def shown(moment: datetime) -> str:
    """A stored (naive UTC) time as every command shows it: ISO 8601 to the second, with Z."""
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"
