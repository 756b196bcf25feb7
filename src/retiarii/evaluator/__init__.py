"""Evaluators: user code that trains and tests one architecture.

``retiarii.evaluator.pytorch.lightning`` (Lightning evaluators) is imported lazily.
"""

from __future__ import annotations

from .base import Evaluator
from .functional import FunctionalEvaluator

__all__ = ["Evaluator", "FunctionalEvaluator"]
