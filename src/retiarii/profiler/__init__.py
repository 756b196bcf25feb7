"""Cost of an architecture — parameters, FLOPs, latency — as a function of its sample.

NNI 3.0's names: ``NumParamsProfiler``, ``FlopsProfiler``, ``LatencyProfiler``,
``RangeProfilerFilter``. A profiler's :meth:`~Profiler.profile` takes a sample and returns a
number; constraints (:class:`RangeProfilerFilter`) and multi-objective experiments use profilers
without building models. See ``docs/hardware-aware.md``.
"""

from __future__ import annotations

from .filters import RangeProfilerFilter
from .latency import LatencyProfiler, OnnxLatencyProfiler
from .profilers import FlopsProfiler, NumParamsProfiler, Profiler

__all__ = [
    "FlopsProfiler",
    "LatencyProfiler",
    "NumParamsProfiler",
    "OnnxLatencyProfiler",
    "Profiler",
    "RangeProfilerFilter",
]
