import pytest

from calc import CalcError, Token, tokenize


def test_tokens_and_offsets():
    assert tokenize("x1 + 2.5") == [Token("name", "x1", 0), Token("op", "+", 3), Token("num", "2.5", 5)]


def test_parentheses_and_operators():
    kinds = [t.kind for t in tokenize("(1-2)/3%4*5")]
    assert kinds == ["lparen", "num", "op", "num", "rparen", "op", "num", "op", "num", "op", "num"]


def test_unknown_character_is_an_error():
    with pytest.raises(CalcError, match="unexpected character '\\$'"):
        tokenize("1 + $")
