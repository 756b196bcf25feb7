"""Constraints on a profiled cost: keep the samples whose cost lies in a range."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .profilers import Profiler

__all__ = ["RangeProfilerFilter"]


class RangeProfilerFilter:
    """``fn(sample) -> bool``: whether ``min <= profiler.profile(sample) <= max`` (NNI 3.0's name).

    Usable wherever a strategy takes ``model_filter`` (rejected samples are skipped without
    running), and as the experiment's space-level ``constraint`` (strategies then draw inside the
    range, and an empty range is an error before any trial runs).

    Args:
        profiler: e.g. :class:`FlopsProfiler` or :class:`NumParamsProfiler`.
        min: lower bound (inclusive); None for none.
        max: upper bound (inclusive); None for none.
    """

    def __init__(
        self, profiler: Profiler, min: float | None = None, max: float | None = None
    ) -> None:
        if min is None and max is None:
            raise ValueError("RangeProfilerFilter needs min, max or both")
        if min is not None and max is not None and min > max:
            raise ValueError(f"RangeProfilerFilter: min={min} is larger than max={max}")
        if not callable(getattr(profiler, "profile", None)):
            raise TypeError(f"RangeProfilerFilter takes a profiler, got {profiler!r}")
        self.profiler = profiler
        self.min = min
        self.max = max
        self._low = math.inf
        self._high = -math.inf

    def __call__(self, sample: Mapping[str, Any]) -> bool:
        value = self.profiler.profile(sample)
        self._low = value if value < self._low else self._low
        self._high = value if value > self._high else self._high
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)

    def seen_range(self) -> tuple[float, float] | None:
        """The smallest and largest cost this filter has seen (None before the first call)."""
        return None if self._low > self._high else (self._low, self._high)

    def __repr__(self) -> str:
        bounds = ", ".join(
            f"{k}={v:g}" for k, v in (("min", self.min), ("max", self.max)) if v is not None
        )
        return f"RangeProfilerFilter({type(self.profiler).__name__}, {bounds})"
