"""A search space restricted by a constraint that strategies sample *inside*.

``ConstrainedSearchSpace(space, constraint)`` is the same mapping of labels to choices, with the
same :class:`~retiarii.mutable.Constraint` rules (e.g. NAS-Bench-101's edge limit), whose
:meth:`random` draws only samples for which ``constraint(sample)`` holds as well, whose :meth:`grid`
enumerates only those, and whose :meth:`contains` says no to the others. A strategy attached to
it (``RetiariiExperiment(..., constraint=...)`` does that) never runs an infeasible sample and
never records one as a failure: proposals it makes by other means (an evolution's mutation, a
TPE draw) are checked in :meth:`~retiarii.strategy.BaseStrategy.ask` and drawn again.

:meth:`check` fails early, before any trial runs, when no sample satisfies the constraint: it
enumerates small spaces and tries ``max_tries`` random samples of large ones.

A constraint is any ``fn(sample) -> bool``, e.g. :class:`retiarii.profiler.RangeProfilerFilter`.
This module imports no torch.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from .space import Sample, SearchSpace

__all__ = ["ConstrainedSearchSpace", "InfeasibleConstraintError"]


class InfeasibleConstraintError(ValueError):
    """No architecture of the space satisfies the constraint (or none was found)."""


class ConstrainedSearchSpace(SearchSpace):
    """``space`` restricted to the samples where ``constraint(sample)`` is true.

    Args:
        space: the unconstrained space (its choices are shared, not copied).
        constraint: ``fn(sample) -> bool``.
        max_tries: random draws before :meth:`random` (and :meth:`check`, on a space too large to
            enumerate) gives up.
        enumerate_limit: spaces up to this size are enumerated by :meth:`check`.
    """

    def __init__(
        self,
        space: SearchSpace,
        constraint: Callable[[Sample], bool],
        max_tries: int = 10_000,
        enumerate_limit: int = 100_000,
    ) -> None:
        if not callable(constraint):
            raise TypeError(f"a constraint is a function fn(sample) -> bool, got {constraint!r}")
        super().__init__(space.values(), space.constraints)  # the space's own rules hold too
        self.unconstrained = space
        self.constraint = constraint
        self.max_tries = max_tries
        self.enumerate_limit = enumerate_limit

    def allows(self, sample: Sample) -> bool:
        """Whether ``sample`` (a valid sample of the space) satisfies the constraint."""
        return bool(self.constraint(sample))

    def random(self, seed: int | random.Random | None = None) -> Sample:
        rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        for _ in range(self.max_tries):
            sample = super().random(rng)
            if self.allows(sample):
                return sample
        raise InfeasibleConstraintError(
            f"none of {self.max_tries} random samples satisfies the constraint {self.constraint!r}"
        )

    def grid(self) -> Iterator[Sample]:
        return (sample for sample in super().grid() if self.allows(sample))

    def contains(self, sample: Any) -> bool:
        return super().contains(sample) and self.allows(self.validate(sample))

    def check(self) -> None:
        """Raise :class:`InfeasibleConstraintError` if no sample satisfies the constraint."""
        if self.size <= self.enumerate_limit:
            if next(self.grid(), None) is None:
                raise InfeasibleConstraintError(
                    f"no architecture satisfies the constraint {self.constraint!r}: all "
                    f"{self.size} samples of the space were checked{_hint(self.constraint)}"
                )
            return
        rng = random.Random(0)
        for _ in range(self.max_tries):
            if self.allows(super().random(rng)):
                return
        raise InfeasibleConstraintError(
            f"no architecture found that satisfies the constraint {self.constraint!r}: none of "
            f"{self.max_tries} random samples of the space ({self.size} samples) does"
            f"{_hint(self.constraint)}"
        )

    def __repr__(self) -> str:
        return f"ConstrainedSearchSpace({len(self)} labels, constraint={self.constraint!r})"


def _hint(constraint: Any) -> str:
    seen = getattr(constraint, "seen_range", None)
    if callable(seen):
        low_high = seen()
        if low_high is not None:
            return f" (the values seen range from {low_high[0]:g} to {low_high[1]:g}); relax it"
    return "; relax it"
