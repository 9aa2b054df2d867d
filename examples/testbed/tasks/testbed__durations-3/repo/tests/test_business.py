from datetime import date

from durations import add_business_days, business_days_between

MONDAY = date(2024, 3, 4)


def test_add_within_a_week():
    assert add_business_days(MONDAY, 3) == date(2024, 3, 7)


def test_add_zero_days():
    assert add_business_days(MONDAY, 0) == MONDAY


def test_add_backwards_within_a_week():
    assert add_business_days(date(2024, 3, 7), -2) == date(2024, 3, 5)


def test_between_to_a_weekend_day():
    assert business_days_between(MONDAY, date(2024, 3, 9)) == 5
    assert business_days_between(MONDAY, date(2024, 3, 17)) == 10


def test_between_backwards_is_negative():
    assert business_days_between(date(2024, 3, 9), MONDAY) == -5
