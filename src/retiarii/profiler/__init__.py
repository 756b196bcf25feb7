"""Cost of an architecture — parameters, FLOPs, latency — as a function of its sample.

NNI 3.0's names: ``NumParamsProfiler``, ``FlopsProfiler``, ``LatencyProfiler``,
``RangeProfilerFilter``. A profiler's :meth:`~Profiler.profile` takes a sample and returns a
number; constraints (:class:`RangeProfilerFilter`, :class:`ProfilerConstraint`) and
multi-objective experiments use profilers without building models.
"""

from __future__ import annotations

from .profilers import FlopsProfiler, NumParamsProfiler, Profiler

__all__ = ["FlopsProfiler", "NumParamsProfiler", "Profiler"]
