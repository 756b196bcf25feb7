"""Search strategies (ask/tell): ``import retiarii.strategy as strategy``."""

from __future__ import annotations

from .base import BaseStrategy, TrialResult, sample_key
from .grid import GridSearch
from .random_strategy import Random

__all__ = ["BaseStrategy", "GridSearch", "Random", "TrialResult", "sample_key"]
