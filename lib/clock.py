"""The app's one idea of "today" and "now".

Every decision that depends on the date (which models are retired, the budget
month, quota meters, "this month" figures) reads it here, so a run can be
pinned to a day with ``STUDIO_TODAY=YYYY-MM-DD`` and tests can pin it with an
autouse fixture.  With a pinned day, ``now()`` keeps the wall clock's time of
day on that date, so ordering within a run still works.

Durations (latency, deadlines) are not dates: they use ``time.monotonic()``
directly and are not routed through here.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone

TODAY_VAR = "STUDIO_TODAY"


class ClockSettingError(ValueError):
    """``STUDIO_TODAY`` is set but is not a date."""


def pinned_today() -> date | None:
    """The day ``STUDIO_TODAY`` pins, ``None`` when it is unset or empty."""
    value = os.environ.get(TODAY_VAR, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ClockSettingError(
            f"{TODAY_VAR}={value!r} is not a date. Write it as YYYY-MM-DD (e.g. 2026-12-01), or unset it."
        ) from None


def now() -> datetime:
    """The current moment in UTC (on the pinned day, when one is pinned)."""
    wall = datetime.now(timezone.utc)
    day = pinned_today()
    if day is None:
        return wall
    return wall.replace(year=day.year, month=day.month, day=day.day)


def today() -> date:
    """Today's date in UTC."""
    return pinned_today() or datetime.now(timezone.utc).date()


def month_start(at: datetime | None = None) -> datetime:
    """Midnight UTC on the first day of the month containing ``at`` (default: now)."""
    at = at or now()
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def day_start(at: datetime | None = None) -> datetime:
    """Midnight UTC of the day containing ``at`` (default: now)."""
    at = at or now()
    return at.replace(hour=0, minute=0, second=0, microsecond=0)
