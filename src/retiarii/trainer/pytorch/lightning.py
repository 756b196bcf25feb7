"""Seed 000's path to the Lightning evaluators: the same objects as
:mod:`retiarii.evaluator.pytorch.lightning` (an alias, not a second implementation)."""

from __future__ import annotations

from ...evaluator.pytorch.lightning import (
    Classification,
    ClassificationModule,
    DataLoader,
    Lightning,
    LightningModule,
    Regression,
    RegressionModule,
    Trainer,
)

__all__ = [
    "Classification",
    "ClassificationModule",
    "DataLoader",
    "Lightning",
    "LightningModule",
    "Regression",
    "RegressionModule",
    "Trainer",
]
