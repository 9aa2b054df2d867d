from datetime import timedelta

import pytest

from durations import DurationError, format_duration, parse_duration


def test_parse_compact_and_spaced():
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration("2d 4h") == timedelta(days=2, hours=4)
    assert parse_duration(" 90s ") == timedelta(seconds=90)


def test_parse_negative():
    assert parse_duration("-15m") == timedelta(minutes=-15)


def test_parse_rejects_garbage_and_repeats():
    for text in ("", "1x", "h", "1h 1h", "1.5h", "30m1h1"):
        with pytest.raises(DurationError, match="not a duration"):
            parse_duration(text)


def test_format():
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h 30m"
    assert format_duration(timedelta(days=2, seconds=5)) == "2d 5s"
    assert format_duration(timedelta(minutes=-15)) == "-15m"


def test_format_drops_fractions_of_a_second():
    assert format_duration(timedelta(seconds=61, milliseconds=900)) == "1m 1s"


def test_parse_reads_what_format_writes():
    delta = timedelta(days=3, hours=2, minutes=7, seconds=1)
    assert parse_duration(format_duration(delta)) == delta
