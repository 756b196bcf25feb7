"""One-shot NAS for PyTorch: supernet modules, trainers and the classic Mutator API.

Trainers: :class:`DartsTrainer` (first and second order), :class:`GumbelDartsTrainer`,
:class:`EnasTrainer`, :class:`ProxylessTrainer`, :class:`SinglePathTrainer` (SPOS). Building
blocks: :func:`replace_layer_choice` / :func:`replace_input_choice` and the supernet modules
(mixing, path-sampling and gated versions of ``LayerChoice``, ``InputChoice``, ``Cell``,
``Repeat``, and weight-sliced layers for value choices); the classic :class:`Mutator` API
(seed 003). The Lightning-based strategies are in :mod:`retiarii.strategy` (``strategy.DARTS()``).
"""

from __future__ import annotations

from ...nn.pytorch.choices import InputChoice, LayerChoice
from ..base import BaseOneShotTrainer, EpochLogs, OneShotCallback
from ..evolution import EvolutionResult, evolution_search
from .cell import DartsCell, PathSamplingCell
from .darts import DartsTrainer, GumbelDartsTrainer
from .differentiable import (
    DartsInputChoice,
    DartsLayerChoice,
    DifferentiableSupernet,
    GumbelInputChoice,
    GumbelLayerChoice,
)
from .enas import EnasTrainer, ReinforceController, ReinforceField
from .latency import LatencyProfiler
from .mutator import BaseMutator, Mutator, RandomMutator
from .proxyless import (
    ProxylessInputChoice,
    ProxylessLayerChoice,
    ProxylessSupernet,
    ProxylessTrainer,
)
from .sampling import (
    PathSamplingInputChoice,
    PathSamplingLayerChoice,
    PathSamplingRepeat,
    PathSamplingSupernet,
)
from .slicing import (
    SlicedBatchNorm,
    SlicedConv,
    SlicedLayerNorm,
    SlicedLinear,
    SlicedParameterFree,
)
from .spos import SinglePathTrainer, recalibrate_batchnorm
from .supernet import Switch, SwitchBoard
from .utils import (
    AverageMeter,
    AverageMeterGroup,
    replace_input_choice,
    replace_layer_choice,
    replace_modules,
    to_device,
)

RandomOneShotTrainer = SinglePathTrainer
"""NNI's other name for a uniform single-path trainer."""

__all__ = [
    "AverageMeter",
    "AverageMeterGroup",
    "BaseMutator",
    "BaseOneShotTrainer",
    "DartsCell",
    "DartsInputChoice",
    "DartsLayerChoice",
    "DartsTrainer",
    "DifferentiableSupernet",
    "EnasTrainer",
    "EpochLogs",
    "EvolutionResult",
    "GumbelDartsTrainer",
    "GumbelInputChoice",
    "GumbelLayerChoice",
    "InputChoice",
    "LatencyProfiler",
    "LayerChoice",
    "Mutator",
    "OneShotCallback",
    "PathSamplingCell",
    "PathSamplingInputChoice",
    "PathSamplingLayerChoice",
    "PathSamplingRepeat",
    "PathSamplingSupernet",
    "ProxylessInputChoice",
    "ProxylessLayerChoice",
    "ProxylessSupernet",
    "ProxylessTrainer",
    "RandomMutator",
    "RandomOneShotTrainer",
    "ReinforceController",
    "ReinforceField",
    "SinglePathTrainer",
    "SlicedBatchNorm",
    "SlicedConv",
    "SlicedLayerNorm",
    "SlicedLinear",
    "SlicedParameterFree",
    "Switch",
    "SwitchBoard",
    "evolution_search",
    "recalibrate_batchnorm",
    "replace_input_choice",
    "replace_layer_choice",
    "replace_modules",
    "to_device",
]
