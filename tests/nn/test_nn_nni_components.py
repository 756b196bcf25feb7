"""``nn.ModelParameterChoice`` and ``nn.AutoActivation``, used as NNI 2.x's documentation shows."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.mutable import SampleError


@model_wrapper
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # NNI's docstring examples: a plain value, usable in ``if`` and in torch calls.
        self.has_auxiliary_head = nn.ModelParameterChoice([False, True])
        parameter_dim = nn.ModelParameterChoice([4, 8], label="dim")
        self.token = nn.Parameter(torch.zeros(1, parameter_dim))
        self.dropout_rate = nn.ModelParameterChoice(
            [0.0, 0.5], default=nn.ModelParameterChoice.LAST
        )
        self.fc = nn.Linear(parameter_dim, 2)
        self.aux = nn.Linear(parameter_dim, 2) if self.has_auxiliary_head else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the value is read inside forward, as in NNI
        return self.fc(F.dropout(x + self.token, self.dropout_rate, self.training))


def test_model_parameter_choice_is_a_plain_value_and_is_in_the_space() -> None:
    model = Net()
    assert model.has_auxiliary_head is False and model.aux is None  # FIRST by default
    assert model.token.shape == (1, 4) and model.dropout_rate == 0.5  # LAST
    space = ModelSpace(model)
    assert space.labels == ["model_1", "dim", "model_2"]
    assert space.size == 8
    assert model(torch.randn(3, 4)).shape == (3, 2)


def test_each_architecture_is_built_with_its_values() -> None:
    space = ModelSpace(Net())
    sample = {"model_1": True, "dim": 8, "model_2": 0.0}
    for model in (space.build(sample), _fixed(sample)):
        assert model.has_auxiliary_head is True and model.aux is not None
        assert model.token.shape == (1, 8) and model.dropout_rate == 0.0
        assert model(torch.randn(3, 8)).shape == (3, 2)
        assert ModelSpace(model).labels == []  # an architecture, not a space
    with pytest.raises(SampleError, match="'dim'"):
        _fixed({**sample, "dim": 16})


def test_freeze_cannot_change_a_model_parameter_choice_and_says_so() -> None:
    space = ModelSpace(Net())
    assert space.freeze({"model_1": False, "dim": 4, "model_2": 0.5}).dropout_rate == 0.5
    with pytest.raises(ValueError, match=r"'dim'.*build\(sample\)"):
        space.freeze({"model_1": False, "dim": 8, "model_2": 0.5})


def test_model_parameter_choice_outside_a_model_wrapper_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="@model_wrapper"):
        nn.ModelParameterChoice([1, 2])


def _fixed(sample: dict) -> nn.Module:
    with fixed_arch(sample):
        return Net()


@model_wrapper
class Activated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.AutoActivation(unit_num=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


def test_auto_activation_searches_unary_and_binary_ops() -> None:
    space = ModelSpace(Activated())
    assert space.labels == [
        "model_1__unary_0",
        "model_1__unary_1",
        "model_1__unary_2",
        "model_1__binary_0",
        "model_1__binary_1",
    ]
    assert space.size == 24**3 * 10**2


def test_a_chosen_auto_activation_computes_its_formula() -> None:
    # max(tanh(h), h) + abs(h), the ops picked by their index in NNI's lists
    sample = {
        "model_1__unary_0": 14,  # tanh
        "model_1__unary_1": 0,  # identity
        "model_1__unary_2": 2,  # abs
        "model_1__binary_0": 4,  # max
        "model_1__binary_1": 0,  # add
    }
    with fixed_arch(sample):
        model = Activated()
    x = torch.randn(5, 4)
    h = model.fc(x)
    expected = torch.maximum(torch.tanh(h), h) + torch.abs(h)
    assert torch.allclose(model(x), expected)
    assert ModelSpace(model).labels == []
    pickle.loads(pickle.dumps(model))  # the ops pickle by reference
    for sample in (ModelSpace(Activated()).random(seed) for seed in range(5)):
        out = ModelSpace(Activated()).build(sample)(torch.rand(2, 4))
        assert out.shape == (2, 4)


def test_one_shot_refuses_a_model_parameter_choice() -> None:
    from retiarii.experiment.oneshot import oneshot_space

    with pytest.raises(TypeError, match=r"ModelParameterChoice \['model_1', 'dim', 'model_2'\]"):
        oneshot_space(Net())
