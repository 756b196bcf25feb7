"""Joint search of architecture and hyperparameters (seed 002's quick start plus a learning rate)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import retiarii
import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii import model_wrapper
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.mutable import LabelConflictError

from .helpers import make_config
from .spaces import load_digits_tensors

pytestmark = pytest.mark.slow


@model_wrapper
class HiddenNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, nn.ValueChoice([16, 32, 64], label="hidden_dim"))
        self.fc2 = nn.Linear(nn.ValueChoice([16, 32, 64], label="hidden_dim"), 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def fit(model: Any, learning_rate: float, epochs: int) -> float:
    """Full-batch Adam on 1400 digits; the final result is the accuracy on the other 397."""
    assert isinstance(learning_rate, float), learning_rate  # a plain value, never a choice
    torch.manual_seed(0)  # the same initial weights wherever the model was built
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.reset_parameters()
    X, y = load_digits_tensors()
    opt = torch.optim.Adam(model.parameters(), learning_rate)
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(model(X[:1400]), y[:1400]).backward()
        opt.step()
    with torch.no_grad():
        acc = (model(X[1400:]).argmax(1) == y[1400:]).float().mean().item()
    retiarii.report_final_result(acc)
    return acc


def joint_evaluator() -> FunctionalEvaluator:
    return FunctionalEvaluator(
        fit, learning_rate=retiarii.loguniform("learning_rate", 1e-3, 1e-1), epochs=15
    )


@pytest.fixture(scope="module")
def joint_experiment(tmp_path_factory):
    exp = RetiariiExperiment(HiddenNet(), joint_evaluator(), None, strategy.Random(seed=0))
    config = make_config(tmp_path_factory.mktemp("joint"), trial_concurrency=2, max_trial_number=4)
    exp.run(config)
    yield exp
    exp.close()


def test_hidden_dim_and_learning_rate_are_searched_together(joint_experiment) -> None:
    exp = joint_experiment
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 4
    for trial in trials:
        assert set(trial.sample) == {"hidden_dim", "learning_rate"}
        assert trial.sample["hidden_dim"] in (16, 32, 64)
        assert isinstance(trial.sample["learning_rate"], float)
        assert 1e-3 <= trial.sample["learning_rate"] <= 1e-1
    assert len({t.sample["learning_rate"] for t in trials}) == 4
    record = exp.store.experiment()
    assert record.search_space["learning_rate"] == {
        "_type": "loguniform",
        "_value": [1e-3, 1e-1],
    }
    assert record.info["space_size"] == "inf"
    assert record.info["hyperparameter_labels"] == ["learning_rate"]


def test_the_best_trial_is_retrained_exactly(joint_experiment) -> None:
    exp = joint_experiment
    (sample,) = exp.export_top_models(formatter="dict")
    best = exp.store.best_trials(1)[0]
    with retiarii.fixed_arch(sample, strict=False):
        model = HiddenNet()
    assert model.fc1.out_features == sample["hidden_dim"]
    assert joint_evaluator().freeze(sample).evaluate(model) == pytest.approx(best.final_value)
    (instance,) = exp.export_top_models(formatter="instance")
    assert instance.fc1.out_features == sample["hidden_dim"]
    (code,) = exp.export_top_models(formatter="code")
    fixed_line = next(line for line in code.splitlines() if line.startswith("with fixed_arch"))
    assert fixed_line == f"with fixed_arch({{'hidden_dim': {sample['hidden_dim']}}}):"
    assert "# evaluator hyperparameters: evaluator.freeze(" in code


def test_conflicting_labels_in_model_and_evaluator(tmp_path) -> None:
    evaluator = FunctionalEvaluator(
        fit, learning_rate=0.01, epochs=nn.ValueChoice([1, 2], label="hidden_dim")
    )
    exp = RetiariiExperiment(HiddenNet(), evaluator, None, strategy.Random())
    with pytest.raises(LabelConflictError, match="'hidden_dim' is used by the model"):
        exp.run(make_config(tmp_path, max_trial_number=1))


def test_resume_of_a_continuous_search(tmp_path) -> None:
    def score(model: Any, learning_rate: float, dropout: float) -> float:
        return -abs(math.log10(learning_rate) + 2) - dropout

    evaluator = FunctionalEvaluator(
        score,
        learning_rate=retiarii.loguniform("learning_rate", 1e-4, 1e-1),
        dropout=retiarii.uniform("dropout", 0.0, 0.5),
    )
    search = strategy.RegularizedEvolution(population_size=3, sample_size=2, seed=0)
    exp = RetiariiExperiment(HiddenNet(), evaluator, None, search)
    exp.run(make_config(tmp_path, max_trial_number=4, execution="inprocess"))
    directory = exp.experiment_dir
    first = [t.sample for t in exp.list_trial_jobs()]
    exp.close()

    resumed = RetiariiExperiment.resume(
        directory, config=make_config(tmp_path, max_trial_number=8, execution="inprocess")
    )
    trials = resumed.list_trial_jobs()
    assert [t.sample for t in trials[:4]] == first
    assert len(trials) == 8 and all(t.status == "SUCCEEDED" for t in trials)
    space = resumed._space()
    for trial in trials:
        assert space.validate(trial.sample) == trial.sample
    assert len({(t.sample["learning_rate"], t.sample["dropout"]) for t in trials}) == 8
    resumed.close()
