"""Pareto utilities and the multi-objective strategies (seeded, resumable, Pareto-seeking)."""

from __future__ import annotations

import itertools
import random

import pytest

import retiarii.strategy as strategy
from retiarii.mutable import Categorical, SearchSpace
from retiarii.pareto import (
    Objectives,
    crowding_distance,
    dominates,
    hypervolume,
    non_dominated_sort,
    pareto_front,
)
from retiarii.strategy import TrialResult

OBJ = {"default": "maximize", "cost": "minimize"}


def test_objectives_read_and_orient_metrics() -> None:
    obj = Objectives(OBJ)
    assert obj.vector({"default": 0.9, "cost": 3, "other": 1}) == (-0.9, 3.0)
    assert obj.vector({"default": 0.9}) is None  # incomplete
    assert obj.vector({"default": float("nan"), "cost": 1}) is None
    assert Objectives({"default": "minimize"}).vector(2.5) == (2.5,)


@pytest.mark.parametrize("bad", [{}, {"a": "up"}, "maximize"])
def test_bad_objectives_are_named(bad) -> None:
    with pytest.raises(ValueError, match=r"objective|direction"):
        Objectives(bad)


def test_non_dominated_sort_matches_brute_force() -> None:
    rng = random.Random(0)
    points = [(rng.randint(0, 5), rng.randint(0, 5), rng.randint(0, 3)) for _ in range(40)]
    fronts = non_dominated_sort(points)
    assert sorted(itertools.chain(*fronts)) == list(range(40))
    remaining = set(range(40))
    for front in fronts:
        expected = {
            i for i in remaining if not any(dominates(points[j], points[i]) for j in remaining)
        }
        assert set(front) == expected
        remaining -= expected
    assert pareto_front(points) == fronts[0]


def test_crowding_distance_favours_isolated_points() -> None:
    points = [(0, 4), (1, 3), (1.1, 2.9), (4, 0)]
    distance = crowding_distance(points, [0, 1, 2, 3])
    assert distance[0] == distance[3] == float("inf")
    assert distance[1] < distance[2] or distance[2] < float("inf")


