"""Symbolic expressions over value choices: every operator, freezing, possible values, and the
operations that must refuse to guess a value (truth value, int, iteration)."""

from __future__ import annotations

import math
import operator

import pytest

from retiarii.mutable import Categorical, Expression, SampleError, SearchSpace, leaves_of

A_VALUES = [1, 2, 3]
B_VALUES = [4, 8]


@pytest.fixture
def a() -> Categorical:
    return Categorical(A_VALUES, label="a")


@pytest.fixture
def b() -> Categorical:
    return Categorical(B_VALUES, label="b")


BINARY = [
    (operator.add, "+"),
    (operator.sub, "-"),
    (operator.mul, "*"),
    (operator.truediv, "/"),
    (operator.floordiv, "//"),
    (operator.mod, "%"),
    (operator.pow, "**"),
    (operator.lt, "<"),
    (operator.le, "<="),
    (operator.gt, ">"),
    (operator.ge, ">="),
]


@pytest.mark.parametrize(("op", "sym"), BINARY, ids=[s for _, s in BINARY])
def test_binary_operator_with_constant_on_the_right(a: Categorical, op, sym) -> None:
    expr = op(a, 5)
    assert isinstance(expr, Expression)
    assert sym in repr(expr)
    for value in A_VALUES:
        assert expr.freeze({"a": value}) == op(value, 5)


@pytest.mark.parametrize(("op", "sym"), BINARY, ids=[s for _, s in BINARY])
def test_binary_operator_with_constant_on_the_left(a: Categorical, op, sym) -> None:
    # 7 - a, 7 // a, 2 ** a ... use the reflected methods; comparisons flip to the mirrored one.
    expr = op(7, a)
    assert isinstance(expr, Expression)
    for value in A_VALUES:
        assert expr.freeze({"a": value}) == op(7, value)


@pytest.mark.parametrize(("op", "sym"), BINARY, ids=[s for _, s in BINARY])
def test_binary_operator_between_two_choices(a: Categorical, b: Categorical, op, sym) -> None:
    expr = op(b, a)
    assert {leaf.label for leaf in expr.leaves()} == {"a", "b"}
    for x in A_VALUES:
        for y in B_VALUES:
            assert expr.freeze({"a": x, "b": y}) == op(y, x)


