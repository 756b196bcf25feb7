"""A tiny space for the multi-objective experiment tests (module-level for pickling)."""

from __future__ import annotations

from typing import Any

import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper


@model_wrapper
class MoNet(nn.Module):
    """8 samples: width in {1, 2, 4, 8} x act in {ReLU, Tanh}."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([1, 2, 4, 8], label="width"))
        self.act = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


def accuracy(model: Any) -> None:
    """Wider is better, Tanh a little better: the front trades accuracy for parameters."""
    width = model.fc.out_features
    retiarii.report_final_result(
        {"default": width + (0.5 if isinstance(model.act, torch.nn.Tanh) else 0.0), "width": width}
    )
