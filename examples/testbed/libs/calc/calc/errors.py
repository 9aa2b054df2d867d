"""The one exception calc raises."""


class CalcError(ValueError):
    """An expression that cannot be read or evaluated."""
