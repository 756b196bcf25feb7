"""Ready-made PyTorch model spaces: ``from retiarii.hub.pytorch import NasBench201``.

Every space registers itself in :mod:`.registry`; :func:`load_searched_model` builds the published
architectures found in them (NNI's names).
"""

from __future__ import annotations

from .autoformer import AutoformerSpace
from .mobilenetv3 import MobileNetV3Space
from .nasbench101 import NB101_OPS, NasBench101, NasBench101Cell
from .nasbench201 import NB201_OPS, NasBench201, NasBench201Cell
from .nasnet import DARTS, ENAS, NDS, PNAS, AmoebaNet, NASNet
from .nasnet_architectures import genotype_sample  # importing it registers the architectures
from .proxylessnas import ProxylessNAS
from .registry import ARCHITECTURES, SPACES, load_searched_model, searched_architecture
from .shufflenet import ShuffleNetSpace

__all__ = [
    "ARCHITECTURES",
    "DARTS",
    "ENAS",
    "NB101_OPS",
    "NB201_OPS",
    "NDS",
    "PNAS",
    "SPACES",
    "AmoebaNet",
    "AutoformerSpace",
    "MobileNetV3Space",
    "NASNet",
    "NasBench101",
    "NasBench101Cell",
    "NasBench201",
    "NasBench201Cell",
    "ProxylessNAS",
    "ShuffleNetSpace",
    "genotype_sample",
    "load_searched_model",
    "searched_architecture",
]
