"""Constraints: rules over several labels that validate rejects and random/grid skip."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from retiarii.mutable import (
    Categorical,
    Constraint,
    ConstraintViolation,
    SampleError,
    SearchSpace,
)


class SumAtMost(Constraint):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.key = f"sum<={limit}"

    def check(self, sample: Mapping[str, Any]) -> str | None:
        total = sample["a"] + sample["b"]
        return None if total <= self.limit else f"a + b = {total} exceeds {self.limit}"


def _space(limit: int) -> SearchSpace:
    return SearchSpace(
        [Categorical([1, 2, 3], label="a"), Categorical([1, 2, 3], label="b")],
        [SumAtMost(limit)],
    )


def test_validate_rejects_a_sample_that_breaks_a_constraint_with_its_message() -> None:
    space = _space(4)
    assert space.validate({"a": 1, "b": 3}) == {"a": 1, "b": 3}
    with pytest.raises(ConstraintViolation, match="a \\+ b = 5 exceeds 4"):
        space.validate({"a": 2, "b": 3})
    assert issubclass(ConstraintViolation, SampleError)
    assert not space.contains({"a": 3, "b": 3})


def test_random_and_grid_yield_only_samples_that_satisfy_the_constraints() -> None:
    space = _space(4)
    assert space.size == 9  # size counts samples before constraints
    grid = list(space.grid())
    assert len(grid) == 6 and all(s["a"] + s["b"] <= 4 for s in grid)
    rng = random.Random(0)
    drawn = [space.random(rng) for _ in range(200)]
    assert all(s["a"] + s["b"] <= 4 for s in drawn)
    assert {(s["a"], s["b"]) for s in drawn} == {(s["a"], s["b"]) for s in grid}


def test_random_gives_up_with_a_clear_error_when_nothing_satisfies() -> None:
    space = _space(1)
    space.max_constraint_rejections = 50
    with pytest.raises(SampleError, match="no random sample satisfied"):
        space.random(0)


def test_constraints_with_the_same_key_are_kept_once() -> None:
    space = _space(4)
    space.add_constraint(SumAtMost(4))
    assert len(space.constraints) == 1


def test_an_experiment_constraint_keeps_the_space_own_constraints() -> None:
    from retiarii.mutable.constraint import ConstrainedSearchSpace

    space = ConstrainedSearchSpace(_space(4), lambda sample: sample["a"] != 2)
    grid = list(space.grid())
    assert grid == [{"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 3, "b": 1}]
    assert not space.contains({"a": 3, "b": 3})  # breaks a + b <= 4
    with pytest.raises(ConstraintViolation):
        space.validate({"a": 3, "b": 3})
    assert space.validate({"a": 2, "b": 1}) == {"a": 2, "b": 1}  # search-only: not enforced
    assert not space.contains({"a": 2, "b": 1})
    rng = random.Random(0)
    assert all(s in grid for s in (space.random(rng) for _ in range(50)))


def test_a_search_only_constraint_steers_sampling_but_validate_accepts_a_sample_outside_it() -> (
    None
):
    class NotTwo(SumAtMost):
        search_only = True

        def check(self, sample: Mapping[str, Any]) -> str | None:
            return "a is 2" if sample["a"] == 2 else None

    space = _space(4)
    space.add_constraint(NotTwo(0))
    assert space.validate({"a": 2, "b": 1}) == {"a": 2, "b": 1}  # built by hand: allowed
    assert not space.contains({"a": 2, "b": 1})
    assert space.violation({"a": 2, "b": 1}) == "a is 2"
    assert space.violation({"a": 2, "b": 1}, include_search_only=False) is None
    assert all(s["a"] != 2 for s in space.grid())
    assert all(space.random(seed)["a"] != 2 for seed in range(30))
    with pytest.raises(ConstraintViolation, match="exceeds 4"):  # the enforced rule still is
        space.validate({"a": 3, "b": 3})
