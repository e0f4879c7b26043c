"""Billing periods and proration as the stand-in computes them (pure functions).

- A period is `[anchor + k·n intervals, anchor + (k+1)·n intervals)`; months and years are
  calendar ones counted from the anchor, the day clamped to the month's last (an anchor on
  the 31st bills on 30 April and 28 February), as Stripe does.
- Proration is by the second, as Stripe does: `amount × (end − at) / (end − start)`, rounded
  half up to a whole minor unit (credits are the negative of the same rounding).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

DAY = 86_400


def shift(anchor: int, interval: str, count: int) -> int:
    """`anchor` moved by `count` intervals (`day`, `week`, `month`, `year`)."""
    start = datetime.fromtimestamp(anchor, UTC)
    if interval == "day":
        return anchor + count * DAY
    if interval == "week":
        return anchor + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    if interval not in ("month", "year"):
        raise ValueError(f"unknown interval {interval!r}")
    total = start.month - 1 + months
    year, month = start.year + total // 12, total % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    moved = start.replace(year=year, month=month, day=day)
    return int(moved.timestamp())


def period_after(anchor: int, interval: str, count: int, end: int) -> tuple[int, int]:
    """The period that follows the one ending at `end`, on the anchor's calendar."""
    k = 1
    while shift(anchor, interval, k * count) <= end:
        k += 1
    return end, shift(anchor, interval, k * count)


def prorate(amount: int, start: int, end: int, at: int) -> int:
    """What of `amount` for the period `[start, end)` falls after `at` (half up)."""
    if end <= start:
        return 0
    left = min(max(end - at, 0), end - start)
    whole = end - start
    return (abs(amount) * left * 2 + whole) // (2 * whole) * (1 if amount >= 0 else -1)


def day_text(moment: int) -> str:
    when = datetime.fromtimestamp(moment, UTC)
    return f"{when:%d %b %Y}"


def days(n: int) -> int:
    return int(timedelta(days=n).total_seconds())
