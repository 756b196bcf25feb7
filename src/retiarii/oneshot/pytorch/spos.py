"""SPOS (Guo et al., 2020): uniform single-path training, then evolutionary search.

Training samples one path uniformly at random per step and trains it like a plain model. The
search then evaluates subnets of the trained supernet on validation data, each after
*BatchNorm recalibration* (the running statistics of a supernet mix every path; they are
recomputed for the subnet on a few training batches), and evolves the best ones
(an ask/tell strategy, see :class:`~.algorithms.RandomOneShot`). This module holds the
BatchNorm recalibration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as tnn

from .slicing import SlicedBatchNorm

__all__ = ["recalibrate_batchnorm"]


@torch.no_grad()
def recalibrate_batchnorm(model: tnn.Module, batches: Iterable[Any]) -> None:
    """Recompute the running statistics of every BatchNorm of ``model`` as the exact average over
    ``batches`` (inputs, on the model's device) of the current path; the model is left in eval
    mode."""
    kinds = (tnn.modules.batchnorm._BatchNorm, SlicedBatchNorm)
    norms = [m for m in model.modules() if isinstance(m, kinds) and m.track_running_stats]
    if not norms:
        model.eval()
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for x in batches:
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
