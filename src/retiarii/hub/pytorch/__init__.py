"""Ready-made PyTorch model spaces: ``from retiarii.hub.pytorch import NasBench201``."""

from __future__ import annotations

from .nasbench201 import NB201_OPS, NasBench201, NasBench201Cell

__all__ = ["NB201_OPS", "NasBench201", "NasBench201Cell"]
