import pytest

from semver import VersionError, satisfies


def test_caret_allows_minor_and_patch_updates():
    assert satisfies("1.2.3", "^1.2.3")
    assert satisfies("1.9.0", "^1.2.3")
    assert not satisfies("2.0.0", "^1.2.3")
    assert not satisfies("1.2.2", "^1.2.3")


def test_caret_on_zero_zero_pins_the_patch():
    assert satisfies("0.0.3", "^0.0.3")
    assert not satisfies("0.0.4", "^0.0.3")


def test_tilde_allows_patch_updates():
    assert satisfies("1.2.9", "~1.2.3")
    assert not satisfies("1.3.0", "~1.2.3")


def test_strict_comparisons_and_conjunctions():
    assert satisfies("1.5.0", ">1.0.0 <2.0.0")
    assert not satisfies("2.0.0", ">1.0.0 <2.0.0")
    assert not satisfies("1.0.0", ">1.0.0")


def test_exact_match():
    assert satisfies("1.2.3", "=1.2.3")
    assert satisfies("1.2.3", "1.2.3")
    assert not satisfies("1.2.4", "1.2.3")


def test_empty_range_is_an_error():
    with pytest.raises(VersionError, match="empty range"):
        satisfies("1.0.0", "  ")
