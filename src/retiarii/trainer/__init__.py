"""Seed 000's older names: ``retiarii.trainer.FunctionalTrainer`` is :class:`FunctionalEvaluator`."""

from __future__ import annotations

from ..evaluator.functional import FunctionalEvaluator as FunctionalTrainer

__all__ = ["FunctionalTrainer"]
