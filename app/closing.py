"""The workshop's closing time: which local day a close is for, and at which instant.

Pure functions of an instant, the closing time and the workshop's time zone (no clock, no
Flask): ``flask --app app day close`` and the demo's closing bell (``demo/closing.py``)
share them, so both agree on what "today's close" is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def closing_instant(day: date, closing: time, zone: tzinfo) -> datetime:
    """Return the instant (UTC) at which the workshop closes on a local day."""
    return datetime.combine(day, closing, zone).astimezone(UTC)


def day_to_close(now: datetime, closing: time, zone: tzinfo) -> tuple[date, datetime]:
    """Return today's local date and the instant its close takes effect.

    That is the closing time, even when the close runs later (a timer a few seconds late, a
    command typed at 18:40); or now, when it runs earlier (the school closes early today).
    """
    day = now.astimezone(zone).date()
    return day, min(now, closing_instant(day, closing, zone))


def next_closing(now: datetime, closing: time, zone: tzinfo) -> datetime:
    """Return the first closing instant strictly after ``now``."""
    day = now.astimezone(zone).date()
    today = closing_instant(day, closing, zone)
    if today > now:
        return today
    return closing_instant(day + timedelta(days=1), closing, zone)
