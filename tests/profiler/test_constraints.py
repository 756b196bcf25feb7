"""Constraints: RangeProfilerFilter, and a constrained space every strategy samples inside."""

from __future__ import annotations

import pytest

import retiarii.strategy as strategy
from retiarii.mutable import Categorical, SearchSpace
from retiarii.mutable.constraint import ConstrainedSearchSpace, InfeasibleConstraintError
from retiarii.profiler import Profiler, RangeProfilerFilter
from retiarii.strategy import TrialResult


class SumProfiler(Profiler):
    """Cost = a + b (counts its calls)."""

    def __init__(self) -> None:
        self.calls = 0

    def profile(self, sample):
        self.calls += 1
        return sample["a"] + sample["b"]


def space() -> SearchSpace:
    return SearchSpace(
        [Categorical(list(range(6)), label="a"), Categorical(list(range(6)), label="b")]
    )


def test_range_filter_bounds_are_inclusive() -> None:
    keep = RangeProfilerFilter(SumProfiler(), min=2, max=4)
    assert [keep({"a": s, "b": 0}) for s in range(6)] == [False, False, True, True, True, False]
    assert keep.seen_range() == (0, 5)
    assert "max=4" in repr(keep)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({}, "min, max or both"), ({"min": 3, "max": 1}, "larger than max")],
)
def test_range_filter_refuses_nonsense(kwargs, error) -> None:
    with pytest.raises(ValueError, match=error):
        RangeProfilerFilter(SumProfiler(), **kwargs)


def test_range_filter_needs_a_profiler() -> None:
    with pytest.raises(TypeError, match="profiler"):
        RangeProfilerFilter(lambda s: 1, max=3)  # type: ignore[arg-type]


def test_constrained_space_draws_and_enumerates_inside() -> None:
    constrained = ConstrainedSearchSpace(space(), RangeProfilerFilter(SumProfiler(), max=3))
    assert all(s["a"] + s["b"] <= 3 for s in (constrained.random(i) for i in range(50)))
    assert sum(1 for _ in constrained.grid()) == 10
    assert constrained.contains({"a": 1, "b": 1}) and not constrained.contains({"a": 5, "b": 5})
    constrained.check()


def test_empty_constraint_is_reported_with_the_range_seen() -> None:
    constrained = ConstrainedSearchSpace(space(), RangeProfilerFilter(SumProfiler(), min=11))
    with pytest.raises(InfeasibleConstraintError, match=r"all 36 samples.*0 to 10"):
        constrained.check()
    with pytest.raises(InfeasibleConstraintError, match="none of"):
        ConstrainedSearchSpace(space(), lambda s: False, max_tries=20).random(0)


def test_large_space_is_checked_by_random_draws() -> None:
    constrained = ConstrainedSearchSpace(space(), lambda s: False, max_tries=30, enumerate_limit=10)
    with pytest.raises(InfeasibleConstraintError, match="none of 30 random samples"):
        constrained.check()


def test_constraint_must_be_callable() -> None:
    with pytest.raises(TypeError, match="fn\\(sample\\)"):
        ConstrainedSearchSpace(space(), 3)  # type: ignore[arg-type]


STRATEGIES = {
    "Random": lambda: strategy.Random(dedup=True, seed=0),
    "GridSearch": lambda: strategy.GridSearch(),
    "RegularizedEvolution": lambda: strategy.RegularizedEvolution(
        population_size=4, sample_size=2, seed=0
    ),
    "LocalSearch": lambda: strategy.LocalSearch(seed=0),
    "TPE": lambda: strategy.TPE(seed=0, n_startup_trials=3),
    "NSGAII": lambda: strategy.NSGAII({"default": "maximize"}, population_size=4, seed=0),
    "MultiObjectiveEvolution": lambda: strategy.MultiObjectiveEvolution(
        {"default": "maximize"}, population_size=4, sample_size=2, seed=0
    ),
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_proposes_only_inside_the_constraint(name) -> None:
    search = STRATEGIES[name]()
    constrained = ConstrainedSearchSpace(space(), lambda s: s["a"] + s["b"] <= 3)
    search.attach(constrained, "maximize")
    proposed = []
    for trial_id in range(10):  # exactly the 10 feasible samples exist
        sample = search.ask()
        if sample is None:
            break
        proposed.append(sample)
        value = float(sample["a"] * 2 + sample["b"])
        search.tell(TrialResult(trial_id, sample, "SUCCEEDED", value, {"default": value}))
    assert proposed, name
    assert all(s["a"] + s["b"] <= 3 for s in proposed), name
