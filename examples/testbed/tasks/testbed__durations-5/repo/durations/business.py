"""Working-day arithmetic: Monday to Friday are working days, weekends are not."""

from __future__ import annotations

from datetime import date, timedelta


def _is_working_day(day: date) -> bool:
    return day.weekday() < 5  # Monday is 0, Saturday 5, Sunday 6


def add_business_days(start: date, days: int) -> date:
    """``start`` moved by ``days`` working days; negative ``days`` move back."""
    step = 1 if days >= 0 else -1
    current = start
    for _ in range(abs(days)):
        current += timedelta(days=step)
        while not _is_working_day(current):
            current += timedelta(days=step)
    return current


def business_days_between(start: date, end: date) -> int:
    """The working days from ``start`` (counted) to ``end`` (not counted); negative if ``end`` is earlier."""
    if end < start:
        return -business_days_between(end, start)
    full_weeks, extra = divmod((end - start).days, 7)
    count = full_weeks * 5
    for offset in range(extra + 1):
        if _is_working_day(start + timedelta(days=offset)):
            count += 1
    return count
