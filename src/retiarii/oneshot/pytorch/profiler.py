"""NNI 3.0's module name for the one-shot cost penalty (``nni.nas.oneshot.pytorch.profiler``)."""

from __future__ import annotations

from .penalty import ExpectationProfilerPenalty

__all__ = ["ExpectationProfilerPenalty"]
