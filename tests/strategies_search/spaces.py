"""A small model space with a deterministic score, for end-to-end experiments (module level, so
that experiments can pickle references to it)."""

from __future__ import annotations

from typing import Any

import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper

ACT_SCORE = {"ReLU": 2.0, "Tanh": 1.0, "Identity": 0.0}


@model_wrapper
class ScoredNet(nn.Module):
    """4 x 3 x 2 x 3 = 72 samples: width, activation, hidden size, and which inputs to sum."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, nn.ValueChoice([1, 2, 3, 4], label="width"))
        self.act = nn.LayerChoice(
            {"relu": nn.ReLU(), "tanh": nn.Tanh(), "id": nn.Identity()}, label="act"
        )
        self.hidden = nn.Linear(2, nn.ValueChoice([8, 16], label="hidden"))
        self.pick = nn.InputChoice(2, n_chosen=None, label="pick")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


def net_score(model: Any) -> float:
    """Higher for wider, ReLU, 16 hidden units, both inputs."""
    return (
        10.0 * model.fc.out_features
        + ACT_SCORE[type(model.act).__name__]
        + model.hidden.out_features / 16
        + len(model.pick.chosen) / 4
    )


def report_score(model: Any, fail_width: int | None = None) -> None:
    """Report :func:`net_score`; raise for models of width ``fail_width``."""
    if model.fc.out_features == fail_width:
        raise RuntimeError(f"width {fail_width} fails on purpose")
    retiarii.report_final_result(net_score(model))
