"""Evaluate an expression by precedence climbing over its tokens."""

from __future__ import annotations

import math

from calc.errors import CalcError
from calc.tokens import Token, tokenize

# binding power and associativity of each binary operator, as in Python
BINARY = {
    "+": (10, "left"),
    "-": (10, "left"),
    "*": (20, "left"),
    "/": (20, "left"),
    "%": (20, "left"),
    "**": (30, "right"),
}
# a unary sign binds tighter than * but looser than **: -2 ** 2 == -(2 ** 2)
UNARY = 25
CONSTANTS = {"pi": math.pi, "e": math.e}


def evaluate(text: str, variables: dict[str, float] | None = None) -> float:
    """The value of ``text``; names are looked up in ``variables``, then in ``CONSTANTS``."""
    parser = _Parser(tokenize(text), {**CONSTANTS, **(variables or {})})
    value = parser.expression(0)
    extra = parser.peek()
    if extra is not None:
        raise CalcError(f"unexpected {extra.text!r} at column {extra.pos + 1}")
    return value


class _Parser:
    def __init__(self, tokens: list[Token], names: dict[str, float]) -> None:
        self.tokens, self.names, self.index = tokens, names, 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def advance(self) -> Token:
        token = self.peek()
        if token is None:
            raise CalcError("unexpected end of the expression")
        self.index += 1
        return token

    def expression(self, min_power: int) -> float:
        left = self.unary()
        while (
            (token := self.peek()) is not None and token.kind == "op" and BINARY[token.text][0] >= min_power
        ):
            power, assoc = BINARY[token.text]
            self.advance()
            right = self.expression(power + 1 if assoc == "left" else power)
            left = _apply(token.text, left, right)
        return left

    def unary(self) -> float:
        token = self.peek()
        if token is not None and token.kind == "op" and token.text in ("+", "-"):
            self.advance()
            operand = self.expression(UNARY)
            return -operand if token.text == "-" else operand
        return self.primary()

    def primary(self) -> float:
        token = self.advance()
        if token.kind == "num":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "name":
            if token.text not in self.names:
                raise CalcError(f"unknown name {token.text!r} at column {token.pos + 1}")
            return self.names[token.text]
        if token.kind == "lparen":
            value = self.expression(0)
            closing = self.advance()
            if closing.kind != "rparen":
                raise CalcError(f"expected ')' at column {closing.pos + 1}")
            return value
        raise CalcError(f"unexpected {token.text!r} at column {token.pos + 1}")


def _apply(op: str, left: float, right: float) -> float:
    if op == "/" and right == 0:
        raise CalcError("division by zero")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    if op == "%":
        return left % right
    return left**right
