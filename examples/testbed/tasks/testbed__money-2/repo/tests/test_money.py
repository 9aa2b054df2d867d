from decimal import Decimal

import pytest

from money import CurrencyMismatch, Money, MoneyError, UnknownCurrency, currency


def test_of_counts_minor_units():
    assert Money.of("19.99", "USD").minor == 1999
    assert Money.of(3, "EUR").minor == 300
    assert Money.of("1.5", "KWD").minor == 1500


def test_amount_is_exact():
    assert Money.of("19.99", "usd").amount == Decimal("19.99")


def test_unknown_currency():
    with pytest.raises(UnknownCurrency, match="unknown currency 'XYZ'"):
        currency("XYZ")


def test_not_an_amount():
    with pytest.raises(MoneyError, match="not an amount"):
        Money.of("ten", "USD")


def test_arithmetic():
    a, b = Money.of("10.50", "USD"), Money.of("0.75", "USD")
    assert (a + b).minor == 1125
    assert (a - b).minor == 975
    assert (-a).minor == -1050
    assert (a * 3).minor == 3150
    assert (Money.of("10.00", "USD") * "1.1").minor == 1100
    assert b < a


def test_currencies_do_not_mix():
    with pytest.raises(CurrencyMismatch, match="cannot combine USD with EUR"):
        Money.of(1, "USD") + Money.of(1, "EUR")


def test_allocate_gives_the_remainder_to_the_first_parts():
    parts = Money.of("1.00", "USD").allocate([1, 1, 1])
    assert [p.minor for p in parts] == [34, 33, 33]


def test_allocate_by_uneven_ratios():
    parts = Money.of("1.00", "USD").allocate([70, 30])
    assert [p.minor for p in parts] == [70, 30]


def test_allocate_rejects_bad_ratios():
    with pytest.raises(MoneyError, match="ratios"):
        Money.of(1, "USD").allocate([0, 0])
