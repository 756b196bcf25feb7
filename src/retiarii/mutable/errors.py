"""Errors of the search-space algebra. Each message names the label and says what to do."""

from __future__ import annotations

__all__ = ["LabelConflictError", "SampleError"]


class SampleError(ValueError):
    """A sample does not fit a search space (missing/unknown label, value not a candidate)."""


class LabelConflictError(ValueError):
    """Two different decisions were given the same label."""
