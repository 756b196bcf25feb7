"""Spaces, objectives and drivers shared by the search-strategy tests (plain functions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import retiarii.strategy as strategy
from retiarii.mutable import Categorical, InputSubset, SearchSpace
from retiarii.strategy import BaseStrategy, TrialResult, sample_key

Sample = dict[str, Any]

#: The model-based strategies, built small enough for spaces of a few dozen samples.
FACTORIES: dict[str, Callable[..., BaseStrategy]] = {
    "RegularizedEvolution": lambda **kw: strategy.RegularizedEvolution(
        population_size=4, sample_size=2, **kw
    ),
    "RegularizedEvolution-crossover": lambda **kw: strategy.RegularizedEvolution(
        population_size=6, sample_size=3, crossover=True, **kw
    ),
    "TPE": lambda **kw: strategy.TPE(n_startup_trials=3, **kw),
    "PolicyBasedRL": lambda **kw: strategy.PolicyBasedRL(trial_per_collect=3, **kw),
    "LocalSearch": lambda **kw: strategy.LocalSearch(initial_samples=3, **kw),
}
#: Strategies that take ``on_failure`` and ``dedup`` (LocalSearch never repeats, never learns
#: from a failure).
WITH_ON_FAILURE = [name for name in FACTORIES if name != "LocalSearch"]


def small_space() -> SearchSpace:
    """18 samples: ``a`` in 0..2, ``b`` in {"x", "y"}, ``c`` a non-empty subset of 2 inputs."""
    return SearchSpace(
        [
            Categorical([0, 1, 2], label="a"),
            Categorical(["x", "y"], label="b"),
            InputSubset(2, None, label="c"),
        ]
    )


def medium_space() -> SearchSpace:
    """4 x 5 x 3 x 3 = 180 samples with one best sample (a=3, b=4, c=2, d=0)."""
    return SearchSpace(
        [
            Categorical([0, 1, 2, 3], label="a"),
            Categorical([0, 1, 2, 3, 4], label="b"),
            Categorical(["p", "q", "r"], label="c"),
            InputSubset(3, 1, label="d"),
        ]
    )


def score(sample: Sample) -> float:
    """A deterministic objective over both spaces (higher is better)."""
    value = 10.0 * sample["a"]
    b = sample["b"]
    value += {"x": 0.0, "y": 3.0}.get(b, 0.0) if isinstance(b, str) else 2.0 * b
    c = sample["c"]
    value += len(c) if isinstance(c, list) else {"p": 0.0, "q": 1.0, "r": 2.0}[c]
    if "d" in sample:
        value -= sample["d"][0]
    return value


def drive(
    search: BaseStrategy,
    space: SearchSpace,
    n: int,
    objective: Callable[[Sample], float] = score,
    *,
    fails: Callable[[Sample], bool] = lambda s: False,
    mode: str | None = None,
    start_id: int = 0,
    attach: bool = True,
) -> list[TrialResult]:
    """Ask/tell ``n`` times (fewer if the strategy stops); failing samples report no value."""
    if attach:
        search.attach(space, mode)
    history = []
    for trial_id in range(start_id, start_id + n):
        sample = search.ask()
        if sample is None:
            break
        assert space.contains(sample), sample
        if fails(sample):
            result = TrialResult(trial_id, sample, "FAILED", None)
        else:
            result = TrialResult(trial_id, sample, "SUCCEEDED", objective(sample))
        search.tell(result)
        history.append(result)
    return history


def keys(history: list[TrialResult]) -> list[str]:
    return [sample_key(r.sample) for r in history]


def json_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """What the store does to a strategy state: strict JSON, no NaN or infinity."""
    return json.loads(json.dumps(state, allow_nan=False))  # type: ignore[no-any-return]


def resumed(
    factory: Callable[[], BaseStrategy],
    space: SearchSpace,
    finished: list[TrialResult],
    running: list[Sample],
    state: dict[str, Any],
) -> BaseStrategy:
    """A fresh strategy brought back as the experiment loop does on resume."""
    search = factory()
    search.attach(space, None)
    for result in finished:  # in trial order, as ExperimentLoop.replay_history does
        search.mark_seen(result.sample)
        search.tell(result)
    for sample in running:
        search.mark_seen(sample)
    search.load_state_dict(json_round_trip(state))
    return search
