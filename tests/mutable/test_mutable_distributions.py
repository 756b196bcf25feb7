"""Numerical distributions: NNI 3.0's names, size, grid granularity, algebra, validation, JSON."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

import retiarii
import retiarii.nn.pytorch as nn
from retiarii.mutable import (
    Categorical,
    LabelConflictError,
    SampleError,
    SearchSpace,
    loguniform,
    normal,
    qloguniform,
    quniform,
    randint,
    uniform,
)


def test_exported_from_retiarii_and_nn() -> None:
    for name in ("uniform", "loguniform", "quniform", "qloguniform", "normal", "randint"):
        assert getattr(retiarii, name) is getattr(nn, name)


def test_continuous_space_has_infinite_size_and_a_quantized_grid() -> None:
    space = SearchSpace([Categorical([1, 2], label="a"), loguniform("lr", 1e-4, 1e-1)])
    assert math.isinf(space.size)
    grid = list(space.grid())
    assert len(grid) == 2 * 5  # grid_points = 5 per continuous label
    lrs = sorted({s["lr"] for s in grid})
    # midpoints of equally likely intervals: evenly spaced in log scale
    ratios = [b / a for a, b in itertools.pairwise(lrs)]
    assert ratios == pytest.approx([ratios[0]] * 4)
    assert lrs[0] > 1e-4 and lrs[-1] < 1e-1
    assert list(uniform("u", 0, 1).values()) == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])


def test_quantized_and_randint_are_finite() -> None:
    q = quniform("q", 0, 1, 0.25)
    assert q.size == 5 and list(q.values()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert list(qloguniform("ql", 1, 100, 10).values())[:3] == [1.0, 10.0, 20.0]
    r = randint("r", 2, 5)  # upper excluded, as in NNI
    assert r.size == 3 and list(r.values()) == [2, 3, 4]
    assert SearchSpace([q, r]).size == 15


def test_random_values_respect_the_distribution() -> None:
    rng = random.Random(0)
    lr = loguniform("lr", 1e-4, 1e-1)
    draws = [lr.random(rng) for _ in range(2000)]
    assert all(1e-4 <= x <= 1e-1 for x in draws)
    below = sum(x < 10**-2.5 for x in draws) / len(draws)  # the log-scale median
    assert below == pytest.approx(0.5, abs=0.05)
    n = normal("n", 3.0, 0.5)
    values = [n.random(rng) for _ in range(2000)]
    assert sum(values) / len(values) == pytest.approx(3.0, abs=0.05)
    q = quniform("q", 0, 1, 0.25)
    assert {q.random(rng) for _ in range(200)} == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_distributions_in_the_algebra() -> None:
    lr = loguniform("lr", 1e-4, 1e-1)
    drop = uniform("drop", 0.0, 0.5)
    assert (lr * 2).freeze({"lr": 0.01}) == 0.02
    cond = nn.ValueChoice.condition(lr > 0.01, "big", "small")
    assert cond.freeze({"lr": 0.05}) == "big" and cond.freeze({"lr": 0.001}) == "small"
    assert nn.ValueChoice.to_int(drop * 10).freeze({"drop": 0.37}) == 3
    assert nn.ValueChoice.max(drop, 0.2).freeze({"drop": 0.1}) == 0.2
    expr = (lr + drop) / 2
    assert {c.label for c in expr.leaves()} == {"lr", "drop"}
    with pytest.raises(TypeError, match="not a float until a sample is chosen"):
        float(lr)


def test_validation_names_the_label() -> None:
    space = SearchSpace([uniform("drop", 0.0, 0.5), quniform("q", 0, 1, 0.25)])
    assert space.validate({"drop": 0.25, "q": 0.5}) == {"drop": 0.25, "q": 0.5}
    assert space.validate({"drop": 0, "q": 1}) == {"drop": 0.0, "q": 1.0}
    with pytest.raises(SampleError, match="'drop' is out of range"):
        space.validate({"drop": 0.7, "q": 0.5})
    with pytest.raises(SampleError, match="'q' is not a multiple"):
        space.validate({"drop": 0.1, "q": 0.3})
    with pytest.raises(SampleError, match=r"'drop'.*expected a number"):
        space.validate({"drop": "x", "q": 0.5})


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="low must be below high"):
        uniform("u", 1, 0)
    with pytest.raises(ValueError, match="low must be positive in log scale"):
        loguniform("lr", 0, 1)
    with pytest.raises(ValueError, match="sigma must be positive"):
        normal("n", 0, 0)
    with pytest.raises(TypeError, match="label must be a non-empty string"):
        uniform(None, 0, 1)  # type: ignore[arg-type]


def test_same_label_is_one_decision_and_different_bounds_conflict() -> None:
    space = SearchSpace([loguniform("lr", 1e-4, 1e-1), loguniform("lr", 1e-4, 1e-1)])
    assert list(space) == ["lr"]
    with pytest.raises(LabelConflictError, match="'lr'"):
        SearchSpace([loguniform("lr", 1e-4, 1e-1), uniform("lr", 1e-4, 1e-1)])
    with pytest.raises(LabelConflictError, match="'lr'"):
        SearchSpace([loguniform("lr", 1e-4, 1e-1), Categorical([0.1, 0.01], label="lr")])


def test_nni_search_space_json_and_float_samples_round_trip() -> None:
    space = SearchSpace(
        [
            uniform("u", 0, 1),
            loguniform("lr", 1e-4, 1e-1),
            quniform("q", 0, 1, 0.25),
            qloguniform("ql", 1, 100, 10),
            normal("n", 0, 1),
            randint("r", 1, 5),
        ]
    )
    assert space.to_json() == {
        "u": {"_type": "uniform", "_value": [0.0, 1.0]},
        "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
        "q": {"_type": "quniform", "_value": [0.0, 1.0, 0.25]},
        "ql": {"_type": "qloguniform", "_value": [1.0, 100.0, 10.0]},
        "n": {"_type": "normal", "_value": [0.0, 1.0]},
        "r": {"_type": "randint", "_value": [1, 5]},
    }
    for seed in range(20):
        sample = space.random(seed)
        back = json.loads(json.dumps(sample))
        assert back == sample  # floats survive JSON exactly (repr round trip)
        assert space.validate(back) == sample
        assert isinstance(back["lr"], float) and isinstance(back["r"], int)
