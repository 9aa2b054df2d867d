"""Turn CSV cells into Python values: ints, floats, booleans and None for empty cells."""

from __future__ import annotations

import re

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+")


def infer(cell: str) -> int | float | bool | str | None:
    """The value a cell most likely means; anything else stays the (stripped) string."""
    text = cell.strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text
