"""Classic applied mutators (seeds 000/002): decisions join the search space, trials obey them."""

from __future__ import annotations

import pytest
import torch

import retiarii
import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.mutators import MutatedSpace
from retiarii.experiment.pytorch import RetiariiExperiment

from .helpers import make_config
from .spaces import ACT_NAMES, ActMutator, MutableBase, TinyNet, report_structure


@pytest.mark.parametrize("execution", ["inprocess", "process"])
def test_grid_search_over_mutator_decisions(tmp_path, execution) -> None:
    exp = RetiariiExperiment(
        MutableBase(),
        FunctionalEvaluator(report_structure),
        [ActMutator(label="act_mutator")],
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution=execution, trial_concurrency=2))

    space = exp.store.experiment().search_space
    assert space == {
        "act_mutator/choice_0": {"_type": "choice", "_value": [0, 1, 2]},
        "act_mutator/choice_1": {"_type": "choice", "_value": [1, 2]},
    }
    trials = exp.list_trial_jobs()
    assert len(trials) == 6
    assert (
        len({(t.sample["act_mutator/choice_0"], t.sample["act_mutator/choice_1"]) for t in trials})
        == 6
    )
    for trial in trials:
        assert trial.status == "SUCCEEDED", trial.error
        assert trial.final["act"] == ACT_NAMES[trial.sample["act_mutator/choice_0"]]
        assert trial.final["scale"] == trial.sample["act_mutator/choice_1"]

    [best] = exp.export_top_models(formatter="dict")
    assert best == {"act_mutator/choice_0": 2, "act_mutator/choice_1": 2}
    [model] = exp.export_top_models(formatter="instance")
    assert isinstance(model.act, torch.nn.Sigmoid) and model.scale == 2
    assert model(torch.zeros(2, 4)).shape == (2, 3)


def test_code_export_refuses_mutators_instead_of_losing_them(tmp_path) -> None:
    exp = RetiariiExperiment(
        MutableBase(),
        FunctionalEvaluator(report_structure),
        [ActMutator()],
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=2))
    with pytest.raises(ValueError, match="mutators"):
        exp.export_top_models(formatter="code")


def test_the_base_model_is_not_modified(tmp_path) -> None:
    base = MutableBase()
    exp = RetiariiExperiment(
        base,
        FunctionalEvaluator(report_structure),
        [ActMutator()],
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution="inprocess"))
    assert isinstance(base.act, torch.nn.Identity) and base.scale == 1


class ScaleMutator(retiarii.Mutator):
    def mutate(self, model) -> None:
        model.scale = self.choice([1, 3])


def report_tiny_with_scale(model) -> None:
    width = model.fc.out_features
    tanh = isinstance(model.act, torch.nn.Tanh)
    retiarii.report_final_result({"default": width, "tanh": tanh, "scale": model.scale})


def test_mutators_combine_with_inline_choices(tmp_path) -> None:
    exp = RetiariiExperiment(
        TinyNet(),
        FunctionalEvaluator(report_tiny_with_scale),
        [ScaleMutator("s")],
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution="inprocess"))
    assert set(exp.store.experiment().search_space) == {"s/choice_0", "width", "act"}
    trials = exp.list_trial_jobs()
    assert len(trials) == 12
    for trial in trials:
        assert trial.status == "SUCCEEDED", trial.error
        assert trial.final["default"] == trial.sample["width"]
        assert trial.final["tanh"] == (trial.sample["act"] == 1)
        assert trial.final["scale"] == trial.sample["s/choice_0"]


def test_mutator_choice_outside_an_experiment() -> None:
    with pytest.raises(RuntimeError, match="mutate"):
        ActMutator().choice([1, 2])
    with pytest.raises(NotImplementedError):
        MutatedSpace(nn.Linear(1, 1), [retiarii.Mutator()])


def test_mutated_space_builds_fresh_models() -> None:
    space = MutatedSpace(MutableBase(), [ActMutator("m")])
    assert space.labels == ["m/choice_0", "m/choice_1"]
    assert space.size == 6
    one = space.build({"m/choice_0": 1, "m/choice_1": 2})
    two = space.build({"m/choice_0": 1, "m/choice_1": 2})
    assert isinstance(one.act, torch.nn.Tanh) and one.act is not two.act
    with pytest.raises(retiarii.SampleError):
        space.build({"m/choice_0": 5, "m/choice_1": 2})
