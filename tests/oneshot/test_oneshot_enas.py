"""ENAS: the controller learns, by REINFORCE, to sample paths with a higher reward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, model_wrapper
from retiarii.oneshot.pytorch import EnasTrainer, ReinforceController, ReinforceField

from .helpers import Zero, accuracy, reward_accuracy, separable


@model_wrapper
class Gates(nn.Module):
    """Three choices that pass the signal through or zero it, and a fixed head reading the sign of
    x[0]: accuracy is ~1 on the path (pass, pass, [0]) and ~1/2 elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.LayerChoice({"zero": Zero(), "pass": nn.Identity()}, label="a")
        self.b = nn.LayerChoice({"zero": Zero(), "pass": nn.Identity()}, label="b")
        self.pick = nn.InputChoice(2, 1, label="pick")
        self.head = nn.Linear(8, 2)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[0, 0], self.head.weight[1, 0] = -1.0, 1.0
            self.head.bias.copy_(torch.tensor([1e-3, 0.0]))  # ties go to class 0

    def forward(self, x):
        h = self.b(self.a(x))
        return self.head(self.pick([h, h * 0.0]))


def test_controller_raises_its_average_reward():
    model = Gates()
    frozen_weights = torch.optim.SGD(model.parameters(), lr=0.0)  # only the controller learns
    trainer = EnasTrainer(
        model,
        F.cross_entropy,
        accuracy,
        reward_accuracy,
        frozen_weights,
        num_epochs=12,
        dataset=separable(n=512),
        batch_size=16,
        ctrl_lr=0.01,
        ctrl_steps_aggregate=1,
        baseline_decay=0.9,
        entropy_weight=0.0,
    )
    trainer.fit()
    first, last = trainer.reward_history[0], trainer.reward_history[-1]
    assert first < 0.8 and last > 0.85 and last > first + 0.1, trainer.reward_history
    sample = trainer.export()
    assert sample == {"a": "pass", "b": "pass", "pick": [0]}
    assert ModelSpace(Gates()).validate(sample) == sample
    probs = trainer.export_probs()
    assert probs["a"]["pass"] > 0.8 and set(probs["pick"]) == {"0", "1"}
    assert [m for m in trainer.history[-1].metrics] == ["acc", "reward"]


def test_controller_fields_cover_every_kind_of_input_choice():
    fields = [
        ReinforceField("one", 3, True),
        ReinforceField("any", 4, False),
        ReinforceField("two", 5, False, n_chosen=2),
    ]
    controller = ReinforceController(fields, lstm_size=16)
    for greedy in (False, True):
        sample = controller.resample(greedy=greedy)
        assert isinstance(sample["one"], int) and 0 <= sample["one"] < 3
        assert sample["any"] and sample["any"] == sorted(set(sample["any"]))
        assert len(sample["two"]) == 2 and len(set(sample["two"])) == 2
    assert controller.sample_log_prob.requires_grad
    assert controller.sample_skip_penalty.item() >= 0.0
    controller.sample_log_prob.backward()  # differentiable in the controller's parameters


def test_enas_searches_value_choices_and_input_subsets():
    @model_wrapper
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = nn.ValueChoice([4, 8], label="width")
            self.fc = nn.Linear(8, width)
            self.head = nn.Linear(width, 2)
            self.pick = nn.InputChoice(3, None, label="any")

        def forward(self, x):
            h = self.fc(x)
            return self.head(self.pick([h, h.relu(), h.tanh()]))

    model = Mixed()
    trainer = EnasTrainer(
        model, F.cross_entropy, None, reward_accuracy,
        torch.optim.SGD(model.parameters(), lr=0.1), 1, separable(n=128), batch_size=32,
    )  # fmt: skip
    trainer.fit()
    sample = trainer.export()
    assert ModelSpace(Mixed()).validate(sample) == sample
    assert set(trainer.export_probs()) == {"width", "any"}


@pytest.mark.parametrize(
    ("grad_clip", "ctrl_grad_clip", "expected"),
    [(5.0, None, 5.0), (5.0, 0.25, 0.25), (5.0, 0, None), (0.0, 0.25, 0.25)],
)
def test_ctrl_grad_clip_clips_the_controller_alone(
    monkeypatch, grad_clip, ctrl_grad_clip, expected
):
    # NNI 2.10's ENAS(ctrl_grad_clip=...): the controller's own clip; without it the controller is
    # clipped like the weights
    norms: list[tuple[float, bool]] = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        params = list(params)
        norms.append((max_norm, any(p is q for p in params for q in controller_params)))
        return real(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    model = Gates()
    trainer = EnasTrainer(
        model, F.cross_entropy, None, reward_accuracy,
        torch.optim.SGD(model.parameters(), lr=0.1), 1, separable(n=64), batch_size=16,
        grad_clip=grad_clip, ctrl_grad_clip=ctrl_grad_clip, ctrl_steps_aggregate=1,
    )  # fmt: skip
    controller_params = list(trainer.controller.parameters())
    trainer.fit()
    controller_clips = {max_norm for max_norm, of_controller in norms if of_controller}
    assert controller_clips == ({expected} if expected is not None else set())
    weight_clips = {max_norm for max_norm, of_controller in norms if not of_controller}
    assert weight_clips == ({grad_clip} if grad_clip else set())
