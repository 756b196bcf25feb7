"""Objectives and constraints of a hardware-aware experiment, applied around the loop.

* Profiled objectives: ``RetiariiExperiment(..., profilers={'flops': FlopsProfiler(...)})``
  adds ``profiler.profile(sample)`` under its name to every final metric a trial reports, in
  the driver, before the store records it. So an objective may be a profiler's number without
  the evaluator computing it, and the store, the dashboard, ``export`` and the strategies all see
  one metric dict. :class:`ProfilingExecutor` does it by wrapping the executor's events, so the
  loop itself is unchanged.
* A space-level constraint: :func:`constrained_space` restricts the search space the strategy is
  attached to (see :mod:`retiarii.mutable.constraint`), checking first that it is not empty.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..execution.events import FinalMetric
from ..mutable import SearchSpace
from ..mutable.constraint import ConstrainedSearchSpace

__all__ = [
    "ProfilingExecutor",
    "add_profiled_metrics",
    "check_profilers",
    "constrained_space",
    "profiled_ranges",
]


def check_profilers(profilers: Mapping[str, Any] | None) -> dict[str, Any]:
    """``profilers`` as a dict ``{name: profiler}``, or a ``TypeError`` naming the bad entry."""
    if profilers is None:
        return {}
    if not isinstance(profilers, Mapping):
        raise TypeError(
            f"profilers must be a dict {{metric name: profiler}}, e.g. {{'flops': FlopsProfiler(...)}}; "
            f"got {profilers!r}"
        )
    for name, profiler in profilers.items():
        if not isinstance(name, str) or name == "default":
            raise TypeError(f"profilers: {name!r} is not a valid metric name ('default' is taken)")
        if not callable(getattr(profiler, "profile", None)):
            raise TypeError(f"profilers[{name!r}] has no profile(sample) method: {profiler!r}")
    return dict(profilers)


def add_profiled_metrics(
    metric: Any, sample: Mapping[str, Any], profilers: Mapping[str, Any]
) -> Any:
    """``metric`` as a dict with each profiler's value added (reported keys win)."""
    if not profilers:
        return metric
    out: dict[str, Any] = dict(metric) if isinstance(metric, Mapping) else {"default": metric}
    for name, profiler in profilers.items():
        if name not in out:
            value = float(profiler.profile(sample))
            out[name] = int(value) if value.is_integer() and math.isfinite(value) else value
    return out


class ProfilingExecutor:
    """Wraps an executor: final metrics come back with the profilers' values added."""

    def __init__(self, executor: Any, profilers: Mapping[str, Any]) -> None:
        self.executor = executor
        self.profilers = dict(profilers)
        self._samples: dict[int, dict[str, Any]] = {}

    def submit(self, trial_id: int, sample: dict[str, Any], trial_dir: str) -> None:
        self._samples[trial_id] = sample
        self.executor.submit(trial_id, sample, trial_dir)

    def poll(self, timeout: float | None = None) -> list[Any]:
        events = self.executor.poll(timeout)
        out = []
        for event in events:
            sample = self._samples.get(getattr(event, "trial_id", -1))
            if isinstance(event, FinalMetric) and sample is not None:
                event = dataclasses.replace(
                    event, metric=add_profiled_metrics(event.metric, sample, self.profilers)
                )
            out.append(event)
        return out

    def __getattr__(self, name: str) -> Any:  # start, cancel, running, free_slots, shutdown...
        return getattr(self.executor, name)


def constrained_space(
    space: SearchSpace, constraint: Callable[[dict[str, Any]], bool]
) -> ConstrainedSearchSpace:
    """``space`` restricted by ``constraint``; raises before any trial if nothing satisfies it."""
    constrained = ConstrainedSearchSpace(space, constraint)
    constrained.check()
    return constrained


def profiled_ranges(
    profilers: Mapping[str, Any],
    space: SearchSpace,
    samples: int = 200,
    seconds: float = 2.0,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """``{name: {min, max, samples}}`` of each profiler over random samples of the space.

    What the overview shows next to the search space, so that a constraint or a front can be
    read against the space's spread. Profilers that measure (latency) are left out; each
    profiler gets at most ``samples`` draws and ``seconds`` of time.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, profiler in profilers.items():
        if getattr(profiler, "measures", False):
            continue
        rng = random.Random(seed)
        values: list[float] = []
        deadline = time.perf_counter() + seconds
        while len(values) < samples and time.perf_counter() < deadline:
            values.append(float(profiler.profile(space.random(rng))))
        if values:
            out[name] = {"min": min(values), "max": max(values), "samples": len(values)}
    return out
