"""Value choices in evaluator arguments: collected into a search space, resolved per trial."""

from __future__ import annotations

import json

import pytest
import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper, serialize
from retiarii.evaluator import Evaluator, FunctionalEvaluator
from retiarii.experiment.joint import JointSpace, joint_space
from retiarii.mutable import LabelConflictError, SampleError
from retiarii.nn.pytorch import ModelSpace


@model_wrapper
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([8, 16], label="hidden"))
        self.drop = nn.Dropout(retiarii.uniform("dropout", 0.0, 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc(x))


class Schedule:
    def __init__(self, warmup: int, factor: float) -> None:
        self.warmup = warmup
        self.factor = factor


def record(model, **kwargs):
    return kwargs


def test_functional_kwargs_at_any_depth_join_the_space_and_resolve() -> None:
    lr = retiarii.loguniform("lr", 1e-4, 1e-1)
    evaluator = FunctionalEvaluator(
        record,
        lr=lr,
        betas=[0.9, nn.ValueChoice([0.99, 0.999], label="beta2")],
        optim={"momentum": retiarii.uniform("momentum", 0.5, 0.99), "lr2": lr * 2},
        schedule=serialize(Schedule, warmup=retiarii.randint("warmup", 0, 3), factor=0.5),
        epochs=3,
    )
    assert list(evaluator.search_space()) == ["lr", "beta2", "momentum", "warmup"]
    sample = {"lr": 0.01, "beta2": 0.999, "momentum": 0.9, "warmup": 2}
    frozen = evaluator.freeze(sample)
    got = frozen.evaluate(torch.nn.Identity())
    assert got["lr"] == 0.01 and got["betas"] == [0.9, 0.999] and got["epochs"] == 3
    assert got["optim"] == {"momentum": 0.9, "lr2": 0.02}
    assert isinstance(got["schedule"], Schedule)
    assert (got["schedule"].warmup, got["schedule"].factor) == (2, 0.5)
    # the original is untouched, for the next trial
    assert evaluator.arguments["lr"] is lr
    assert len(frozen.search_space()) == 0


def test_unresolved_choices_never_reach_user_code() -> None:
    evaluator = FunctionalEvaluator(record, lr=nn.ValueChoice([0.1, 0.01], label="lr"))
    with pytest.raises(TypeError, match=r"value choices in its arguments \(labels \['lr'\]\)"):
        evaluator.evaluate(torch.nn.Identity())


def test_serialize_builds_with_first_values_and_records_the_choices() -> None:
    schedule = serialize(Schedule, warmup=nn.ValueChoice([5, 1], label="w"), factor=0.1)
    assert schedule.warmup == 5  # a working object before the trial decides
    evaluator = FunctionalEvaluator(record, schedule=schedule)
    assert evaluator.freeze({"w": 1}).arguments["schedule"].warmup == 1


def test_a_custom_evaluator_is_walked_through_its_public_attributes() -> None:
    class MyEvaluator(Evaluator):
        def __init__(self, lr: float) -> None:
            self.lr = lr

        def evaluate(self, model):
            self.check_frozen()
            return self.lr

    evaluator = MyEvaluator(retiarii.loguniform("lr", 1e-3, 1e-1))
    assert list(evaluator.search_space()) == ["lr"]
    assert evaluator.freeze({"lr": 0.05}).evaluate(None) == 0.05


def test_joint_space_merges_model_and_evaluator_labels() -> None:
    evaluator = FunctionalEvaluator(
        record,
        lr=retiarii.loguniform("lr", 1e-4, 1e-1),
        width=nn.ValueChoice([8, 16], label="hidden"),
    )
    space = joint_space(ModelSpace(Net()), evaluator)
    assert isinstance(space, JointSpace)
    assert space.labels == ["hidden", "dropout", "lr"]  # "hidden" is one shared decision
    sample = space.random(0)
    assert json.loads(json.dumps(sample)) == sample
    model = space.build(sample)
    assert model.fc.out_features == sample["hidden"]
    assert model.drop.p == sample["dropout"]
    assert space.evaluator_for(sample).evaluate(model) == {
        "lr": sample["lr"],
        "width": sample["hidden"],
    }
    with pytest.raises(SampleError, match="'lr'"):
        space.build({**sample, "lr": 1.0})
    # an evaluator without choices leaves the model space as it is
    plain = ModelSpace(Net())
    assert joint_space(plain, FunctionalEvaluator(record, lr=0.1)) is plain


def test_same_label_with_different_candidates_is_a_clear_error() -> None:
    evaluator = FunctionalEvaluator(record, width=nn.ValueChoice([8, 32], label="hidden"))
    with pytest.raises(
        LabelConflictError, match=r"'hidden' is used by the model as .* and by the evaluator"
    ):
        joint_space(ModelSpace(Net()), evaluator)
    with pytest.raises(LabelConflictError, match="'lr'"):
        FunctionalEvaluator(
            record, a=retiarii.uniform("lr", 0, 1), b=retiarii.loguniform("lr", 1e-3, 1)
        ).search_space()


def test_best_trial_is_rebuilt_from_its_sample() -> None:
    evaluator = FunctionalEvaluator(record, lr=retiarii.loguniform("lr", 1e-4, 1e-1))
    sample = {"hidden": 16, "dropout": 0.25, "lr": 0.003}
    with pytest.raises(SampleError, match="does not use"), retiarii.fixed_arch(sample):
        Net()
    with retiarii.fixed_arch(sample, strict=False):
        model = Net()
    assert model.fc.out_features == 16 and model.drop.p == 0.25
    assert evaluator.freeze(sample).evaluate(model) == {"lr": 0.003}