def test_hypervolume_is_exact() -> None:
    assert hypervolume([(1, 1)], (2, 2)) == 1
    assert hypervolume([(0, 1), (1, 0)], (2, 2)) == 3
    assert hypervolume([(3, 3)], (2, 2)) == 0  # outside the reference box
    # 3-D: union of boxes by inclusion-exclusion
    assert hypervolume([(0, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx(4 + 2 - 1)


def _space() -> SearchSpace:
    return SearchSpace(Categorical(list(range(5)), label=f"x{i}") for i in range(4))


def _metrics(sample) -> dict[str, float]:
    # accuracy grows with the sum, cost with the square of the first label: a real trade-off
    return {"default": float(sum(sample.values())), "cost": float(sample["x0"] ** 2 + sample["x1"])}


FACTORIES = {
    "NSGAII": lambda seed: strategy.NSGAII(OBJ, population_size=6, seed=seed),
    "MultiObjectiveTPE": lambda seed: strategy.MultiObjectiveTPE(
        OBJ, n_startup_trials=5, seed=seed
    ),
    "MultiObjectiveEvolution": lambda seed: strategy.MultiObjectiveEvolution(
        OBJ, population_size=6, sample_size=3, seed=seed
    ),
}


def _run(search, n: int, start: int = 0, history=()):
    search.attach(_space(), "maximize")
    for result in history:
        search.mark_seen(result.sample)
        search.tell(result)
    out = []
    for trial_id in range(start, start + n):
        sample = search.ask()
        result = TrialResult(trial_id, sample, "SUCCEEDED", None, _metrics(sample))
        search.tell(result)
        out.append(result)
    return out


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_seeded_and_deterministic(name) -> None:
    a = [r.sample for r in _run(FACTORIES[name](3), 25)]
    b = [r.sample for r in _run(FACTORIES[name](3), 25)]
    assert a == b
    assert len({tuple(s.values()) for s in a}) == 25  # dedup


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_resume_continues_like_the_uninterrupted_run(name) -> None:
    full = _run(FACTORIES[name](1), 30)
    first = FACTORIES[name](1)
    head = _run(first, 18)
    state = first.state_dict()
    resumed = FACTORIES[name](1)
    resumed.attach(_space(), "maximize")
    for r in head:
        resumed.mark_seen(r.sample)
        resumed.tell(r)
    resumed.load_state_dict(state)
    tail = []
    for trial_id in range(18, 30):
        sample = resumed.ask()
        resumed.tell(TrialResult(trial_id, sample, "SUCCEEDED", None, _metrics(sample)))
        tail.append(sample)
    assert tail == [r.sample for r in full[18:]]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_finds_most_of_the_front(name) -> None:
    obj = Objectives(OBJ)
    everything = [
        dict(zip([f"x{i}" for i in range(4)], c)) for c in itertools.product(range(5), repeat=4)
    ]
    points = [obj.vector(_metrics(s)) for s in everything]
    reference = (0.0, 17.0)
    true = hypervolume(points, reference)
    found = [obj.vector(r.metrics) for r in _run(FACTORIES[name](0), 80)]
    assert hypervolume(found, reference) >= 0.8 * true


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_failures_and_missing_objectives_are_ignored(name) -> None:
    search = FACTORIES[name](0)
    search.attach(_space(), "maximize")
    for trial_id in range(12):
        sample = search.ask()
        status = "FAILED" if trial_id % 3 == 0 else "SUCCEEDED"
        metrics = {"default": 1.0} if trial_id % 3 == 1 else _metrics(sample)
        search.tell(TrialResult(trial_id, sample, status, None, metrics))
    assert search.ask() is not None


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_objectives_are_required(name) -> None:
    search = type(FACTORIES[name](0))()
    with pytest.raises(ValueError, match="objectives"):
        search.attach(_space(), "maximize")


def test_evolution_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        strategy.MultiObjectiveEvolution(OBJ, population_size=2, sample_size=3)
    with pytest.raises(ValueError, match="mutation_prob"):
        strategy.MultiObjectiveEvolution(OBJ, mutation_prob=2)
    with pytest.raises(ValueError, match="population_size"):
        strategy.NSGAII(OBJ, population_size=1)


def test_evolution_mutates_a_continuous_label() -> None:
    from retiarii.mutable import uniform

    space = SearchSpace([Categorical([1, 2, 3], label="a"), uniform("lr", 0.0, 1.0)])
    search = strategy.MultiObjectiveEvolution(
        OBJ, population_size=3, sample_size=2, mutation_prob=1.0, seed=0
    )
    search.attach(space, "maximize")
    for trial_id in range(12):  # past the random population: children are mutations
        sample = search.ask()
        assert sample is not None and 0.0 <= sample["lr"] <= 1.0
        metrics = {"default": sample["a"] + sample["lr"], "cost": sample["a"]}
        search.tell(TrialResult(trial_id, sample, "SUCCEEDED", None, metrics))


@pytest.mark.parametrize("name", ["NSGAII", "MultiObjectiveTPE"])
def test_optuna_strategies_search_a_continuous_label(name) -> None:
    pytest.importorskip("optuna")
    from retiarii.mutable import loguniform

    space = SearchSpace([Categorical([1, 2, 3], label="a"), loguniform("lr", 1e-4, 1e-1)])
    search = FACTORIES[name](0)
    search.attach(space, "maximize")
    for trial_id in range(8):
        sample = search.ask()
        assert sample is not None and 1e-4 <= sample["lr"] <= 1e-1
        metrics = {"default": sample["a"] * sample["lr"], "cost": sample["a"]}
        search.tell(TrialResult(trial_id, sample, "SUCCEEDED", None, metrics))
