"""Ready-made PyTorch model spaces: ``from retiarii.hub.pytorch import NasBench201``.

Every space registers itself in :mod:`.registry`; :func:`load_searched_model` builds the published
architectures found in them (NNI's names).
"""

from __future__ import annotations

from .autoformer import AutoformerSpace
from .nasbench101 import NB101_OPS, NasBench101, NasBench101Cell
from .nasbench201 import NB201_OPS, NasBench201, NasBench201Cell
from .registry import ARCHITECTURES, SPACES, load_searched_model, searched_architecture

__all__ = [
    "ARCHITECTURES",
    "NB101_OPS",
    "NB201_OPS",
    "SPACES",
    "AutoformerSpace",
    "NasBench101",
    "NasBench101Cell",
    "NasBench201",
    "NasBench201Cell",
    "load_searched_model",
    "searched_architecture",
]
