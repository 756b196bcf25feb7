"""ProxylessNAS's latency table: the candidates' latency measured on the training device.

The measuring and the on-disk table (``$RETIARII_CACHE/latency.json``) are
:class:`retiarii.profiler.timer.ModuleTimer`'s, shared with the per-sample
:class:`retiarii.profiler.LatencyProfiler`.
"""

from __future__ import annotations

from ...profiler.timer import ModuleTimer, default_cache_path

__all__ = ["LatencyProfiler", "default_cache_path"]


class LatencyProfiler(ModuleTimer):
    """Measures (and caches) the latency of supernet candidates, in milliseconds; the arguments
    are :class:`~retiarii.profiler.timer.ModuleTimer`'s (``device``, ``cache_path``,
    ``warmup``, ``repeats``, ``min_run_time``)."""
