import pytest

from money import Money, MoneyError, format_money, parse_money


def test_format_with_thousands_separators():
    assert format_money(Money.of("1234567.5", "USD")) == "$1,234,567.50"


def test_format_keeps_every_minor_digit():
    assert format_money(Money.of("1.5", "KWD")) == "KD 1.500"
    assert format_money(Money.of("0.05", "EUR")) == "€0.05"


def test_parse_with_symbol_and_separators():
    assert parse_money("$1,234.50", "USD") == Money.of("1234.50", "USD")


def test_parse_negative_and_bare_amounts():
    assert parse_money("-$3", "USD").minor == -300
    assert parse_money("1234.5", "EUR").minor == 123450


def test_parse_garbage_is_an_error():
    with pytest.raises(MoneyError, match="not an amount of USD"):
        parse_money("$12.x", "USD")


def test_format_then_parse_round_trips():
    price = Money.of("9876.54", "GBP")
    assert parse_money(format_money(price), "GBP") == price
