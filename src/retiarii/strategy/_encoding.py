"""The flattened space as categorical decisions: a sample is a tuple of value indices.

Model-based strategies (evolution, TPE, RL, local search) work on this encoding: label ``i`` takes
index ``0 <= x[i] < sizes[i]`` into ``values[i]`` (the label's ``Choice.values()``, in order), so a
sample is a hashable tuple and a mutation is "change one index".

A *continuous* label (``uniform``, ``loguniform``, ``normal``: infinitely many values) holds its
value itself (a float) at its position, and ``sizes[i]`` is ``math.inf``. Mutating it is a
Gaussian step of :data:`CONTINUOUS_STEP` in its unit coordinate (the cumulative probability, see
:mod:`retiarii.mutable.distributions`): in log scale for ``loguniform``, inside the bounds for
bounded ones. Its "neighbours" (for local search) are the values :data:`NEIGHBOUR_STEPS` away in
that coordinate. Quantized distributions have finitely many values and are categorical here.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from random import Random
from typing import Any

from ..mutable import Numerical, SearchSpace
from ..mutable.distributions import is_continuous

__all__ = ["ON_FAILURE", "Encoding", "Index"]

#: Value indices; a continuous label holds its (float) value instead.
Index = tuple[Any, ...]

#: Standard deviation of a mutation of a continuous label, in its unit coordinate.
CONTINUOUS_STEP = 0.1
#: Steps (both ways) in the unit coordinate that give the neighbours of a continuous value.
NEIGHBOUR_STEPS = (0.05, 0.2)

#: What a strategy does with a failed trial: forget it, or learn it as the worst possible result.
ON_FAILURE = ("ignore", "worst")

#: A label with more values than this cannot be encoded (enumerating it would be the problem).
MAX_VALUES_PER_LABEL = 100_000
#: Near exhaustion, spaces up to this size are scanned for the samples not tried yet.
MAX_SCAN = 1_000_000


def _value_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Encoding:
    """Index encoding of a :class:`~retiarii.mutable.SearchSpace` (see the module docstring)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.labels: list[str] = list(space)
        self.values: list[list[Any]] = []
        #: position -> the continuous distribution there
        self.continuous: dict[int, Numerical] = {}
        for pos, label in enumerate(self.labels):
            choice = space[label]
            if is_continuous(choice):
                assert isinstance(choice, Numerical)
                self.continuous[pos] = choice
                self.values.append([])
                continue
            if choice.size > MAX_VALUES_PER_LABEL:
                raise ValueError(
                    f"label {label!r} has {choice.size} values; strategies that model the space "
                    f"need at most {MAX_VALUES_PER_LABEL} per label (use Random for this space)"
                )
            self.values.append(list(choice.values()))
        self.sizes: list[Any] = [
            math.inf if i in self.continuous else len(v) for i, v in enumerate(self.values)
        ]
        self.size: Any = math.prod(self.sizes)
        self._lookup = [{_value_key(v): i for i, v in enumerate(vals)} for vals in self.values]
        # labels with a real decision (a label with one value can never be mutated)
        self.mutable_positions = [i for i, n in enumerate(self.sizes) if n > 1]

    def encode(self, sample: Mapping[str, Any]) -> Index:
        """The index tuple of a (valid) sample."""
        out = []
        for pos, (label, lookup) in enumerate(zip(self.labels, self._lookup)):
            value = sample[label]
            if pos in self.continuous:
                out.append(self.continuous[pos].normalize(value))
                continue
            index = lookup.get(_value_key(value))
            if index is None:  # e.g. 1.0 for 1: normalise through the choice (names the label)
                index = lookup[_value_key(self.space[label].normalize(value))]
            out.append(index)
        return tuple(out)

    def decode(self, index: Iterable[int]) -> dict[str, Any]:
        """The sample of an index tuple (fresh lists, safe to modify)."""
        return {
            label: (i if pos in self.continuous else _copy(vals[i]))
            for pos, (label, vals, i) in enumerate(zip(self.labels, self.values, index))
        }

    def from_json(self, items: Iterable[Any]) -> Index:
        """An index tuple read back from JSON (a strategy's saved state)."""
        return tuple(float(x) if pos in self.continuous else int(x) for pos, x in enumerate(items))

    def redraw(self, pos: int, current: Any, rng: Random) -> Any:
        """A new value at ``pos``: any index (possibly the same), or a Gaussian step of a
        continuous value."""
        if pos in self.continuous:
            choice = self.continuous[pos]
            return choice.from_unit(choice.to_unit(current) + rng.gauss(0.0, CONTINUOUS_STEP))
        return rng.randrange(self.sizes[pos])

    def random(self, rng: Random) -> Index:
        """A uniformly random index tuple."""
        return tuple(
            self.continuous[pos].random(rng) if pos in self.continuous else rng.randrange(n)
            for pos, n in enumerate(self.sizes)
        )

    def random_unseen(self, rng: Random, seen: set[Index], tries: int = 100) -> Index | None:
        """A random index tuple not in ``seen``; None when there is none (the space is used up).

        Rejection sampling first; when that keeps failing, a small space is scanned so the last
        samples are still found. Past :data:`MAX_SCAN` samples a space is never scanned and is
        reported as used up after ``tries`` misses.
        """
        if len(seen) < self.size:
            for _ in range(tries):
                candidate = self.random(rng)
                if candidate not in seen:
                    return candidate
        if self.size > MAX_SCAN:  # also every space with a continuous label
            return None
        left = [c for c in itertools.product(*(range(n) for n in self.sizes)) if c not in seen]
        return rng.choice(left) if left else None

    def mutate(self, index: Index, rng: Random, count: int = 1) -> Index:
        """``index`` with ``count`` distinct labels changed to another value (fewer if the space
        has fewer labels with a choice)."""
        out = list(index)
        positions = self.mutable_positions
        for pos in rng.sample(positions, min(count, len(positions))):
            out[pos] = self.change(pos, out[pos], rng)
        return tuple(out)

    def change(self, pos: int, current: Any, rng: Random) -> Any:
        """Another value than ``current`` at ``pos`` (a mutable position): a uniformly drawn other
        index, or a Gaussian step of a continuous value."""
        if pos in self.continuous:
            new = current
            for _ in range(10):  # a step can be clipped back onto the same bound
                new = self.redraw(pos, current, rng)
                if new != current:
                    break
            return new
        new = rng.randrange(self.sizes[pos] - 1)
        return new if new < current else new + 1

    def neighbours(self, index: Index) -> list[Index]:
        """Every index tuple that differs from ``index`` in exactly one label."""
        out: list[Index] = []
        for pos in self.mutable_positions:
            if pos in self.continuous:
                choice = self.continuous[pos]
                u = choice.to_unit(index[pos])
                steps = [s * d for d in NEIGHBOUR_STEPS for s in (1, -1)]
                near = {choice.from_unit(u + step) for step in steps} - {index[pos]}
                out.extend((*index[:pos], v, *index[pos + 1 :]) for v in sorted(near))
                continue
            for value in range(self.sizes[pos]):
                if value != index[pos]:
                    out.append((*index[:pos], value, *index[pos + 1 :]))
        return out


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def check_on_failure(on_failure: str) -> str:
    """``on_failure`` if valid; a ``ValueError`` naming the allowed values otherwise."""
    if on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
    return on_failure


def check_positive_int(value: Any, name: str, owner: str) -> int:
    """``value`` if it is an int >= 1; a ``ValueError`` naming the argument otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value
