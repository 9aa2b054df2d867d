"""A set of numbers kept as sorted, disjoint intervals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import pairwise

from intervals.interval import Interval
from intervals.text import format_interval


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort ``intervals`` and join those that overlap or touch; empty intervals are dropped."""
    items = sorted((i for i in intervals if not i.is_empty()), key=lambda i: (i.lo, not i.closed_lo))
    merged: list[Interval] = []
    for item in items:
        if merged and _joins(merged[-1], item):
            merged.append(_hull(merged.pop(), item))
        else:
            merged.append(item)
    return merged


def _joins(a: Interval, b: Interval) -> bool:
    """Whether ``b``, which starts no earlier than ``a``, overlaps ``a`` or continues it without a gap."""
    if b.lo < a.hi:
        return True
    return b.lo == a.hi and (a.closed_hi or b.closed_lo)


def _hull(a: Interval, b: Interval) -> Interval:
    """The smallest interval holding ``a`` and ``b``, which start in that order."""
    if b.hi > a.hi:
        return Interval(a.lo, b.hi, a.closed_lo, b.closed_hi)
    if b.hi == a.hi:
        return Interval(a.lo, a.hi, a.closed_lo, a.closed_hi or b.closed_hi)
    return a


class IntervalSet:
    """An immutable set of numbers, made of disjoint intervals in increasing order."""

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._intervals = tuple(merge(intervals))

    def __iter__(self) -> Iterator[Interval]:
        return iter(self._intervals)

    def __len__(self) -> int:
        return len(self._intervals)

    def __contains__(self, x: float) -> bool:
        return any(x in interval for interval in self._intervals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._intervals == other._intervals

    def __hash__(self) -> int:
        return hash(self._intervals)

    def __repr__(self) -> str:
        return f"IntervalSet([{', '.join(format_interval(i) for i in self._intervals)}])"

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet([*self._intervals, *other._intervals])

    @property
    def total_length(self) -> float:
        return sum(interval.length for interval in self._intervals)

    def gaps(self) -> list[Interval]:
        """The intervals between consecutive members, in order."""
        pairs = pairwise(self._intervals)
        return [Interval(a.hi, b.lo, not a.closed_hi, not b.closed_lo) for a, b in pairs]
