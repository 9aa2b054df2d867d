"""Amounts of money in exact minor units."""

from money.currency import CURRENCIES, Currency, UnknownCurrency, currency
from money.format import format_money, parse_money
from money.money import CurrencyMismatch, Money, MoneyError

__all__ = [
    "CURRENCIES",
    "Currency",
    "CurrencyMismatch",
    "Money",
    "MoneyError",
    "UnknownCurrency",
    "currency",
    "format_money",
    "parse_money",
]
__version__ = "2.1.0"
