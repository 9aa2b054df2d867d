"""A small, safe arithmetic expression evaluator."""

from calc.errors import CalcError
from calc.parser import evaluate
from calc.tokens import Token, tokenize

__all__ = ["CalcError", "Token", "evaluate", "tokenize"]
__version__ = "0.7.1"
