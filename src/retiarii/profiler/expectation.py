"""Expected cost under independent per-label categorical distributions (for one-shot penalties).

Differentiable one-shot algorithms hold a categorical distribution per label (DARTS' softmax over
candidates); a hardware penalty needs the *expected* cost of an architecture drawn from them, as a
differentiable function of the probabilities (NNI 3.0's ``ExpectationProfilerPenalty``). This
module gives that building block; :class:`retiarii.oneshot.pytorch.ExpectationProfilerPenalty` uses it.

* :func:`expected_params`: exact, from the same per-module terms :class:`NumParamsProfiler` sums.
  By linearity of expectation the expected count is the sum of each module's expected count; a
  choice module (LayerChoice, Repeat, Cell, a layer with value-choice arguments) is expanded over
  the values of its *own* labels, weighted by their probabilities. Probabilities may be floats or
  torch tensors (then the result is a tensor with gradients). Exact when a choice's label does
  not also appear inside its own candidates (true of every hub space).
* :func:`expected_cost`: any profiler, estimated from ``samples`` draws (not differentiable).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from typing import Any

import torch.nn as tnn

from ..nn.pytorch.mutable_args import mutable_args
from ._params import ParamCounter, _PassThrough
from ._view import _ViewFreezer
from .profilers import NumParamsProfiler, Profiler

__all__ = ["expected_cost", "expected_params"]

#: a choice module expanded over more value combinations than this raises
MAX_COMBINATIONS = 4096


def _distribution(
    profiler: Any, probabilities: Mapping[str, Any]
) -> dict[str, list[tuple[Any, Any]]]:
    """``{label: [(value, probability), ...]}``; labels not given are uniform."""
    out: dict[str, list[tuple[Any, Any]]] = {}
    space = profiler.search_space
    unknown = [label for label in probabilities if label not in space]
    if unknown:
        raise KeyError(f"labels {unknown} are not in the space; its labels are {list(space)}")
    for label, choice in space.items():
        values = list(choice.values())
        given = probabilities.get(label)
        if given is None:
            out[label] = [(v, 1.0 / len(values)) for v in values]
        elif isinstance(given, Mapping):
            out[label] = [(v, given.get(v, 0.0)) for v in values]
        else:
            probs = (
                list(given)
                if not hasattr(given, "shape")
                else [given[i] for i in range(len(values))]
            )
            if len(probs) != len(values):
                raise ValueError(
                    f"label {label!r} has {len(values)} values but {len(probs)} probabilities were given"
                )
            out[label] = list(zip(values, probs))
    return out


def expected_params(profiler: NumParamsProfiler, probabilities: Mapping[str, Any]) -> Any:
    """Expected number of parameters when each label is drawn independently.

    Args:
        profiler: a :class:`NumParamsProfiler` of the space.
        probabilities: ``{label: probabilities}``, a sequence aligned with the label's values
            (floats or a 1-D tensor) or a dict ``{value: probability}``; missing labels are
            uniform.

    >>> import retiarii.nn.pytorch as nn
    >>> space = nn.Linear(4, nn.ValueChoice([8, 16], label="width"))
    >>> expected_params(NumParamsProfiler(space), {"width": [0.25, 0.75]})  # 0.25*40 + 0.75*80
    70.0
    """
    if not profiler.counter.exact:
        raise ValueError(
            "expected_params needs a space without shared modules or parameters; use expected_cost"
        )
    dist = _distribution(profiler, probabilities)
    walk = _Expectation(profiler.counter, dist)
    return walk.expect(profiler.view.model)


class _Expectation:
    def __init__(self, counter: ParamCounter, dist: dict[str, list[tuple[Any, Any]]]) -> None:
        self.counter = counter
        self.view = counter.view
        self.dist = dist

    def expect(self, module: tnn.Module) -> Any:
        labels = self.view.labels.get(id(module))
        if labels is None or (labels and getattr(type(module), "_retiarii_freeze", None) is None):
            own = sum(p.numel() for p in module._parameters.values() if p is not None)
            return own + sum(
                (self.expect(c) for c in module._modules.values() if c is not None), 0.0
            )
        if not labels:
            return float(sum(p.numel() for p in module.parameters()))
        hook = type(module)._retiarii_freeze  # type: ignore[attr-defined]
        if mutable_args(module) is not None:
            own_labels = list(labels)
        else:
            own_labels = sorted(
                {leaf.label for d in module._retiarii_decisions() for leaf in d.leaves()}  # type: ignore[operator]
            )
        options = [self.dist[label] for label in own_labels]
        n = 1
        for o in options:
            n *= len(o)
        if n > MAX_COMBINATIONS:
            raise ValueError(
                f"{type(module).__name__} depends on {n} combinations of labels {own_labels}; "
                "too many to expand exactly: use expected_cost"
            )
        total: Any = 0.0
        for combo in itertools.product(*options):
            weight: Any = 1.0
            for _, p in combo:
                weight = weight * p
            sample = {label: value for label, (value, _) in zip(own_labels, combo)}
            if mutable_args(module) is not None:
                built = _ViewFreezer(self.view, sample).module(module)
                count: Any = float(sum(p.numel() for p in built.parameters()))
            else:
                count = self.expect(hook(module, _PassThrough(sample)))
            total = total + weight * count
        return total


def expected_cost(
    profiler: Profiler, probabilities: Mapping[str, Any], samples: int = 256, seed: int = 0
) -> float:
    """Monte-Carlo estimate of ``E[profiler.profile(sample)]`` (any profiler; not differentiable)."""
    dist = _distribution(profiler, probabilities)
    rng = random.Random(seed)
    total = 0.0
    for _ in range(samples):
        sample = {}
        for label, options in dist.items():
            weights = [float(p) for _, p in options]
            sample[label] = rng.choices([v for v, _ in options], weights=weights)[0]
        total += float(profiler.profile(sample))
    return total / samples
