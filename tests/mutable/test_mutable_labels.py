"""Labels: explicit ones are used as given, automatic ones are numbered deterministically, and
choices sharing a label are one decision (or a LabelConflictError naming the label)."""

from __future__ import annotations

import pytest

from retiarii.mutable import (
    Categorical,
    InputSubset,
    LabelConflictError,
    SearchSpace,
    auto_label,
    label_scope,
)
from retiarii.mutable.labels import label_namespace


def test_explicit_label_is_used_as_given() -> None:
    assert Categorical([1, 2], label="hidden_dim").label == "hidden_dim"
    assert Categorical([1, 2], label="a/b c").label == "a/b c"


@pytest.mark.parametrize("bad", ["", 3, ("x",)])
def test_invalid_explicit_label_is_rejected(bad: object) -> None:
    with pytest.raises(TypeError, match="label"):
        Categorical([1, 2], label=bad)  # type: ignore[arg-type]


def test_automatic_labels_number_from_one_in_a_scope() -> None:
    # NNI 2.x's scheme: one counter for every kind of choice, ``model_1``, ``model_2``, ...
    with label_scope():
        first = [Categorical([1, 2]).label for _ in range(2)]
        subset = InputSubset(3, 1, label=auto_label("inputchoice")).label
    assert [*first, subset] == ["model_1", "model_2", "model_3"]


def test_automatic_labels_are_the_same_in_every_scope() -> None:
    def build() -> list[str]:
        with label_scope():
            return [Categorical([1, 2]).label, Categorical(["x", "y"]).label]

    assert build() == build() == ["model_1", "model_2"]


def test_explicit_labels_do_not_consume_automatic_numbers() -> None:
    with label_scope():
        Categorical([1, 2], label="mine")
        assert Categorical([1, 2]).label == "model_1"


def test_nested_scope_takes_a_number_and_numbers_under_it() -> None:
    # A @model_wrapper model built inside another: NNI's nested ModelNamespace.
    with label_scope():
        outer = Categorical([1, 2]).label
        with label_scope():
            inner = [Categorical([1, 2]).label, Categorical([1, 2]).label]
            with label_scope():
                innermost = Categorical([1, 2]).label
        after = Categorical([1, 2]).label
    assert outer == "model_1"
    assert inner == ["model_2_1", "model_2_2"]
    assert innermost == "model_2_3_1"
    assert after == "model_3"


def test_label_namespace_numbers_afresh_under_a_prefix() -> None:
    with label_scope():
        before = Categorical([1, 2]).label
        with label_namespace("model_1/0"):
            inside = [Categorical([1, 2]).label, Categorical([3, 4]).label]
        after = Categorical([1, 2]).label
    assert before == "model_1"
    assert inside == ["model_1/0/model_1", "model_1/0/model_2"]
    # What was built in the namespace does not shift the numbering outside it.
    assert after == "model_2"


def test_outside_any_scope_labels_are_numbered_default_and_unique() -> None:
    labels = [Categorical([1, 2]).label for _ in range(5)]
    assert len(set(labels)) == 5
    assert all(label.startswith("default_") for label in labels)


def test_shared_label_is_one_decision() -> None:
    first = Categorical([32, 64, 128], label="hidden_dim")
    second = Categorical([32, 64, 128], label="hidden_dim")
    space = SearchSpace([first, second])
    assert list(space) == ["hidden_dim"]
    assert space.size == 3
    for sample in space.grid():
        assert first.freeze(sample) == second.freeze(sample)
    # Expressions over either choice follow the same decision.
    assert (first * 2 - second).possible_values() == [32, 64, 128]


def test_shared_label_accepts_equal_candidates_in_equal_order() -> None:
    SearchSpace(
        [Categorical([1, 2.5], label="x"), Categorical([1.0, 2.5], label="x")]
    )  # 1 == 1.0 in JSON


@pytest.mark.parametrize(
    "other",
    [[32, 64], [64, 32, 128], [32, 64, 256], ["32", "64", "128"]],
    ids=["fewer", "reordered", "different", "strings"],
)
def test_conflicting_candidates_under_one_label(other: list[object]) -> None:
    space = SearchSpace([Categorical([32, 64, 128], label="hidden_dim")])
    with pytest.raises(LabelConflictError, match="'hidden_dim'"):
        space.add(Categorical(other, label="hidden_dim"))


def test_conflicting_kinds_under_one_label() -> None:
    with pytest.raises(LabelConflictError, match="'x'"):
        SearchSpace([Categorical([0, 1], label="x"), InputSubset(2, 1, label="x")])
    with pytest.raises(LabelConflictError, match="'y'"):
        SearchSpace([InputSubset(3, 1, label="y"), InputSubset(3, 2, label="y")])


def test_label_conflict_is_a_value_error() -> None:
    # Users who catch ValueError around space construction keep working.
    assert issubclass(LabelConflictError, ValueError)


def test_empty_candidates_are_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        Categorical([], label="nothing")


@pytest.mark.parametrize(
    "candidates",
    [[1, 2, 1], [1, 1.0], ["a", "a"], [(1, 2), [1, 2]], [None, None], [{"k": 1}, {"k": 1.0}]],
)
def test_duplicate_candidates_are_rejected(candidates: list[object]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Categorical(candidates, label="dup")


def test_true_and_one_are_different_candidates() -> None:
    choice = Categorical([1, True], label="mixed")
    assert choice.size == 2


@pytest.mark.parametrize("bad", ["abc", 3, None])
def test_candidates_must_be_a_list(bad: object) -> None:
    with pytest.raises(TypeError, match="candidates"):
        Categorical(bad, label="x")  # type: ignore[arg-type]
