"""The currencies money knows, with the number of digits of their minor unit (ISO 4217)."""

from __future__ import annotations

from dataclasses import dataclass


class UnknownCurrency(KeyError):
    """A currency code that is not in ``CURRENCIES``."""

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Currency:
    """A currency: its ISO code, the digits after its decimal point, and its symbol."""

    code: str
    exponent: int
    symbol: str


CURRENCIES = {
    c.code: c
    for c in (
        Currency("USD", 2, "$"),
        Currency("EUR", 2, "€"),
        Currency("GBP", 2, "£"),
        Currency("CHF", 2, "CHF "),
        Currency("JPY", 2, "¥"),
        Currency("KWD", 3, "KD "),
    )
}


def currency(code: str) -> Currency:
    """The currency with ISO code ``code`` (case-insensitive)."""
    try:
        return CURRENCIES[code.upper()]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {code!r}; known: {', '.join(CURRENCIES)}") from None
