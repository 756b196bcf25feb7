"""A tiny model space for the CLI tests (module-level: ``experiment.pkl`` refers to it by name)."""

from __future__ import annotations

import time
from typing import Any

import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper


@model_wrapper
class CliNet(nn.Module):
    """6 samples: width in {1, 2, 3} x act in {ReLU, Tanh}."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([1, 2, 3], label="width"))
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


def score(model: Any, delay: float = 0.0) -> None:
    """10 * width + (1 if Tanh), after ``delay`` seconds."""
    if delay:
        time.sleep(delay)
    value = 10.0 * model.fc.out_features + (1.0 if isinstance(model.act, torch.nn.Tanh) else 0.0)
    retiarii.report_intermediate_result(value / 2)
    retiarii.report_final_result(value)
