"""Numerical decisions: continuous and quantized distributions, and random integers (NNI 3.0 names).

``uniform(label, low, high)``, ``loguniform``, ``quniform``, ``qloguniform``, ``normal`` and
``randint`` declare hyperparameters such as a learning rate or a dropout rate. They are choices
like ``ValueChoice``: they have a label, take part in the algebra (``lr * 2``,
``ValueChoice.condition(lr > 0.01, a, b)``), and a sample holds the drawn number itself, so
samples stay plain JSON.

Semantics a user relies on:

* **Size.** A continuous distribution (``uniform``, ``loguniform``, ``normal``) has infinitely
  many values: its ``size`` is ``math.inf``, and so is the size of any space that holds one.
  Quantized distributions and ``randint`` have a finite size (the number of distinct values).
* **Grid.** :meth:`Numerical.values` — what grid search enumerates — is every value of a
  quantized distribution, and for a continuous one :attr:`Numerical.grid_points` (default 5)
  values: the midpoints of equally probable intervals (evenly spaced for ``uniform``, evenly
  spaced in log scale for ``loguniform``, quantiles for ``normal``).
* **Strategies** move through the *unit coordinate* (:meth:`Numerical.to_unit` /
  :meth:`Numerical.from_unit`): the cumulative probability of a value. A Gaussian step there is a
  step in log scale for ``loguniform`` and stays inside the bounds of a bounded distribution.
* **Quantization** is NNI's: ``clip(round(x / q) * q, low, high)``.
* ``randint(label, lower, upper)`` is an integer with ``lower <= x < upper`` (NNI's bounds), a
  :class:`~retiarii.mutable.Categorical` over ``range(lower, upper)``.

What this does not do: truncate ``normal`` (it is unbounded) or offer ``qnormal``/``lognormal``.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterator, Mapping
from typing import Any

from .core import Categorical, Choice, MutableExpression
from .errors import SampleError
from .labels import validate_label

__all__ = [
    "Numerical",
    "RandomInteger",
    "loguniform",
    "normal",
    "qloguniform",
    "quniform",
    "randint",
    "uniform",
]

#: Unit coordinates are kept this far from 0 and 1, where ``normal``'s quantile is infinite.
_EPS = 1e-12


def _number(value: Any, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{owner}: {name} must be a finite number, got {value!r}")
    return float(value)


def _tidy(x: float) -> float:
    """``x`` rounded to 12 significant digits: ``0.30000000000000004`` reads as ``0.3``."""
    return float(f"{x:.12g}")


class Numerical(Choice, MutableExpression):
    """A number drawn from a distribution; built by :func:`uniform`, :func:`loguniform`,
    :func:`quniform`, :func:`qloguniform` and :func:`normal` (see the module docstring).

    Args:
        low, high: bounds (``uniform``/``loguniform``), inclusive.
        mu, sigma: mean and standard deviation (``normal``); ``low``/``high`` must be None.
        log: sample uniformly in log scale (``low`` must be positive).
        quantize: round values to multiples of this step (then clip to the bounds).
        label: the label (required: a hyperparameter is named by its user).
    """

    #: Values of a continuous distribution in :meth:`values` (what grid search tries).
    grid_points = 5

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        mu: float | None = None,
        sigma: float | None = None,
        log: bool = False,
        quantize: float | None = None,
        label: str,
    ) -> None:
        self.label = validate_label(label, "Numerical")
        owner = f"{self._kind_of(mu is not None, log, quantize)}(label={label!r})"
        self.log = bool(log)
        self.quantize = None if quantize is None else _number(quantize, "quantize", owner)
        if self.quantize is not None and self.quantize <= 0:
            raise ValueError(f"{owner}: quantize must be positive, got {quantize!r}")
        self.mu: float | None = None
        self.sigma: float | None = None
        self.low: float | None = None
        self.high: float | None = None
        if mu is not None or sigma is not None:
            if low is not None or high is not None or log:
                raise TypeError(f"{owner}: give either low/high or mu/sigma, not both")
            self.mu = _number(mu, "mu", owner)
            self.sigma = _number(sigma, "sigma", owner)
            if self.sigma <= 0:
                raise ValueError(f"{owner}: sigma must be positive, got {sigma!r}")
        else:
            self.low = _number(low, "low", owner)
            self.high = _number(high, "high", owner)
            if not self.low < self.high:
                raise ValueError(f"{owner}: low must be below high, got low={low!r}, high={high!r}")
            if self.log and self.low <= 0:
                raise ValueError(f"{owner}: low must be positive in log scale, got {low!r}")
        self.kind = self._kind_of(self.mu is not None, self.log, self.quantize)

    @staticmethod
    def _kind_of(is_normal: bool, log: bool, quantize: float | None) -> str:
        base = "normal" if is_normal else ("loguniform" if log else "uniform")
        return ("q" if quantize is not None else "") + base

    @property
    def continuous(self) -> bool:
        """Whether the distribution has infinitely many values (it is not quantized)."""
        return self.quantize is None

    # -- the unit coordinate ---------------------------------------------------------------------
    def from_unit(self, u: float) -> float:
        """The value whose cumulative probability is ``u`` (in [0, 1]), quantized and clipped."""
        u = min(max(u, 0.0), 1.0)
        if self.mu is not None:
            assert self.sigma is not None
            x = statistics.NormalDist(self.mu, self.sigma).inv_cdf(min(max(u, _EPS), 1 - _EPS))
        else:
            assert self.low is not None and self.high is not None
            if self.log:
                lo, hi = math.log(self.low), math.log(self.high)
                x = math.exp(lo + u * (hi - lo))
            else:
                x = self.low + u * (self.high - self.low)
        return self._snap(x)

    def to_unit(self, value: float) -> float:
        """The cumulative probability of ``value`` (the inverse of :meth:`from_unit`)."""
        if self.mu is not None:
            assert self.sigma is not None
            return statistics.NormalDist(self.mu, self.sigma).cdf(value)
        assert self.low is not None and self.high is not None
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            u = (math.log(max(value, self.low)) - lo) / (hi - lo)
        else:
            u = (value - self.low) / (self.high - self.low)
        return min(max(u, 0.0), 1.0)

    def _snap(self, x: float) -> float:
        """Quantize (NNI: ``round(x / q) * q``) and clip to the bounds."""
        if self.quantize is not None:
            x = _tidy(round(x / self.quantize) * self.quantize)
        if self.low is not None and self.high is not None:
            x = min(max(x, self.low), self.high)
        return float(x)

    # -- Choice ----------------------------------------------------------------------------------
    @property
    def size(self) -> float:  # type: ignore[override]  # math.inf for a continuous distribution
        if self.continuous:
            return math.inf
        return len(self._quantized_values())

    def _quantized_values(self) -> list[float]:
        assert self.quantize is not None
        if self.low is None or self.high is None:
            return [self.from_unit((i + 0.5) / self.grid_points) for i in range(self.grid_points)]
        q = self.quantize
        first, last = math.ceil(self.low / q), math.floor(self.high / q)
        inner = [_tidy(k * q) for k in range(first, last + 1)]
        return sorted({self.low, self.high, *(v for v in inner if self.low <= v <= self.high)})

    def values(self) -> Iterator[float]:
        """Every value if quantized; else :attr:`grid_points` midpoints of equally likely intervals."""
        if self.quantize is not None:
            return iter(self._quantized_values())
        n = self.grid_points
        return iter(_tidy(self.from_unit((i + 0.5) / n)) for i in range(n))

    def random(self, rng: random.Random) -> float:
        if self.mu is not None:
            assert self.sigma is not None
            return self._snap(rng.gauss(self.mu, self.sigma))
        return self.from_unit(rng.random())

    def normalize(self, value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise SampleError(
                f"value {value!r} for label {self.label!r} is not valid; expected a number "
                f"from {self!r}"
            )
        x = float(value)
        if self.low is not None and self.high is not None:
            slack = 1e-9 * max(1.0, abs(self.low), abs(self.high))
            if not self.low - slack <= x <= self.high + slack:
                raise SampleError(
                    f"value {value!r} for label {self.label!r} is out of range; expected "
                    f"{self.low!r} <= value <= {self.high!r}"
                )
        snapped = self._snap(x)
        if self.quantize is not None and abs(snapped - x) > 1e-9 * max(1.0, abs(x)):
            raise SampleError(
                f"value {value!r} for label {self.label!r} is not a multiple of "
                f"quantize={self.quantize!r}"
            )
        return snapped

    def freeze(self, sample: Mapping[str, Any]) -> float:
        if self.label not in sample:
            raise SampleError(f"the sample has no value for label {self.label!r} ({self!r})")
        return self.normalize(sample[self.label])

    def spec(self) -> dict[str, Any]:
        """NNI's HPO format: ``{"_type": "loguniform", "_value": [low, high]}`` etc."""
        bounds = [self.mu, self.sigma] if self.mu is not None else [self.low, self.high]
        value: list[Any] = bounds + ([self.quantize] if self.quantize is not None else [])
        return {"_type": self.kind, "_value": value}

    def __repr__(self) -> str:
        args = [repr(v) for v in self.spec()["_value"]]
        return f"{self.kind}({self.label!r}, {', '.join(args)})"


