"""Evaluators for the early-stopping tests: learning curves whose order is known in advance.

Module-level, so worker processes import them by name (``experiment.pruning_spaces``).
"""

from __future__ import annotations

import time
from typing import Any

import torch

import retiarii


def tiny_quality(model: Any) -> float:
    """TinyNet's quality, best first in grid order: 4 - width, plus 0.5 for Tanh (6 distinct
    values from 1 to 3.5)."""
    return 4.0 - model.fc.out_features + (0.5 if isinstance(model.act, torch.nn.Tanh) else 0.0)


def curve(model: Any, steps: int = 5, delay: float = 0.0) -> None:
    """Report ``quality * step / steps`` for each step, then the quality as the final result."""
    quality = tiny_quality(model)
    for step in range(1, steps + 1):
        if delay:
            time.sleep(delay)
        retiarii.report_intermediate_result(quality * step / steps)
    retiarii.report_final_result(quality)


def stubborn_curve(model: Any, steps: int = 5, delay: float = 0.2) -> None:
    """Like :func:`curve`, but keeps running (forever) when told to stop."""
    quality = tiny_quality(model)
    for step in range(1, steps + 1):
        time.sleep(delay)
        try:
            retiarii.report_intermediate_result(quality * step / steps)
        except retiarii.TrialPruned:
            print("ignoring the stop", flush=True)
            while True:
                time.sleep(0.05)
    retiarii.report_final_result(quality)
