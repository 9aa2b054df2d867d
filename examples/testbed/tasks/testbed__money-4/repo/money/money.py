"""Money: an exact integer of minor units (cents) and a currency."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

from money.currency import Currency, currency

# amounts with more digits than their currency has are rounded half to even ("banker's rounding")
ROUNDING = decimal.ROUND_HALF_EVEN


class MoneyError(ValueError):
    """An amount cannot be made or combined."""


class CurrencyMismatch(MoneyError):
    """Two amounts in different currencies were combined."""


@dataclass(frozen=True)
class Money:
    """``minor`` units of ``currency``: ``Money(1999, USD)`` is $19.99."""

    minor: int
    currency: Currency

    @classmethod
    def of(cls, amount: str | int | Decimal, code: str) -> Money:
        """``Money.of("19.99", "USD")``; extra digits are rounded with ``ROUNDING``."""
        cur = currency(code)
        try:
            minor = Decimal(amount).scaleb(cur.exponent).quantize(Decimal(1), rounding=ROUNDING)
        except decimal.InvalidOperation:
            raise MoneyError(f"not an amount: {amount!r}") from None
        return cls(int(minor), cur)

    @property
    def amount(self) -> Decimal:
        """The amount in major units, exactly: ``Decimal("19.99")``."""
        return Decimal(self.minor).scaleb(-self.currency.exponent)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int | str | Decimal) -> Money:
        product = (Decimal(self.minor) * Decimal(factor)).quantize(Decimal(1), rounding=ROUNDING)
        return Money(int(product), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.minor < other.minor

    def allocate(self, ratios: list[int]) -> list[Money]:
        """Split into parts proportional to ``ratios`` that add up exactly to this amount.

        Each part is first rounded down; the minor units left over go one each to the first parts.
        """
        total = sum(ratios)
        if not ratios or total <= 0 or any(r < 0 for r in ratios):
            raise MoneyError(f"ratios must be non-negative with a positive sum, not {ratios}")
        shares = [self.minor * ratio // total for ratio in ratios]
        for i in range(self.minor - sum(shares)):
            shares[i] += 1
        return [Money(share, self.currency) for share in shares]

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency.code} with {other.currency.code}")
