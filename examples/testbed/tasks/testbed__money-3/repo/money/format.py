"""Show and read amounts the way people write them: ``$1,234.50``, ``-€3.00``, ``¥1,500``."""

from __future__ import annotations

import decimal
from decimal import Decimal

from money.currency import currency
from money.money import Money, MoneyError


def format_money(money: Money) -> str:
    """``money`` with its symbol, thousands separators and every digit of its minor unit."""
    exponent = money.currency.exponent
    sign = "-" if money.minor < 0 else ""
    units, cents = divmod(abs(money.minor), 10**exponent)
    text = f"{units:,}"
    if exponent:
        text += f".{cents:0{exponent}d}"
    return f"{sign}{money.currency.symbol}{text}"


def parse_money(text: str, code: str) -> Money:
    """Read ``"$1,234.50"``, ``"-$3"`` or ``"1234.5"`` as an amount of currency ``code``."""
    cur = currency(code)
    cleaned = text.strip().replace(",", "")
    negative = cleaned.startswith("-")
    cleaned = cleaned.lstrip("-")
    symbol = cur.symbol.strip()
    if cleaned.startswith(symbol):
        cleaned = cleaned[len(symbol) :]
    try:
        amount = Decimal(cleaned.strip())
    except decimal.InvalidOperation:
        raise MoneyError(f"not an amount of {cur.code}: {text!r}") from None
    return Money.of(-amount if negative else amount, cur.code)
