"""retiarii: neural architecture search for PyTorch.

The public names of the seeds' ``nni.retiarii`` API. Heavy parts (torch model spaces, Lightning,
Ray, the dashboard) are imported lazily, so ``import retiarii`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .mutable import SampleError, loguniform, normal, qloguniform, quniform, randint, uniform
from .reporting import TrialPruned, report_final_result, report_intermediate_result

__version__ = "0.1.0.dev0"

_LAZY = {
    "model_wrapper": "retiarii.nn.pytorch.wrappers",
    "basic_unit": "retiarii.nn.pytorch.wrappers",
    "blackbox_module": "retiarii.nn.pytorch.wrappers",
    "serialize": "retiarii.nn.pytorch.wrappers",
    "get_init_args": "retiarii.nn.pytorch.wrappers",
    "fixed_arch": "retiarii.nn.pytorch.fixed",
    "ModelSpace": "retiarii.nn.pytorch.space",
    "Mutator": "retiarii.experiment.mutators",
    "json_dumps": "retiarii.serializer",
    "json_loads": "retiarii.serializer",
}

if TYPE_CHECKING:
    from .experiment.mutators import Mutator
    from .nn.pytorch.fixed import fixed_arch
    from .nn.pytorch.space import ModelSpace
    from .nn.pytorch.wrappers import (
        basic_unit,
        blackbox_module,
        get_init_args,
        model_wrapper,
        serialize,
    )
    from .serializer import json_dumps, json_loads

__all__ = [
    "ModelSpace",
    "Mutator",
    "SampleError",
    "TrialPruned",
    "__version__",
    "basic_unit",
    "blackbox_module",
    "fixed_arch",
    "get_init_args",
    "json_dumps",
    "json_loads",
    "loguniform",
    "model_wrapper",
    "normal",
    "qloguniform",
    "quniform",
    "randint",
    "report_final_result",
    "report_intermediate_result",
    "serialize",
    "uniform",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'retiarii' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
