"""The dashboard's JSON views over the store (pure functions: store in, JSON-ready dicts out)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..store import ExperimentStore, TrialRecord

__all__ = ["experiment_view", "log_tail", "trial_view", "trials_view"]


def _trial_row(trial: TrialRecord) -> dict[str, Any]:
    row = dataclasses.asdict(trial)
    row["duration"] = trial.duration
    return row


def experiment_view(store: ExperimentStore) -> dict[str, Any]:
    """Overview: the experiment record, trial counts and the best trial."""
    record = dataclasses.asdict(store.experiment())
    best = store.best_trials(1)
    record["counts"] = store.counts()
    record["best"] = _trial_row(best[0]) if best else None
    return record


def trials_view(store: ExperimentStore) -> list[dict[str, Any]]:
    """Every trial as a row."""
    return [_trial_row(t) for t in store.trials()]


def log_tail(experiment_dir: Path, trial: TrialRecord, max_bytes: int = 20_000) -> str:
    """The end of the trial's log, read only if it lies inside the experiment directory."""
    if not trial.log_path:
        return ""
    root = experiment_dir.resolve()
    path = (root / trial.log_path).resolve()
    if root not in path.parents or not path.is_file():
        return ""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - max_bytes))
        return fh.read().decode("utf-8", errors="replace")


def trial_view(store: ExperimentStore, experiment_dir: Path, trial_id: int) -> dict[str, Any]:
    """One trial with its intermediate metrics and log tail."""
    trial = store.trial(trial_id)
    row = _trial_row(trial)
    row["intermediates"] = [dataclasses.asdict(r) for r in store.intermediates(trial_id)]
    row["log_tail"] = log_tail(experiment_dir, trial)
    return row
