"""Multi-trial experiments: the loop, its configuration, export and resume."""

from __future__ import annotations

from .config import ConfigError, RetiariiExeConfig, TrainingServiceConfig
from .experiment import RetiariiExperiment
from .mutators import Mutator

__all__ = [
    "ConfigError",
    "Mutator",
    "RetiariiExeConfig",
    "RetiariiExperiment",
    "TrainingServiceConfig",
]
