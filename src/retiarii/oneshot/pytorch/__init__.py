"""One-shot NAS for PyTorch: supernet modules, trainers and the classic Mutator API.

Algorithms (one class each, :mod:`.algorithms`): :class:`Darts` (first and second order),
:class:`GumbelDarts`, :class:`Enas`, :class:`Proxyless`, :class:`RandomOneShot` (SPOS), run by two
drivers: the plain loop of the seed trainers (:class:`DartsTrainer`, :class:`GumbelDartsTrainer`,
:class:`EnasTrainer`, :class:`ProxylessTrainer`, :class:`SinglePathTrainer`) and the Lightning
module behind ``strategy.DARTS()`` etc. (:mod:`.lightning`). Building
blocks: :func:`replace_layer_choice` / :func:`replace_input_choice` and the supernet modules
(mixing, path-sampling and gated versions of ``LayerChoice``, ``InputChoice``, ``Cell``,
``Repeat``, and weight-sliced layers for value choices); the classic :class:`Mutator` API
(seed 003). The Lightning-based strategies are in :mod:`retiarii.strategy` (``strategy.DARTS()``).
"""

from __future__ import annotations

from ...nn.pytorch.choices import InputChoice, LayerChoice
from ..base import BaseOneShotTrainer, EpochLogs, OneShotCallback
from .algorithms import Algorithm, Darts, Enas, GumbelDarts, Proxyless, RandomOneShot
from .cell import DartsCell, PathSamplingCell
from .differentiable import (
    DartsInputChoice,
    DartsLayerChoice,
    DifferentiableSupernet,
    GumbelInputChoice,
    GumbelLayerChoice,
)
from .enas import ReinforceController, ReinforceField
from .latency import LatencyProfiler
from .mutator import BaseMutator, Mutator, RandomMutator
from .penalty import ExpectationProfilerPenalty
from .proxyless import (
    ProxylessInputChoice,
    ProxylessLayerChoice,
    ProxylessSupernet,
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
from .spos import recalibrate_batchnorm
from .supernet import Switch, SwitchBoard
from .trainer import (
    DartsTrainer,
    EnasTrainer,
    GumbelDartsTrainer,
    ProxylessTrainer,
    SinglePathTrainer,
    SupernetTrainer,
)
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
    "Algorithm",
    "AverageMeter",
    "AverageMeterGroup",
    "BaseMutator",
    "BaseOneShotTrainer",
    "Darts",
    "DartsCell",
    "DartsInputChoice",
    "DartsLayerChoice",
    "DartsTrainer",
    "DifferentiableSupernet",
    "Enas",
    "EnasTrainer",
    "EpochLogs",
    "ExpectationProfilerPenalty",
    "GumbelDarts",
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
    "Proxyless",
    "ProxylessInputChoice",
    "ProxylessLayerChoice",
    "ProxylessSupernet",
    "ProxylessTrainer",
    "RandomMutator",
    "RandomOneShot",
    "RandomOneShotTrainer",
    "ReinforceController",
    "ReinforceField",
    "SinglePathTrainer",
    "SlicedBatchNorm",
    "SlicedConv",
    "SlicedLayerNorm",
    "SlicedLinear",
    "SlicedParameterFree",
    "SupernetTrainer",
    "Switch",
    "SwitchBoard",
    "recalibrate_batchnorm",
    "replace_input_choice",
    "replace_layer_choice",
    "replace_modules",
    "to_device",
]