def test_reflected_operators_keep_operand_order(a: Categorical) -> None:
    sample = {"a": 3}
    assert (10 - a).freeze(sample) == 7
    assert (10 / a).freeze(sample) == pytest.approx(10 / 3)
    assert (10 // a).freeze(sample) == 3
    assert (10 % a).freeze(sample) == 1
    assert (2**a).freeze(sample) == 8
    assert (a - 10).freeze(sample) == -7


def test_unary_operators(a: Categorical) -> None:
    assert (-a).freeze({"a": 2}) == -2
    assert (+a).freeze({"a": 2}) == 2
    assert abs(-a).freeze({"a": 3}) == 3
    assert abs(a - 5).freeze({"a": 1}) == 4


def test_nested_expression(a: Categorical, b: Categorical) -> None:
    expr = (a + b) * 2 - a**2 // 3 % 4
    for x in A_VALUES:
        for y in B_VALUES:
            assert expr.freeze({"a": x, "b": y}) == (x + y) * 2 - x**2 // 3 % 4


def test_kernel_size_padding_idiom() -> None:
    k = Categorical([3, 5, 7], label="k")
    padding = k // 2
    assert [padding.freeze({"k": v}) for v in (3, 5, 7)] == [1, 2, 3]
    assert padding.possible_values() == [1, 2, 3]


def test_indexing_a_choice_of_tuples() -> None:
    shape = Categorical([(3, 1), (5, 2)], label="shape")
    assert shape[0].freeze({"shape": [5, 2]}) == 5
    assert shape[1].freeze({"shape": (3, 1)}) == 1
    assert (shape[0] * shape[1]).possible_values() == [3, 10]


def test_indexing_a_choice_of_dicts() -> None:
    cfg = Categorical([{"width": 8}, {"width": 16}], label="cfg")
    assert cfg["width"].freeze({"cfg": {"width": 16}}) == 16


def test_max_min_accept_varargs_and_a_list(a: Categorical, b: Categorical) -> None:
    for x in A_VALUES:
        for y in B_VALUES:
            sample = {"a": x, "b": y}
            assert Categorical.max(a, b, 5).freeze(sample) == max(x, y, 5)
            assert Categorical.max([a * 3, b]).freeze(sample) == max(x * 3, y)
            assert Categorical.min(a, b).freeze(sample) == min(x, y)
            assert Categorical.min([a, b, 2]).freeze(sample) == min(x, y, 2)


def test_condition_chooses_a_branch(a: Categorical) -> None:
    expr = Categorical.condition(a > 1, "big", "small")
    assert expr.freeze({"a": 1}) == "small"
    assert expr.freeze({"a": 3}) == "big"
    # Branches may be choices themselves.
    c = Categorical([10, 20], label="c")
    nested = Categorical.condition(a >= 2, c, a * 100)
    assert nested.freeze({"a": 2, "c": 20}) == 20
    assert nested.freeze({"a": 1, "c": 20}) == 100
    assert sorted(nested.possible_values()) == [10, 20, 100]


def test_to_int_and_to_float() -> None:
    f = Categorical([1.5, 2.5], label="f")
    assert Categorical.to_int(f).possible_values() == [1, 2]
    assert Categorical.to_int(f * 2).freeze({"f": 2.5}) == 5
    i = Categorical([1, 2], label="i")
    value = Categorical.to_float(i).freeze({"i": 2})
    assert value == 2.0
    assert isinstance(value, float)


def test_possible_values_enumerates_distinct_results(a: Categorical, b: Categorical) -> None:
    assert a.possible_values() == A_VALUES
    assert (a * 0).possible_values() == [0]
    assert sorted((a + b).possible_values()) == sorted({x + y for x in A_VALUES for y in B_VALUES})
    # The same label twice is one decision: a - a is always 0.
    assert (a - a).possible_values() == [0]


def test_possible_values_gives_up_past_the_limit() -> None:
    choices = [Categorical(list(range(10)), label=f"x{i}") for i in range(3)]
    total = sum(choices[1:], choices[0])
    assert total.possible_values(limit=999) == []
    assert total.possible_values(limit=1000) == list(range(28))


def test_leaves_of_nested_structure(a: Categorical, b: Categorical) -> None:
    labels = [leaf.label for leaf in leaves_of({"k": (a, [b * 2, 3]), "z": "plain"})]
    assert sorted(labels) == ["a", "b"]
    assert list(leaves_of([1, "x", None])) == []


def test_freezing_without_the_label_names_it(a: Categorical) -> None:
    with pytest.raises(SampleError, match=r"'a'"):
        (a + 1).freeze({})


def test_freezing_with_a_value_that_is_not_a_candidate(a: Categorical) -> None:
    with pytest.raises(SampleError, match=r"'a'.*\[1, 2, 3\]"):
        a.freeze({"a": 4})


def test_expression_labels_join_the_search_space(a: Categorical, b: Categorical) -> None:
    expr = Categorical.max(a * 2, b)
    space = SearchSpace(expr.leaves())
    assert list(space) == ["a", "b"]
    assert space.size == len(A_VALUES) * len(B_VALUES)


# -- operations that must not guess -------------------------------------------------------------


def test_truth_value_raises_with_hint(a: Categorical) -> None:
    with pytest.raises(TypeError, match="condition"):
        bool(a)
    with pytest.raises(TypeError, match="condition"):
        if a > 1:  # a typical mistake in user code
            pass
    with pytest.raises(TypeError, match="truth value"):
        bool(a + 1)


def test_int_and_index_raise_with_hint(a: Categorical) -> None:
    with pytest.raises(TypeError, match="to_int"):
        int(a)
    with pytest.raises(TypeError, match="to_int"):
        [10, 20, 30][a]  # __index__
    with pytest.raises(TypeError, match="to_int"):
        range(a)
    with pytest.raises(TypeError, match="to_int"):
        int(a * 2)


def test_float_raises_with_hint(a: Categorical) -> None:
    with pytest.raises(TypeError, match="to_float"):
        float(a)
    with pytest.raises(TypeError, match="to_float"):
        math.sqrt(a)


def test_iteration_raises(a: Categorical) -> None:
    with pytest.raises(TypeError, match="iterated"):
        iter(a)
    with pytest.raises(TypeError, match="iterated"):
        list(Categorical([(1, 2), (3, 4)], label="t"))
    with pytest.raises(TypeError, match="iterated"):
        _x, _y = Categorical([(1, 2), (3, 4)], label="t2")


def test_choices_stay_hashable_and_compare_by_identity(a: Categorical) -> None:
    other = Categorical(A_VALUES, label="a")
    assert a in {a}
    assert a in [a]
    assert other not in [a]  # == is not overridden: no symbolic equality surprises
    assert (a == 1) is False
