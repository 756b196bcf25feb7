"""``import retiarii.nn.pytorch as nn``: all of ``torch.nn`` plus the choices of a model space.

Layers imported from here accept ``ValueChoice`` arguments
(``nn.Conv2d(16, 16, kernel_size=nn.ValueChoice([3, 5]))``); containers (``Module``,
``Sequential``, ``ModuleList``, ``ModuleDict``) are torch's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch.nn import *  # noqa: F403
from torch.nn import (  # noqa: F401
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ParameterDict,
    ParameterList,
    Sequential,
    functional,
    init,
)

from .layers import *  # noqa: F403

if TYPE_CHECKING:  # the generated layer classes look like torch's to type checkers
    from torch.nn import *  # noqa: F403

from ...mutable import loguniform, normal, qloguniform, quniform, randint, uniform
from .autoactivation import AutoActivation
from .base import MutableModule, NotFrozenError
from .cell import Cell, FrozenCell
from .choices import InputChoice, LayerChoice, ValueChoice
from .fixed import fixed_arch
from .freeze import collect_search_space
from .frozen import ChosenInputs
from .parameter_choice import ModelParameterChoice
from .repeat import Repeat
from .space import ModelSpace
from .wrappers import basic_unit, blackbox_module, get_init_args, model_wrapper, serialize

__all__ = [
    "AutoActivation",
    "Cell",
    "ChosenInputs",
    "FrozenCell",
    "InputChoice",
    "LayerChoice",
    "ModelParameterChoice",
    "ModelSpace",
    "MutableModule",
    "NotFrozenError",
    "Repeat",
    "ValueChoice",
    "basic_unit",
    "blackbox_module",
    "collect_search_space",
    "fixed_arch",
    "get_init_args",
    "loguniform",
    "model_wrapper",
    "normal",
    "qloguniform",
    "quniform",
    "randint",
    "serialize",
    "uniform",
]
