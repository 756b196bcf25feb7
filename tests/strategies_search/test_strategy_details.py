"""What each algorithm does, beyond the shared contract."""

from __future__ import annotations

import builtins
import itertools
import random
import sys
from typing import Any

import pytest

import retiarii.strategy as strategy
from retiarii.mutable import Categorical, InputSubset, SearchSpace
from retiarii.strategy import TrialResult
from retiarii.strategy._encoding import Encoding

from .helpers import drive, medium_space, score


def test_encoding_round_trips_and_mutates_one_label() -> None:
    space = medium_space()
    encoding = Encoding(space)
    assert encoding.sizes == [4, 5, 3, 3] and encoding.size == space.size == 180
    for sample in space.grid():
        assert encoding.decode(encoding.encode(sample)) == sample
    rng = random.Random(0)
    index = encoding.encode(space.random(rng))
    for _ in range(50):
        child = encoding.mutate(index, rng)
        assert sum(a != b for a, b in zip(child, index)) == 1
    assert len(encoding.neighbours(index)) == 3 + 4 + 2 + 2
    assert encoding.encode({"a": 1.0, "b": 2, "c": "p", "d": [0]}) == (1, 2, 0, 0)


def test_encoding_finds_the_last_unseen_samples() -> None:
    encoding = Encoding(medium_space())
    seen = set(itertools.product(*(range(n) for n in encoding.sizes)))
    last = seen.pop()
    assert encoding.random_unseen(random.Random(0), seen, tries=3) == last
    seen.add(last)
    assert encoding.random_unseen(random.Random(0), seen) is None


def test_evolution_ages_out_the_oldest_member() -> None:
    search = strategy.RegularizedEvolution(population_size=5, sample_size=2, seed=0)
    history = drive(search, medium_space(), 12)
    members = [search.encoding.decode(i) for i, _ in search.population]
    assert members == [r.sample for r in history[-5:]]


def test_evolution_mutates_the_tournament_winner() -> None:
    search = strategy.RegularizedEvolution(population_size=6, sample_size=6, seed=1)
    history = drive(search, medium_space(), 6)  # the random population
    best = max(history, key=lambda r: r.value)
    child = search.ask()
    assert child is not None
    changed = [label for label in child if child[label] != best.sample[label]]
    assert 1 <= len(changed) <= 2  # mutation_prob 0.05: almost always exactly one label


def test_evolution_takes_nni_arguments_and_stops_after_cycles() -> None:
    # As NNI 2.10's docs call it: RegularizedEvolution(population_size, sample_size, cycles, ...)
    search = strategy.RegularizedEvolution("maximize", 6, 3, 10, 0.2, "worst", True, None, seed=0)
    assert (search.population_size, search.sample_size, search.cycles) == (6, 3, 10)
    assert (search.mutation_prob, search.on_failure, search.dedup) == (0.2, "worst", True)
    history = drive(search, medium_space(), 50)
    assert len(history) == 10  # the 6 random ones and 4 children
    assert search.ask() is None and search.exhausted
    assert "10 cycles" in search.exhausted_reason


def test_evolution_cycles_survive_a_resume() -> None:
    first = strategy.RegularizedEvolution(population_size=4, sample_size=2, cycles=9, seed=0)
    history = drive(first, medium_space(), 5)
    second = strategy.RegularizedEvolution(population_size=4, sample_size=2, cycles=9, seed=0)
    second.attach(medium_space())
    for result in history:
        second.tell(result)
    second.load_state_dict(first.state_dict())
    assert len(drive(second, medium_space(), 50, attach=False)) == 4


def test_evolution_filtered_models_and_cycles() -> None:
    search = strategy.RegularizedEvolution(
        population_size=4, sample_size=2, cycles=6, model_filter=lambda s: s["a"] != 0, seed=0
    )
    history = drive(search, medium_space(), 50)
    assert len(history) == 6 and all(r.sample["a"] != 0 for r in history)


def test_evolution_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        strategy.RegularizedEvolution(population_size=5, sample_size=6)
    with pytest.raises(ValueError, match="population_size"):
        strategy.RegularizedEvolution(population_size=0)
    with pytest.raises(ValueError, match="mutation_prob"):
        strategy.RegularizedEvolution(mutation_prob=1.5)


def test_local_search_climbs_one_label_at_a_time() -> None:
    search = strategy.LocalSearch(initial_samples=4, seed=0)
    history = drive(search, medium_space(), 40)
    initial = history[:4]
    centre = max(initial, key=lambda r: r.value).sample
    for result in history[4:]:
        if search.encoding.encode(result.sample) == search.centre:
            break
        # until a kick, every trial is one label away from the current centre
        assert sum(result.sample[k] != centre[k] for k in centre) == 1
        if result.value > score(centre):
            centre = result.sample
    assert max(r.value for r in history) == 40.0


