"""An interval of numbers whose ends are each open or closed."""

from __future__ import annotations

from dataclasses import dataclass


class IntervalError(ValueError):
    """An interval cannot be made: its bounds are out of order, or its text is not an interval."""


@dataclass(frozen=True)
class Interval:
    """The numbers between ``lo`` and ``hi``; a closed end includes its bound, an open end does not."""

    lo: float
    hi: float
    closed_lo: bool = True
    closed_hi: bool = False

    def __post_init__(self) -> None:
        if self.lo > self.hi:
            raise IntervalError(f"lower bound {self.lo} is above upper bound {self.hi}")

    @property
    def length(self) -> float:
        return self.hi - self.lo

    def is_empty(self) -> bool:
        """True for a degenerate interval such as ``[2, 2)``, which holds no number."""
        return self.lo == self.hi and not (self.closed_lo and self.closed_hi)

    def __contains__(self, x: float) -> bool:
        above = self.lo <= x if self.closed_lo else self.lo < x
        below = x <= self.hi if self.closed_hi else x < self.hi
        return above and below

    def overlaps(self, other: Interval) -> bool:
        """True when some number lies in both intervals."""
        if self.is_empty() or other.is_empty():
            return False
        if self.hi == other.lo:
            return self.closed_hi and other.closed_lo
        if other.hi == self.lo:
            return other.closed_hi and self.closed_lo
        return self.lo < other.hi and other.lo < self.hi

    def intersection(self, other: Interval) -> Interval | None:
        """The numbers in both intervals, or None when there are none."""
        if not self.overlaps(other):
            return None
        lo, closed_lo = _later_start(self, other)
        hi, closed_hi = _earlier_end(self, other)
        return Interval(lo, hi, closed_lo, closed_hi)


def _later_start(a: Interval, b: Interval) -> tuple[float, bool]:
    """The lower bound of ``a`` and ``b``'s intersection, and whether it is closed."""
    if a.lo != b.lo:
        return (a.lo, a.closed_lo) if a.lo > b.lo else (b.lo, b.closed_lo)
    # both start at the same number: the intersection holds it only if both do
    return a.lo, a.closed_lo and b.closed_lo


def _earlier_end(a: Interval, b: Interval) -> tuple[float, bool]:
    """The upper bound of ``a`` and ``b``'s intersection, and whether it is closed."""
    if a.hi != b.hi:
        return (a.hi, a.closed_hi) if a.hi < b.hi else (b.hi, b.closed_hi)
    # both end at the same number: the intersection holds it only if both do
    return a.hi, a.closed_hi and b.closed_hi
