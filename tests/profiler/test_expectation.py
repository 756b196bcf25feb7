"""Expected cost under per-label distributions: exact for parameters, differentiable."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from retiarii.nn.pytorch import ModelSpace
from retiarii.profiler import FlopsProfiler, NumParamsProfiler
from retiarii.profiler.expectation import expected_cost, expected_params

from .test_profilers import UserNet


def _brute_force(space: ModelSpace, profiler, probs) -> float:
    labels = space.labels
    domains = {label: list(space.search_space[label].values()) for label in labels}
    total = 0.0
    for values in itertools.product(*(domains[label] for label in labels)):
        weight = math.prod(
            probs[label][domains[label].index(v)] if label in probs else 1 / len(domains[label])
            for label, v in zip(labels, values)
        )
        total += weight * profiler.profile(dict(zip(labels, values)))
    return total


def test_expected_params_is_exact_and_differentiable() -> None:
    space = ModelSpace(UserNet())
    profiler = NumParamsProfiler(space)
    probs = {"width": [0.3, 0.7], "depth": [0.2, 0.5, 0.3], "op": [0.6, 0.4]}
    assert expected_params(profiler, probs) == pytest.approx(_brute_force(space, profiler, probs))
    logits = torch.zeros(2, requires_grad=True)
    value = expected_params(profiler, {"width": logits.softmax(0)})
    value.backward()
    assert logits.grad is not None and logits.grad[1] > 0  # more width, more parameters


def test_bad_probabilities_are_named() -> None:
    profiler = NumParamsProfiler(UserNet())
    with pytest.raises(KeyError, match="nope"):
        expected_params(profiler, {"nope": [1.0]})
    with pytest.raises(ValueError, match="'width' has 2 values"):
        expected_params(profiler, {"width": [1.0]})


def test_expected_cost_estimates_any_profiler() -> None:
    space = ModelSpace(UserNet())
    flops = FlopsProfiler(space, torch.zeros(1, 3, 8, 8))
    probs = {"width": [1.0, 0.0], "k": [1.0, 0.0], "depth": [1.0, 0.0, 0.0], "op": [0.0, 1.0]}
    exact = flops.profile({"width": 8, "k": 3, "depth": 1, "op": "pool", "skip": [0]})
    estimate = expected_cost(flops, {**probs, "skip": [1.0, 0.0]}, samples=8)
    assert estimate == exact
