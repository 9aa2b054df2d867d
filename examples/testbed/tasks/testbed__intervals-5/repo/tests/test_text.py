import pytest

from intervals import Interval, IntervalError, format_interval, parse_interval


def test_parse_half_open():
    assert parse_interval("[1, 5)") == Interval(1, 5)


def test_parse_open_below_closed_above_with_decimals():
    assert parse_interval(" (0, 2.5] ") == Interval(0, 2.5, closed_lo=False, closed_hi=True)


def test_parse_without_spaces():
    assert parse_interval("[10,20]") == Interval(10, 20, closed_hi=True)


def test_garbage_is_an_error():
    with pytest.raises(IntervalError, match="not an interval"):
        parse_interval("1 to 5")


def test_format_round_trips():
    interval = Interval(0, 2.5, closed_lo=False, closed_hi=True)
    assert format_interval(interval) == "(0, 2.5]"
    assert parse_interval(format_interval(interval)) == interval
