"""The dashboard's view of several objectives: every trial's objective values and the front."""

from __future__ import annotations

from typing import Any

from ..store import ExperimentStore
from ..store.pareto import experiment_objectives, pareto_trials

__all__ = ["pareto_summary", "pareto_view"]


def pareto_summary(store: ExperimentStore) -> dict[str, Any] | None:
    """``{objectives, front_size}`` for the overview; None for a single-objective experiment."""
    objectives = experiment_objectives(store)
    if objectives is None:
        return None
    return {
        "objectives": objectives.directions,
        "front_size": len(pareto_trials(store, objectives)),
    }


def pareto_view(store: ExperimentStore) -> dict[str, Any]:
    """``{objectives, points: [{id, values, front}]}`` of the succeeded trials with all objectives.

    ``objectives`` is None (and ``points`` empty) when the experiment has one objective.
    """
    objectives = experiment_objectives(store)
    if objectives is None:
        return {"objectives": None, "points": []}
    front = {t.id for t in pareto_trials(store, objectives)}
    points = []
    for trial in store.trials("SUCCEEDED"):
        values = objectives.values(trial.final if trial.final is not None else trial.final_value)
        if values is not None:
            points.append(
                {
                    "id": trial.id,
                    "values": values,
                    "front": trial.id in front,
                    "sample": trial.sample,
                }
            )
    return {"objectives": objectives.directions, "points": points}
