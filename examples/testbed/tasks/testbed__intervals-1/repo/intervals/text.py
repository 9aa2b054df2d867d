"""Read and write intervals in bracket notation: ``[1, 5)``, ``(0, 2.5]``, ``[-3, -1]``."""

from __future__ import annotations

import re

from intervals.interval import Interval, IntervalError

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_PATTERN = re.compile(rf"^\s*([\[(])\s*{_NUMBER}\s*,\s*{_NUMBER}\s*([\])])\s*$")


def parse_interval(text: str) -> Interval:
    """The interval ``text`` writes; ``[`` and ``]`` are closed ends, ``(`` and ``)`` open ones."""
    match = _PATTERN.match(text)
    if not match:
        raise IntervalError(f"not an interval: {text!r}")
    left, lo, hi, right = match.groups()
    return Interval(_number(lo), _number(hi), closed_lo=left == "[", closed_hi=right == "]")


def format_interval(interval: Interval) -> str:
    """``interval`` in bracket notation, the form ``parse_interval`` reads."""
    left = "[" if interval.closed_lo else "("
    right = "]" if interval.closed_hi else ")"
    return f"{left}{interval.lo}, {interval.hi}{right}"


def _number(text: str) -> float:
    return float(text) if "." in text else int(text)
