"""The Pareto front of an experiment with several objectives, read from (and marked in) its store.

An experiment's objectives are its configuration's ``objectives`` (``{metric: direction}``); a
trial's objective values are read from its final metric (profiled objectives were added to it
when it finished, see :mod:`retiarii.experiment.objectives`). The front is the set of succeeded
trials no other succeeded trial dominates. :func:`mark_front` records it in the experiment's
``info`` (``pareto_front``: trial ids, ``objectives``), which is what the store keeps about it:
finished trials themselves are never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..pareto import Objectives, pareto_front
from .records import TrialRecord
from .store import ExperimentStore

__all__ = ["experiment_objectives", "mark_front", "pareto_trials"]


def experiment_objectives(store: ExperimentStore) -> Objectives | None:
    """The experiment's objectives, or None when it optimises one metric."""
    config: Mapping[str, Any] = store.experiment().config or {}
    directions = config.get("objectives")
    return Objectives(directions) if directions else None


def pareto_trials(
    store: ExperimentStore, objectives: Objectives | Mapping[str, str] | None = None
) -> list[TrialRecord]:
    """Succeeded trials on the Pareto front, ordered by the first objective (best first).

    ``objectives`` defaults to the experiment's; without any, the front of the single metric
    under the experiment's ``optimize_mode`` (the best trials, ties included).
    """
    if objectives is None:
        objectives = experiment_objectives(store) or Objectives(
            {"default": store.experiment().optimize_mode}
        )
    elif not isinstance(objectives, Objectives):
        objectives = Objectives(objectives)
    trials, points = [], []
    for trial in store.trials("SUCCEEDED"):
        vector = objectives.vector(trial.final if trial.final is not None else trial.final_value)
        if vector is not None:
            trials.append(trial)
            points.append(vector)
    front = sorted(pareto_front(points), key=lambda i: (points[i], trials[i].id))
    return [trials[i] for i in front]


def mark_front(store: ExperimentStore) -> list[int]:
    """Record the front's trial ids in the experiment's ``info``; returns them."""
    objectives = experiment_objectives(store)
    if objectives is None:
        return []
    ids = [t.id for t in pareto_trials(store, objectives)]
    store.update_info({"pareto_front": ids, "objectives": objectives.directions})
    return ids
