"""What the multi-objective strategies share: the objectives and a result's vector.

A multi-objective strategy learns from the metric dict a trial reports
(:attr:`TrialResult.metrics`), read through :class:`retiarii.pareto.Objectives` as a tuple to
minimise. Its objectives come from its constructor or, inside an experiment, from
``config.objectives`` (:meth:`MultiObjectiveMixin.set_objectives`); a contradiction raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..pareto import Objectives
from .base import TrialResult

__all__ = ["MultiObjectiveMixin"]


class MultiObjectiveMixin:
    """Holds ``objectives``; gives :meth:`vector` of a result (None: failed or incomplete)."""

    objectives: Objectives | None = None

    def _init_objectives(self, objectives: Mapping[str, str] | None) -> None:
        self.objectives = Objectives(objectives) if objectives is not None else None
        self.requested_objectives = dict(objectives) if objectives is not None else None

    def set_objectives(self, objectives: Mapping[str, str]) -> None:
        """Called by the experiment with ``config.objectives`` before :meth:`attach`."""
        requested = self.requested_objectives
        if requested is not None and requested != dict(objectives):
            raise ValueError(
                f"{type(self).__name__} was given objectives={requested!r} but the experiment's "
                f"config.objectives is {dict(objectives)!r}; set one of them"
            )
        self.objectives = Objectives(objectives)

    def check_objectives(self) -> Objectives:
        """The objectives, or a ``ValueError`` saying how to give them."""
        if self.objectives is None:
            raise ValueError(
                f"{type(self).__name__} optimises several objectives: give them, e.g. "
                f"{type(self).__name__}(objectives={{'default': 'maximize', 'flops': 'minimize'}}) "
                "or config.objectives = {...}"
            )
        return self.objectives

    def vector(self, result: TrialResult) -> tuple[float, ...] | None:
        """``result``'s objectives as a tuple to minimise; None for a failure or a missing one."""
        if result.status != "SUCCEEDED":
            return None
        metrics: Any = result.metrics if result.metrics is not None else result.value
        return self.check_objectives().vector(metrics)
