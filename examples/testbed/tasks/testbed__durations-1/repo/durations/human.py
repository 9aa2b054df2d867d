"""Durations as people write them: ``1h30m``, ``2d 4h``, ``-15m``, ``90s``."""

from __future__ import annotations

import re
from datetime import timedelta


class DurationError(ValueError):
    """Text that is not a duration."""


# seconds in each unit, largest first (the order format_duration writes them in)
UNITS = {
    "w": 5 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
}
_TOKEN = re.compile(r"(\d+)\s*([wdhms])\s*")


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` writes: integer amounts of units, each unit at most once."""
    body = text.strip()
    negative = body.startswith("-")
    body = body[1:].strip() if negative else body
    total, seen, pos = 0, set(), 0
    for match in _TOKEN.finditer(body):
        count, unit = match.groups()
        if match.start() != pos or unit in seen:
            break
        seen.add(unit)
        total += int(count) * UNITS[unit]
        pos = match.end()
    if not body or pos != len(body):
        raise DurationError(f"not a duration: {text!r} (write e.g. 1h30m, 2d 4h, 90s)")
    return timedelta(seconds=-total if negative else total)


def format_duration(delta: timedelta) -> str:
    """``delta`` in whole seconds as ``parse_duration`` reads it: ``1h 30m``; zero is ``0s``."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in UNITS.items():
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    if not parts:
        return "0s"
    return sign + " ".join(parts)
