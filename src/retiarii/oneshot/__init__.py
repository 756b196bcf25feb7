"""One-shot (weight-sharing) NAS.

``retiarii.oneshot`` holds the torch-free interface (:class:`BaseOneShotTrainer`); the supernet
modules, trainers and the classic Mutator API live in :mod:`retiarii.oneshot.pytorch`.
"""

from __future__ import annotations

from .base import BaseOneShotTrainer, EpochLogs, OneShotCallback, StopSearch

__all__ = ["BaseOneShotTrainer", "EpochLogs", "OneShotCallback", "StopSearch"]
