"""Automatic labels follow NNI 2.x's scheme, so architectures NNI exported load unchanged.

NNI 2.x numbers every unlabelled choice of a ``@model_wrapper`` model with one counter
(``model_1``, ``model_2``, ...); a nested ``@model_wrapper`` takes a number and numbers its own
choices under it (``model_3_1``). The models below are written as NNI's documentation writes them.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.nn.pytorch import NotFrozenError


@model_wrapper
class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)


@model_wrapper
class Net(nn.Module):
    """NNI's quick-start shape, with no explicit labels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.conv2 = nn.LayerChoice([nn.Conv2d(8, 16, 3), nn.Conv2d(8, 16, 5, padding=1)])
        self.dropout = nn.Dropout(nn.ValueChoice([0.25, 0.5, 0.75]))
        self.block = Block()
        self.skip = nn.InputChoice(n_candidates=2, n_chosen=1)
        self.fc = nn.Linear(16, nn.ValueChoice([32, 64]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout(x.mean((2, 3)))
        x = self.skip([self.block(x), x])
        return self.fc(x)


def test_unlabelled_choices_get_nni_labels() -> None:
    space = ModelSpace(Net())
    assert space.labels == ["model_1", "model_2", "model_3_1", "model_4", "model_5"]


def test_an_nni_exported_architecture_loads_with_fixed_arch() -> None:
    # What NNI 2.x's ``exp.export_top_models(formatter='dict')`` gives for this model.
    exported = {"model_1": 1, "model_2": 0.5, "model_3_1": 1, "model_4": [0], "model_5": 64}
    with fixed_arch(exported):
        model = Net()
    assert model.conv2.kernel_size == (5, 5)
    assert model.dropout.p == 0.5
    assert isinstance(model.block.act, tnn.Tanh)
    assert model.fc.out_features == 64
    assert model(torch.randn(2, 1, 12, 12)).shape == (2, 64)


def test_calling_an_undecided_space_names_the_nni_habit() -> None:
    # NNI 2.x users tried a space with ``Net()(x)``; here that is an error that says what to do.
    with pytest.raises(NotFrozenError, match=r"NNI 2\.x's python engine.*_execute\(Net\)"):
        Net()(torch.randn(2, 1, 12, 12))
