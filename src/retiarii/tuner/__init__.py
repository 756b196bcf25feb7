"""Tuners: search algorithms in NNI's HPO-style interface (run them with ``TunerStrategy``)."""

from __future__ import annotations

from .base import NoMoreTrialError, Tuner
from .format import parameters_to_sample, sample_to_parameters

__all__ = ["NoMoreTrialError", "Tuner", "parameters_to_sample", "sample_to_parameters"]
