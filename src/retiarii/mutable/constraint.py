"""A search space restricted by a constraint that strategies sample *inside*.

``ConstrainedSearchSpace(space, constraint)`` is the same mapping of labels to choices, with the
space's own :class:`~retiarii.mutable.Constraint` rules (e.g. NAS-Bench-101's edge limit) and
``constraint`` added as one more, *search-only* rule: :meth:`random` draws only samples for which
``constraint(sample)`` holds as well, :meth:`grid` enumerates only those, and :meth:`contains`
says no to the others, but :meth:`validate` does not enforce it (a sample built by hand may
leave it). A strategy attached to it (``RetiariiExperiment(..., constraint=...)`` does that)
never runs an infeasible sample and never records one as a failure: proposals it makes by other
means (an evolution's mutation, a TPE draw) are checked with
:meth:`~retiarii.mutable.SearchSpace.violation` in :meth:`~retiarii.strategy.BaseStrategy.ask`
and drawn again, as for every rule of the space.

:meth:`check` fails early, before any trial runs, when no sample satisfies the constraint: it
enumerates small spaces and tries ``max_tries`` random samples of large ones.

A constraint is any ``fn(sample) -> bool``, e.g. :class:`retiarii.profiler.RangeProfilerFilter`.
This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import InfeasibleConstraintError
from .space import Constraint, Sample, SearchSpace

__all__ = ["ConstrainedSearchSpace", "InfeasibleConstraintError"]


class ConstrainedSearchSpace(SearchSpace):
    """``space`` restricted to the samples where ``constraint(sample)`` is true.

    Args:
        space: the unconstrained space (its choices and constraints are shared, not copied).
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
        # the space's own rules hold too
        super().__init__(space.values(), [*space.constraints, _SearchOnly(constraint)])
        self.unconstrained = space
        self.constraint = constraint
        self.max_constraint_rejections = max_tries
        self.enumerate_limit = enumerate_limit

    def allows(self, sample: Sample) -> bool:
        """Whether ``sample`` (a valid sample of the space) satisfies the constraint."""
        return bool(self.constraint(sample))

    def check(self) -> None:
        """Raise :class:`InfeasibleConstraintError` if no sample satisfies the constraint."""
        if self.size <= self.enumerate_limit:
            if next(self.grid(), None) is None:
                raise InfeasibleConstraintError(
                    f"no architecture satisfies the constraint {self.constraint!r}: all "
                    f"{self.size} samples of the space were checked{_hint(self.constraint)}"
                )
            return
        try:
            self.random(0)
        except InfeasibleConstraintError:
            raise InfeasibleConstraintError(
                f"no architecture found that satisfies the constraint {self.constraint!r}: none "
                f"of {self.max_constraint_rejections} random samples of the space ({self.size} "
                f"samples) does{_hint(self.constraint)}"
            ) from None

    def __repr__(self) -> str:
        return f"ConstrainedSearchSpace({len(self)} labels, constraint={self.constraint!r})"


class _SearchOnly(Constraint):
    """``fn(sample) -> bool`` as a search-only :class:`~retiarii.mutable.Constraint`."""

    search_only = True

    def __init__(self, fn: Callable[[Any], bool]) -> None:
        self.fn = fn
        self.key = f"search-only constraint {id(fn)}"

    def check(self, sample: Mapping[str, Any]) -> str | None:
        return None if self.fn(sample) else f"the constraint {self.fn!r} rejects it"


def _hint(constraint: Any) -> str:
    seen = getattr(constraint, "seen_range", None)
    if callable(seen):
        low_high = seen()
        if low_high is not None:
            return f" (the values seen range from {low_high[0]:g} to {low_high[1]:g}); relax it"
    return "; relax it"
