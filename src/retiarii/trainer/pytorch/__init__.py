"""Seed 000's ``retiarii.trainer.pytorch`` package: ``BaseOneShotTrainer`` here, ``.utils`` for
``replace_layer_choice``/``replace_input_choice``, ``.lightning`` for the Lightning evaluators.
All are aliases of :mod:`retiarii.oneshot` and :mod:`retiarii.evaluator.pytorch.lightning`."""

from __future__ import annotations

from ...oneshot.base import BaseOneShotTrainer

__all__ = ["BaseOneShotTrainer"]