def test_local_search_kicks_from_the_best_at_a_local_optimum() -> None:
    # a needle: every sample scores 0 except one; the climb stalls at once and kicks
    space = SearchSpace([Categorical(list(range(3)), label=x) for x in "abc"])
    search = strategy.LocalSearch(initial_samples=1, perturbation=2, seed=3)
    history = drive(search, space, 27, lambda s: float(s == {"a": 2, "b": 2, "c": 2}))
    assert len(history) == 27 and search.exhausted is False
    assert search.ask() is None and search.exhausted


def test_rl_stops_after_max_collect_and_learns() -> None:
    search = strategy.PolicyBasedRL(max_collect=6, trial_per_collect=5, learning_rate=0.3, seed=0)
    history = drive(search, medium_space(), 100)
    assert len(history) == 30
    assert search.exhausted and "max_collect=6" in search.exhausted_reason
    import torch

    probs = torch.softmax(search.policy.logits[0, :4], 0)
    assert int(probs.argmax()) == 3  # a=3 is worth most: the policy prefers it


def test_rl_with_a_custom_policy() -> None:
    from retiarii.strategy.policy import LSTMPolicy

    search = strategy.PolicyBasedRL(
        trial_per_collect=4, policy_fn=lambda sizes: LSTMPolicy(sizes, hidden_size=8), seed=0
    )
    history = drive(search, medium_space(), 20)
    assert len(history) == 20
    again = strategy.PolicyBasedRL(
        trial_per_collect=4, policy_fn=lambda sizes: LSTMPolicy(sizes, hidden_size=8), seed=0
    )
    assert [r.sample for r in drive(again, medium_space(), 20)] == [r.sample for r in history]


def test_tpe_uses_optuna_and_records_repeats_as_failed() -> None:
    search = strategy.TPE(n_startup_trials=3, seed=0)
    history = drive(search, medium_space(), 40)
    assert len({str(r.sample) for r in history}) == 40
    study = search._study
    states = {t.state.name for t in study.trials}
    assert "COMPLETE" in states
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 40


def test_tpe_without_optuna_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_optuna(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "optuna" or name.startswith("optuna."):
            raise ImportError("No module named 'optuna'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "optuna", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_optuna)
    search = strategy.TPE()  # constructing needs nothing
    with pytest.raises(ImportError, match=r"-m pip install -e .*\[tpe\]"):
        search.attach(medium_space())


def test_strategies_work_with_input_choices_only() -> None:
    space = SearchSpace([InputSubset(4, None, label="x"), InputSubset(3, 2, label="y")])
    for make in (
        lambda: strategy.RegularizedEvolution(population_size=4, sample_size=2, seed=0),
        lambda: strategy.LocalSearch(initial_samples=2, seed=0),
        lambda: strategy.TPE(n_startup_trials=2, seed=0),
        lambda: strategy.PolicyBasedRL(trial_per_collect=2, seed=0),
    ):
        history = drive(make(), space, 100, lambda s: float(len(s["x"]) + s["y"][0]))
        assert len(history) == space.size == 45


def test_strategy_pickles_before_and_after_attach() -> None:
    import cloudpickle

    for make in (
        lambda: strategy.TPE(seed=0),
        lambda: strategy.PolicyBasedRL(seed=0),
        lambda: strategy.LocalSearch(seed=0),
    ):
        search = make()
        cloudpickle.loads(cloudpickle.dumps(search))
        drive(search, medium_space(), 5)
        copy = cloudpickle.loads(cloudpickle.dumps(search))
        copy.attach(medium_space())
        assert copy.ask() is not None
    assert TrialResult(0, {}, "SUCCEEDED", 1.0).succeeded


def test_rl_resume_applies_a_result_that_came_after_the_save() -> None:
    # a collection of 3: two finished, the third was running when max_experiment_duration ran out
    # (CANCELED: finished in the store, but told only on the resume's replay, before the load)
    space = medium_space()

    def make() -> strategy.PolicyBasedRL:
        return strategy.PolicyBasedRL(trial_per_collect=3, seed=0)

    search = make()
    finished = drive(search, space, 2)
    last = search.ask()
    assert last is not None
    state = search.state_dict()  # saved at submit time, before the cancel
    canceled = TrialResult(3, last, "CANCELED", None)

    from .helpers import resumed

    again = resumed(make, space, [*finished, canceled], [], state)
    assert again.collects == 1 and again.batch == []  # the collection completed on load
    assert again.ask() is not None


def test_tpe_strategies_describe_their_sampler_arguments() -> None:
    # what the store and ``retiarii list`` show: the arguments that differ from the defaults
    assert repr(strategy.TPE(n_startup_trials=3, group=True, seed=1)) == (
        "TPE(n_startup_trials=3, group=True, seed=1)"
    )
    assert repr(strategy.MultiObjectiveTPE(n_ei_candidates=5, multivariate=False)) == (
        "MultiObjectiveTPE(n_ei_candidates=5, multivariate=False)"
    )
