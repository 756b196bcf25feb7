"""Search strategies (ask/tell): ``import retiarii.strategy as strategy``.

Optional dependencies are imported when a strategy is attached to a space, not here: ``TPE`` needs
Optuna, ``PolicyBasedRL`` needs PyTorch.
"""

from __future__ import annotations

from .base import BaseStrategy, TrialResult, sample_key
from .evolution import RegularizedEvolution
from .grid import GridSearch
from .local_search import LocalSearch
from .mo_evolution import MultiObjectiveEvolution
from .nsga2 import NSGAII, MultiObjectiveTPE
from .oneshot import DARTS, ENAS, GumbelDARTS, OneShotStrategy, Proxyless, RandomOneShot
from .random_strategy import Random
from .rl import PolicyBasedRL
from .tpe import TPE
from .tuner_strategy import TunerStrategy

__all__ = [
    "DARTS",
    "ENAS",
    "NSGAII",
    "TPE",
    "BaseStrategy",
    "GridSearch",
    "GumbelDARTS",
    "LocalSearch",
    "MultiObjectiveEvolution",
    "MultiObjectiveTPE",
    "OneShotStrategy",
    "PolicyBasedRL",
    "Proxyless",
    "Random",
    "RandomOneShot",
    "RegularizedEvolution",
    "TrialResult",
    "TunerStrategy",
    "sample_key",
]
