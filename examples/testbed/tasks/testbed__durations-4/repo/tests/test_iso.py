from datetime import timedelta

import pytest

from durations import DurationError, parse_iso


def test_days_and_hours():
    assert parse_iso("P1DT12H") == timedelta(days=1, hours=12)


def test_time_only():
    assert parse_iso("PT2H") == timedelta(hours=2)
    assert parse_iso("PT45S") == timedelta(seconds=45)
    assert parse_iso("PT0.5S") == timedelta(milliseconds=500)


def test_negative():
    assert parse_iso("-P3D") == timedelta(days=-3)


def test_rejects_years_months_and_empty_parts():
    for text in ("P1Y", "P1M", "P", "PT", "P1DT", "1D"):
        with pytest.raises(DurationError, match="not an ISO 8601 duration"):
            parse_iso(text)
