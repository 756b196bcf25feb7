"""``from retiarii.experiment.pytorch import RetiariiExperiment, RetiariiExeConfig`` (seed path)."""

from __future__ import annotations

from .config import ConfigError, RetiariiExeConfig, TrainingServiceConfig
from .experiment import RetiariiExperiment

__all__ = ["ConfigError", "RetiariiExeConfig", "RetiariiExperiment", "TrainingServiceConfig"]
