"""Value-choice algebra as NNI 2.x's: the calls are written as NNI's documentation shows them."""

from __future__ import annotations

import pytest

from retiarii.mutable import Categorical as ValueChoice


def test_round_and_bitwise_operators_stay_symbolic() -> None:
    x = ValueChoice([1.25, 2.5, 3.75], label="x")
    assert round(x).freeze({"x": 2.5}) == 2
    assert round(x, 1).freeze({"x": 1.25}) == 1.2
    flag = ValueChoice([True, False], label="flag")
    other = ValueChoice([True, False], label="other")
    assert (~flag).freeze({"flag": True}) is False
    assert (flag & other).freeze({"flag": True, "other": False}) is False
    assert (flag | other).freeze({"flag": True, "other": False}) is True
    assert (flag ^ other).freeze({"flag": True, "other": True}) is False
    bits = ValueChoice([1, 2, 4], label="bits")
    assert (bits | 8).freeze({"bits": 2}) == 10
    assert (3 & bits).freeze({"bits": 2}) == 2
    assert (1 ^ bits).freeze({"bits": 1}) == 0
    assert (~bits).freeze({"bits": 4}) == -5
    assert repr(~flag) == "(~ValueChoice([True, False], label='flag'))"


def test_max_and_min_of_plain_numbers_are_plain_numbers() -> None:
    assert ValueChoice.max(1, 2, 3) == 3
    assert ValueChoice.min([4, 2, 8]) == 2
    x = ValueChoice([1, 5], label="x")
    assert ValueChoice.max(x, 3).freeze({"x": 1}) == 3


def test_all_options_keeps_duplicates_possible_values_does_not() -> None:
    x = ValueChoice([1, 2, 3], label="x")
    assert list(x.all_options()) == [1, 2, 3]
    assert list((x % 2).all_options()) == [1, 0, 1]
    assert (x % 2).possible_values() == [1, 0]
    y = ValueChoice([10, 20], label="y")
    assert list((x * y).all_options()) == [10, 20, 20, 40, 30, 60]


def test_int_and_bool_of_an_undecided_choice_say_what_to_do() -> None:
    x = ValueChoice([1, 2], label="x")
    with pytest.raises(TypeError, match=r"not an int until a sample is chosen.*to_int"):
        int(x)
    with pytest.raises(TypeError, match=r"no truth value.*ValueChoice.condition"):
        bool(x)
    with pytest.raises(TypeError, match="no truth value"):
        if x > 1:  # a habit that must not silently pick a branch
            pass
