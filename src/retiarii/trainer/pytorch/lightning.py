"""Seed 000's path to the Lightning evaluators: the same objects as
:mod:`retiarii.evaluator.pytorch.lightning` (an alias, not a second implementation)."""

from __future__ import annotations

from ...evaluator.pytorch.lightning import *  # noqa: F403
from ...evaluator.pytorch.lightning import __all__ as __all__