class RandomInteger(Categorical):
    """An integer ``lower <= x < upper``: a categorical choice over ``range(lower, upper)``."""

    kind = "randint"

    def __init__(self, lower: int, upper: int, *, label: str) -> None:
        owner = f"randint(label={label!r})"
        for name, bound in (("lower", lower), ("upper", upper)):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise TypeError(f"{owner}: {name} must be an int, got {bound!r}")
        if not lower < upper:
            raise ValueError(
                f"{owner}: lower must be below upper (exclusive), got {lower}, {upper}"
            )
        super().__init__(range(lower, upper), label=validate_label(label, "randint"))
        self.lower, self.upper = lower, upper

    def spec(self) -> dict[str, Any]:
        return {"_type": "randint", "_value": [self.lower, self.upper]}

    def __repr__(self) -> str:
        return f"randint({self.label!r}, {self.lower}, {self.upper})"


def uniform(label: str, low: float, high: float) -> Numerical:
    """A float drawn uniformly from ``[low, high]``."""
    return Numerical(low, high, label=label)


def loguniform(label: str, low: float, high: float) -> Numerical:
    """A float in ``[low, high]`` whose logarithm is uniform (learning rates, weight decay)."""
    return Numerical(low, high, log=True, label=label)


def quniform(label: str, low: float, high: float, quantize: float) -> Numerical:
    """``clip(round(uniform(low, high) / quantize) * quantize, low, high)``."""
    return Numerical(low, high, quantize=quantize, label=label)


def qloguniform(label: str, low: float, high: float, quantize: float) -> Numerical:
    """``clip(round(loguniform(low, high) / quantize) * quantize, low, high)``."""
    return Numerical(low, high, log=True, quantize=quantize, label=label)


def normal(label: str, mu: float, sigma: float) -> Numerical:
    """A float drawn from the normal distribution with mean ``mu`` and deviation ``sigma``."""
    return Numerical(mu=mu, sigma=sigma, label=label)


def randint(label: str, lower: int, upper: int) -> RandomInteger:
    """An int with ``lower <= x < upper`` (NNI's bounds: ``upper`` is excluded)."""
    return RandomInteger(lower, upper, label=label)


def is_continuous(choice: Choice) -> bool:
    """Whether ``choice`` has infinitely many values."""
    return isinstance(choice, Numerical) and choice.continuous
