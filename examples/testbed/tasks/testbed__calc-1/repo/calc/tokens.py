"""Split an expression into tokens: numbers, names, operators and parentheses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from calc.errors import CalcError


@dataclass(frozen=True)
class Token:
    """One token: its kind (``num``, ``name``, ``op``, ``lparen``, ``rparen``), text and offset."""

    kind: str
    text: str
    pos: int


_SPEC = [
    ("num", r"\d+(?:\.\d+)?"),
    ("name", r"[A-Za-z_]\w*"),
    ("op", r"\*\*|[-+*/%]"),
    ("lparen", r"\("),
    ("rparen", r"\)"),
    ("space", r"\s+"),
]
_REGEX = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _SPEC))


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, without the spaces; ``pos`` is the 0-based offset of each."""
    tokens = []
    pos = 0
    while pos < len(text):
        match = _REGEX.match(text, pos)
        if not match:
            raise CalcError(f"unexpected character {text[pos]!r} at column {pos + 1}")
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    return tokens
