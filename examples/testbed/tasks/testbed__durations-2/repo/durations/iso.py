"""ISO 8601 durations with weeks, days and time: ``P2W``, ``P1DT12H``, ``PT1H30M``, ``PT0,5S``.

As ISO 8601 allows, a fraction of a second may be written with a comma or a full stop.
"""

from __future__ import annotations

import re
from datetime import timedelta

from durations.human import DurationError

_ISO = re.compile(
    r"^(-)?P(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$"
)


def parse_iso(text: str) -> timedelta:
    """The duration an ISO 8601 string writes; years and months (``P1Y``, ``P1M``) are not supported."""
    match = _ISO.match(text.strip())
    if not match or text.strip().lstrip("-") in ("P", "PT") or text.strip().endswith("T"):
        raise DurationError(f"not an ISO 8601 duration of weeks, days and time: {text!r}")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    delta = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float((seconds or "0").replace(",", ".")),
    )
    return -delta if sign else delta
