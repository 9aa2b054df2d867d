from csvlite import infer


def test_integers():
    assert infer("12") == 12
    assert infer("-7") == -7
    assert infer(" +3 ") == 3


def test_floats():
    assert infer("1.5") == 1.5
    assert infer("-.25") == -0.25
    assert infer("2.5e3") == 2500.0


def test_booleans():
    assert infer("true") is True
    assert infer("FALSE") is False


def test_empty_is_none():
    assert infer("") is None
    assert infer("   ") is None


def test_other_text_stays_a_string():
    assert infer(" n/a ") == "n/a"
    assert infer("12abc") == "12abc"
