"""Errors of the search-space algebra. Each message names the label and says what to do."""

from __future__ import annotations

__all__ = [
    "ConstraintViolation",
    "InfeasibleConstraintError",
    "LabelConflictError",
    "SampleError",
]


class SampleError(ValueError):
    """A sample does not fit a search space (missing/unknown label, value not a candidate)."""


class ConstraintViolation(SampleError):
    """Every label of a sample has an allowed value, but together they break a rule of the space
    (e.g. a NAS-Bench-101 cell with more edges than ``max_num_edges``)."""


class InfeasibleConstraintError(SampleError):
    """No sample of the space satisfies its constraints (or none was found in the draws allowed)."""


class LabelConflictError(ValueError):
    """Two different decisions were given the same label."""
