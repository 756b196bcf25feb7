"""Strategies on spaces with continuous distributions: plain ask/tell objects, no processes."""

from __future__ import annotations

import json
import math

import pytest

import retiarii.strategy as strategy
from retiarii.mutable import Categorical, SearchSpace, loguniform, normal, quniform, uniform
from retiarii.strategy import BaseStrategy, TrialResult
from retiarii.tuner import parameters_to_sample, sample_to_parameters


def joint_space() -> SearchSpace:
    return SearchSpace(
        [
            Categorical([16, 32, 64], label="hidden"),
            loguniform("lr", 1e-4, 1e-1),
            uniform("drop", 0.0, 0.5),
            normal("shift", 0.0, 1.0),
            quniform("wd", 0.0, 1.0, 0.25),
        ]
    )


def score(sample: dict) -> float:
    """Best at lr = 1e-2, drop = 0.1, shift = 0, hidden = 64, wd = 0."""
    return (
        -((math.log10(sample["lr"]) + 2) ** 2)
        - (sample["drop"] - 0.1) ** 2
        - sample["shift"] ** 2
        + sample["hidden"] / 64
        - sample["wd"]
    )


def run(
    search: BaseStrategy, trials: int, space: SearchSpace | None = None, metric=None
) -> list[dict]:
    space = space or joint_space()
    metric = metric or score
    search.attach(space, "maximize")
    samples = []
    for i in range(trials):
        sample = search.ask()
        assert sample is not None
        assert space.validate(sample) == sample
        assert json.loads(json.dumps(sample)) == sample
        samples.append(sample)
        search.tell(TrialResult(i, sample, "SUCCEEDED", metric(sample)))
    return samples


STRATEGIES = {
    "random": lambda: strategy.Random(seed=0),
    "tpe": lambda: strategy.TPE(seed=0, n_startup_trials=8),
    "evolution": lambda: strategy.RegularizedEvolution(
        population_size=8, sample_size=3, mutation_prob=0.3, seed=0
    ),
    "local": lambda: strategy.LocalSearch(initial_samples=5, seed=0),
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategies_propose_continuous_values(name: str) -> None:
    samples = run(STRATEGIES[name](), 40)
    lrs = {s["lr"] for s in samples}
    assert len(lrs) > 10  # real numbers, not a handful of grid points
    grid = set(joint_space()["lr"].values())
    assert not lrs <= grid


@pytest.mark.parametrize("name", ["tpe", "evolution", "local"])
def test_model_based_strategies_beat_random_on_a_smooth_score(name: str) -> None:
    def best(make) -> float:
        return max(score(s) for s in run(make(), 60))

    assert best(STRATEGIES[name]) > best(STRATEGIES["random"]) - 0.05


def test_evolution_mutates_continuous_values_locally() -> None:
    search = strategy.RegularizedEvolution(
        population_size=4, sample_size=4, mutation_prob=1.0, seed=1
    )
    space = SearchSpace([loguniform("lr", 1e-4, 1e-1)])
    samples = run(search, 30, space, lambda s: -abs(math.log10(s["lr"]) + 2))
    # a child is a Gaussian step from its parent in log scale, not a fresh uniform draw:
    # each child is within a few steps of some earlier sample
    lr = space["lr"]
    for i in range(4, 30):
        u = lr.to_unit(samples[i]["lr"])
        assert min(abs(u - lr.to_unit(p["lr"])) for p in samples[:i]) < 0.5


@pytest.mark.parametrize("name", ["tpe", "evolution", "local", "random"])
def test_state_dict_round_trips_through_json(name: str) -> None:
    search = STRATEGIES[name]()
    run(search, 12)
    state = json.loads(json.dumps(search.state_dict()))
    fresh = STRATEGIES[name]()
    fresh.attach(joint_space(), "maximize")
    fresh.load_state_dict(state)
    assert json.loads(json.dumps(fresh.state_dict())) == state
    assert fresh.ask() is not None


def test_grid_search_quantizes_continuous_labels() -> None:
    space = SearchSpace([Categorical(["a", "b"], label="x"), uniform("drop", 0.0, 0.5)])
    search = strategy.GridSearch()
    search.attach(space)
    samples = []
    while (sample := search.ask()) is not None:
        samples.append(sample)
    assert len(samples) == 2 * 5
    assert sorted({s["drop"] for s in samples}) == pytest.approx([0.05, 0.15, 0.25, 0.35, 0.45])


def test_random_dedup_does_not_exhaust_an_infinite_space() -> None:
    search = strategy.Random(dedup=True, seed=0)
    search.attach(SearchSpace([uniform("u", 0, 1)]))
    assert len({search.ask()["u"] for _ in range(100)}) == 100  # type: ignore[index]


def test_policy_based_rl_refuses_a_continuous_space() -> None:
    with pytest.raises(ValueError, match=r"PolicyBasedRL needs a finite search space.*'lr'"):
        strategy.PolicyBasedRL().attach(joint_space(), "maximize")
    # quantized distributions are finite: fine
    strategy.PolicyBasedRL(seed=0).attach(
        SearchSpace([quniform("wd", 0, 1, 0.25), Categorical([1, 2], label="h")]), "maximize"
    )


def test_tuner_format_carries_numerical_values() -> None:
    space = joint_space()
    sample = space.random(3)
    params = sample_to_parameters(space, sample)
    assert params["lr"] == {"_value": sample["lr"]}
    assert params["hidden"]["_idx"] == [16, 32, 64].index(sample["hidden"])
    assert parameters_to_sample(space, json.loads(json.dumps(params))) == sample
    plain = {**params, "lr": 0.003, "drop": {"_value": 0.2}}  # what HPO tuners return
    assert parameters_to_sample(space, plain)["lr"] == 0.003
