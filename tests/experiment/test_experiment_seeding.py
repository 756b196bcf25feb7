"""Trials are seeded from the experiment's seed and their sample, before the model is built."""

from __future__ import annotations

import random

import pytest
import torch

import retiarii
import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.config import ConfigError
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.experiment.runner import ModelSpaceTrialRunner
from retiarii.experiment.seeding import trial_seed_for

from .helpers import make_config
from .spaces import DigitsNet, TinyNet, fit_digits_unseeded


class _Weights:
    """An evaluator that returns the built model's weights (in-process only)."""

    def evaluate(self, model: torch.nn.Module) -> None:
        self.state = {k: v.clone() for k, v in model.state_dict().items()}


def _weights_after(runner: ModelSpaceTrialRunner, sample: dict, noise: int) -> dict:
    torch.manual_seed(noise)  # whatever this worker ran before
    random.seed(noise)
    runner.run(sample, "")
    return runner.evaluator.state


def test_the_same_sample_gets_the_same_weights_whatever_ran_before() -> None:
    space = retiarii.ModelSpace(TinyNet())
    sample = {"width": 3, "act": 1}
    runner = ModelSpaceTrialRunner(space, _Weights(), seed=0)
    first, second = _weights_after(runner, sample, 1), _weights_after(runner, sample, 2)
    assert all(torch.equal(first[k], second[k]) for k in first)
    other_seed = ModelSpaceTrialRunner(space, _Weights(), seed=1)
    third = _weights_after(other_seed, sample, 1)
    assert not torch.equal(first["fc.weight"], third["fc.weight"])


def test_opting_out_leaves_the_generators_alone() -> None:
    space = retiarii.ModelSpace(TinyNet())
    runner = ModelSpaceTrialRunner(space, _Weights(), seed=None)
    first = _weights_after(runner, {"width": 3, "act": 1}, 1)
    second = _weights_after(runner, {"width": 3, "act": 1}, 2)
    assert not torch.equal(first["fc.weight"], second["fc.weight"])


def test_trial_seeds_are_stable_and_depend_on_seed_and_sample() -> None:
    assert trial_seed_for(0, {"a": 1, "b": "x"}) == trial_seed_for(0, {"b": "x", "a": 1})
    assert trial_seed_for(0, {"a": 1}) != trial_seed_for(1, {"a": 1})
    assert trial_seed_for(0, {"a": 1}) != trial_seed_for(0, {"a": 2})
    assert 0 <= trial_seed_for(7, {"a": [0, 1]}) < 2**32


def _results(exp: RetiariiExperiment) -> dict[str, float]:
    return {repr(sorted(t.sample.items())): t.final for t in exp.store.trials()}


@pytest.mark.slow
def test_results_are_bit_exact_across_workers_and_orders(tmp_path) -> None:
    evaluator = FunctionalEvaluator(fit_digits_unseeded)
    in_order = RetiariiExperiment(DigitsNet(), evaluator, None, strategy.GridSearch(shuffle=False))
    in_order.run(make_config(tmp_path, trial_concurrency=2, max_trial_number=6))
    shuffled = RetiariiExperiment(
        DigitsNet(), evaluator, None, strategy.GridSearch(shuffle=True, seed=3)
    )
    shuffled.run(make_config(tmp_path, trial_concurrency=1, max_trial_number=6))
    orders = [[t.sample for t in exp.store.trials()] for exp in (in_order, shuffled)]
    assert orders[0] != orders[1]  # other workers, another order, fresh and reused workers
    first, second = _results(in_order), _results(shuffled)
    assert len(first) == len(second) == 6
    assert len(set(first.values())) > 1
    for key, value in first.items():
        assert second[key] == value, key  # bit-exact, not approximately equal


def test_trial_seed_is_validated() -> None:
    config = RetiariiExeConfig("local")
    config.trial_seed = "0"
    with pytest.raises(ConfigError, match="trial_seed"):
        config.validate()
