import math

import pytest

from calc import CalcError, evaluate


def test_precedence():
    assert evaluate("2 + 3 * 4") == 14
    assert evaluate("(2 + 3) * 4") == 20
    assert evaluate("10 / 4") == 2.5


def test_left_associativity():
    assert evaluate("10 - 3 - 2") == 5
    assert evaluate("100 / 10 / 5") == 2


def test_unary_signs():
    assert evaluate("-3 + 5") == 2
    assert evaluate("2 * -3") == -6
    assert evaluate("+4") == 4


def test_modulo_follows_python():
    assert evaluate("7 % 3") == 1
    assert evaluate("7 % -3") == -2


def test_variables_and_constants():
    assert evaluate("price * qty", {"price": 2.5, "qty": 4}) == 10.0
    assert evaluate("2 * pi") == 2 * math.pi
    assert evaluate("pi", {"pi": 3}) == 3


def test_unknown_name_is_an_error():
    with pytest.raises(CalcError, match="unknown name 'x'"):
        evaluate("x + 1")


def test_division_by_zero_is_an_error():
    with pytest.raises(CalcError, match="division by zero"):
        evaluate("1 / (2 - 2)")


def test_unbalanced_parentheses_are_an_error():
    with pytest.raises(CalcError, match="expected '\\)'"):
        evaluate("(1 + 2 3")
    with pytest.raises(CalcError, match="end of the expression"):
        evaluate("(1 + 2")
