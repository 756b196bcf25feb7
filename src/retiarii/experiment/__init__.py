"""Multi-trial experiments: the loop, its configuration, export and resume."""

from __future__ import annotations

from .callbacks import ExperimentCallback
from .config import ConfigError, RetiariiExeConfig, TrainingServiceConfig
from .experiment import RetiariiExperiment
from .mutators import Mutator
from .pruners import Hyperband, MedianStop, Pruner, SuccessiveHalving

__all__ = [
    "ConfigError",
    "ExperimentCallback",
    "Hyperband",
    "MedianStop",
    "Mutator",
    "Pruner",
    "RetiariiExeConfig",
    "RetiariiExperiment",
    "SuccessiveHalving",
    "TrainingServiceConfig",
]
