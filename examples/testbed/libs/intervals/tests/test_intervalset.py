from intervals import Interval, IntervalSet


def test_overlapping_members_are_merged():
    merged = IntervalSet([Interval(10, 12), Interval(3, 6), Interval(1, 4)])
    assert list(merged) == [Interval(1, 6), Interval(10, 12)]


def test_nested_members_are_absorbed():
    assert list(IntervalSet([Interval(0, 10), Interval(2, 3)])) == [Interval(0, 10)]


def test_empty_members_are_dropped():
    assert len(IntervalSet([Interval(2, 2), Interval(5, 6)])) == 1


def test_membership():
    numbers = IntervalSet([Interval(1, 2), Interval(5, 8)])
    assert 1.5 in numbers
    assert 6 in numbers
    assert 3 not in numbers


def test_total_length():
    assert IntervalSet([Interval(1, 2), Interval(5, 8), Interval(7, 9)]).total_length == 5


def test_gaps_between_members():
    numbers = IntervalSet([Interval(1, 2), Interval(5, 8)])
    assert numbers.gaps() == [Interval(2, 5)]


def test_union():
    left = IntervalSet([Interval(1, 3)])
    right = IntervalSet([Interval(2, 6), Interval(8, 9)])
    assert left.union(right) == IntervalSet([Interval(1, 6), Interval(8, 9)])


def test_repr():
    assert repr(IntervalSet([Interval(1, 4), Interval(3, 6)])) == "IntervalSet([[1, 6)])"
