import pytest

from intervals import Interval, IntervalError


def test_bounds_out_of_order_are_an_error():
    with pytest.raises(IntervalError, match="above upper bound"):
        Interval(5, 1)


def test_default_interval_is_closed_below_and_open_above():
    interval = Interval(1, 5)
    assert 1 in interval
    assert 4.99 in interval
    assert 5 not in interval
    assert 0.5 not in interval


def test_open_lower_bound_is_excluded():
    assert 1 not in Interval(1, 5, closed_lo=False)
    assert 1.01 in Interval(1, 5, closed_lo=False)


def test_length():
    assert Interval(-2, 3.5).length == 5.5


def test_degenerate_intervals():
    assert Interval(2, 2).is_empty()
    assert not Interval(2, 2, closed_hi=True).is_empty()


def test_overlapping_intervals_overlap():
    assert Interval(1, 4).overlaps(Interval(3, 6))
    assert Interval(3, 6).overlaps(Interval(1, 4))
    assert Interval(0, 10).overlaps(Interval(2, 3))


def test_distant_intervals_do_not_overlap():
    assert not Interval(1, 2).overlaps(Interval(5, 6))
    assert not Interval(2, 2).overlaps(Interval(0, 5))


def test_intersection_of_overlapping_intervals():
    assert Interval(1, 4).intersection(Interval(3, 6)) == Interval(3, 4)
    assert Interval(0, 10, closed_lo=False).intersection(Interval(2, 3)) == Interval(2, 3)


def test_intersection_of_disjoint_intervals_is_none():
    assert Interval(1, 2).intersection(Interval(5, 6)) is None
