"""A small model space and evaluator for the dashboard tests, run as a real experiment.

Module-level, so that worker processes import them by name (``dashboard_web.spaces``; the tests
directory is on ``sys.path``). The space has a label made of HTML, and the evaluator prints HTML
to the trial log and raises an error message holding HTML, so the pages' escaping is exercised
by real data.
"""

from __future__ import annotations

import time
from typing import Any

import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper

XSS_LABEL = "<img src=x onerror=alert(1)>"
XSS_LOG = "<script>window.__pwned = 1; alert(2)</script>"
XSS_ERROR = "<b onmouseover=alert(3)>bad width</b>"
EPOCHS = 4


@model_wrapper
class DashNet(nn.Module):
    """12 samples: width in {4, 8, 16} x act in {relu, tanh} x the XSS label in {1, 2}."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([4, 8, 16], label="width"))
        self.act = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")
        self.out = nn.Linear(nn.ValueChoice([4, 8, 16], label="width"), 1)
        self.scale = nn.ValueChoice([1, 2], label=XSS_LABEL)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.fc(x)))


def score(model: Any) -> float:
    """Deterministic: wider is better, tanh helps a little, the XSS label a bit."""
    width = model.fc.out_features
    tanh = isinstance(model.act, torch.nn.Tanh)
    return round(0.5 + width / 40 + (0.05 if tanh else 0.0) + 0.01 * model.scale, 4)


def evaluate(model: Any, delay: float = 0.0) -> None:
    """Report a rising curve, then the score; width 4 with tanh and scale 2 fails."""
    target = score(model)
    print(XSS_LOG, flush=True)
    print(f"width {model.fc.out_features}", flush=True)
    for epoch in range(EPOCHS):
        retiarii.report_intermediate_result(target * (epoch + 1) / EPOCHS)
        if delay:
            time.sleep(delay / EPOCHS)
    if model.fc.out_features == 4 and isinstance(model.act, torch.nn.Tanh) and model.scale == 2:
        raise ValueError(XSS_ERROR)
    retiarii.report_final_result({"default": target, "width": model.fc.out_features})
