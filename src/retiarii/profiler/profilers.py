"""Parameters and FLOPs of a sample, computed from the space without building the model.

Both profilers analyse the space once (:class:`~retiarii.profiler._view.SpaceView`) and then, per
sample, assemble a shape-only view of the architecture from memoised pieces. The numbers are those
of the model that ``ModelSpace(space).build(sample)`` or ``fixed_arch(sample)`` gives.

**FLOPs convention.** One multiply-add is one FLOP, as NNI and fvcore report them (and half of
what ``torch.utils.flop_counter.FlopCounterMode`` reports). Counted: convolutions, linear layers
and matrix products (``mm``, ``addmm``, ``bmm``, ``baddbmm``, attention) — the operators torch's
FLOP counter knows. Not counted: bias additions, normalisation, activations, pooling and
element-wise arithmetic, which are memory-bound and cheap next to the products. FLOPs are for
the ``example_inputs`` given (their batch size included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..mutable import SearchSpace
from ..nn.pytorch.freeze import collect_search_space
from ..strategy.base import sample_key
from ._params import ParamCounter
from ._view import SpaceView, _model_of

__all__ = ["FlopsProfiler", "NumParamsProfiler", "Profiler"]


class Profiler:
    """Something that maps a sample to a number (cost) — NNI 3.0's profiler interface.

    Subclasses implement :meth:`profile`. A profiler is also a plain function of the sample
    (``profiler(sample)``), so it can be an objective of a multi-objective experiment.
    """

    #: A short name, used as the metric's key when the profiler is an objective.
    name = "cost"
    #: Whether a profile builds and times the model (slow): summaries over the space skip it.
    measures = False

    def profile(self, sample: Mapping[str, Any]) -> float:
        """The cost of the architecture ``sample`` picks."""
        raise NotImplementedError

    def __call__(self, sample: Mapping[str, Any]) -> float:
        return self.profile(sample)


class _CachedProfiler(Profiler):
    """A profiler that keeps its result per sample: a sample is often profiled twice (by a
    filter, then as an objective), and a measurement may take seconds. Subclasses set
    ``self._results = {}`` in ``__init__`` and implement :meth:`_uncached`."""

    #: results kept per profiler (all are dropped when it is full)
    cache_size = 100_000
    _results: dict[str, float]

    def profile(self, sample: Mapping[str, Any]) -> float:
        key = sample_key(sample)
        found = self._results.get(key)
        if found is None:
            found = self._uncached(dict(sample))
            if len(self._results) >= self.cache_size:
                self._results.clear()
            self._results[key] = found
        return found

    def _uncached(self, sample: dict[str, Any]) -> float:
        """The cost of ``sample``, computed or measured."""
        raise NotImplementedError


class _ViewProfiler(_CachedProfiler):
    """Shared part of the two view-based profilers: the analysis, validation of the sample."""

    def __init__(self, space: Any) -> None:
        model = _model_of(space)
        self._init_args: tuple[Any, ...] = (space,)
        self.search_space: SearchSpace = collect_search_space(model)
        self.view = SpaceView(model)
        self._results = {}

    # The analysis is keyed by module identity, which does not survive pickling (an experiment
    # pickles its profilers to resume): a profiler pickles as its arguments and analyses again.
    def __getstate__(self) -> dict[str, Any]:
        return {"init_args": self._init_args}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, *state["init_args"])

    def _uncached(self, sample: dict[str, Any]) -> float:
        return self._compute(self.search_space.validate(sample))

    def _compute(self, sample: dict[str, Any]) -> float:
        raise NotImplementedError

    @property
    def fallbacks(self) -> list[str]:
        """Modules measured on real tensors because they cannot run on meta tensors."""
        return list(self.view.fallbacks)


class NumParamsProfiler(_ViewProfiler):
    """Number of parameters of the frozen model (shared parameters counted once).

    >>> import retiarii.nn.pytorch as nn
    >>> space = nn.Linear(4, nn.ValueChoice([8, 16], label="width"))
    >>> NumParamsProfiler(space).profile({"width": 8})
    40
    """

    name = "params"

    def __init__(self, space: Any) -> None:
        super().__init__(space)
        self.counter = ParamCounter(self.view)
        if self.counter.exact:  # part of the analysis: count every static module once
            self.counter.count(self.search_space.random(0))

    def _compute(self, sample: dict[str, Any]) -> float:
        if self.counter.exact:
            return self.counter.count(sample)
        frozen = self.view.freeze(sample)  # shared modules: count the assembled view, once each
        return sum(p.numel() for p in frozen.parameters())


class FlopsProfiler(_ViewProfiler):
    """FLOPs (multiply-adds, see the module docstring) of one forward pass of the frozen model.

    Args:
        space: the model space (a module built without ``fixed_arch``, or a ``ModelSpace``).
        example_inputs: a tensor or a tuple of positional inputs; only shapes and dtypes are used.

    >>> import torch, retiarii.nn.pytorch as nn
    >>> space = nn.Linear(4, nn.ValueChoice([8, 16], label="width"))
    >>> FlopsProfiler(space, torch.zeros(2, 4)).profile({"width": 16})  # 2 rows x 4 x 16
    128
    """

    name = "flops"

    def __init__(self, space: Any, example_inputs: Any) -> None:
        super().__init__(space)
        self._init_args = (space, example_inputs)
        inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
        self.example_inputs = tuple(
            torch.empty(x.shape, dtype=x.dtype, device="meta") if isinstance(x, torch.Tensor) else x
            for x in inputs
        )
        # Part of the analysis: the first forward on meta tensors pays torch's one-time set-up
        # (seconds), and the first sample fills the memo of every static layer.
        self.view.run(self.view.freeze(self.search_space.random(0), lazy=True), self.example_inputs)

    def _compute(self, sample: dict[str, Any]) -> float:
        return self.view.run(self.view.freeze(sample, lazy=True), self.example_inputs)
