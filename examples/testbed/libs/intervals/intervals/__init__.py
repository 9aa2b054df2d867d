"""Intervals on the real line, and sets of them."""

from intervals.interval import Interval, IntervalError
from intervals.intervalset import IntervalSet
from intervals.text import format_interval, parse_interval

__all__ = ["Interval", "IntervalError", "IntervalSet", "format_interval", "parse_interval"]
__version__ = "1.3.0"
