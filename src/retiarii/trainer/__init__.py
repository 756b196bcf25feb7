"""Seed 000's older names: ``FunctionalTrainer`` is :class:`FunctionalEvaluator`;
``BaseOneShotTrainer`` is :class:`retiarii.oneshot.BaseOneShotTrainer`."""

from __future__ import annotations

from ..evaluator.functional import FunctionalEvaluator as FunctionalTrainer
from ..oneshot.base import BaseOneShotTrainer

__all__ = ["BaseOneShotTrainer", "FunctionalTrainer"]
