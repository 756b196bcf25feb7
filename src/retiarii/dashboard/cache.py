"""The dashboard's copy of the trial rows, so that a poll costs what changed, not the experiment.

Finished trials are never modified (the store enforces it), so once read they are kept; after that
only new trials (ids above the highest known) and unfinished ones are read again, and only when
the store changed at all (SQLite's ``data_version``). Reading a trial row is what costs: with
large final metric dicts a full scan of 10,000 trials takes hundreds of milliseconds, and every
polling browser would pay it. One cache serves every client of a dashboard.

What it deliberately does not do: it keeps no final metric dicts (rows are slim, see
:func:`~retiarii.dashboard.views.slim_row`) and no curves (those are read by rowid ranges).
"""

from __future__ import annotations

import threading
from typing import Any

from ..store import ExperimentStore
from .views import CURSOR_SLACK_S, slim_row

__all__ = ["TrialCache"]

Row = dict[str, Any]


class TrialCache:
    """Slim rows of every trial of one store, brought up to date on each use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._rows: dict[int, Row] = {}
        self._changed: dict[int, float] = {}  # id -> its latest timestamp
        self._open: set[int] = set()  # unfinished trials: they may change
        self._list: list[Row] = []
        self._best: dict[str, int | None] = {}
        self.cursor = 0.0

    def rows(self, store: ExperimentStore) -> list[Row]:
        """Every trial as a slim row (a running one with ``latest``), in id order."""
        with self._lock:
            self._refresh(store)
            return self._list

    def _refresh(self, store: ExperimentStore) -> None:
        version = store.data_version()  # first: a write after it is seen next time
        if version == self._version:
            return
        fresh = store.trial_summaries_of(sorted(self._open), max(self._rows, default=0))
        running = [t.id for t in fresh if t.status == "RUNNING"]
        latest = store.latest_intermediates(running)
        for trial in fresh:
            row = slim_row(trial)
            if trial.status == "RUNNING":
                row["latest"] = latest.get(trial.id)
            self._rows[trial.id] = row
            stamps = (trial.created_at, trial.started_at or 0.0, trial.ended_at or 0.0)
            self._changed[trial.id] = max(stamps)
            if trial.finished:
                self._open.discard(trial.id)
            else:
                self._open.add(trial.id)
        if fresh or len(self._list) != len(self._rows):
            self._list = [self._rows[i] for i in sorted(self._rows)]
            self._best = {}
        self.cursor = max(self._changed.values(), default=0.0)
        self._version = version

    def changes(self, store: ExperimentStore, since: float | None) -> dict[str, Any]:
        """:func:`~retiarii.dashboard.views.trial_changes_view`, from the cache."""
        with self._lock:
            self._refresh(store)
            if since is None:
                rows = self._list
            else:
                low = since - CURSOR_SLACK_S
                rows = [
                    r
                    for r in self._list
                    if r["status"] == "RUNNING" or self._changed[r["id"]] >= low
                ]
            return {
                "cursor": self.cursor,
                "full": since is None,
                "total": len(self._list),
                "trials": rows,
            }

    def best(self, store: ExperimentStore, optimize_mode: str) -> Row | None:
        """The best SUCCEEDED trial's slim row (ties to the lower id), as ``best_trials(1)``."""
        with self._lock:
            self._refresh(store)
            if optimize_mode not in self._best:
                sign = 1.0 if optimize_mode == "maximize" else -1.0
                done = [
                    r
                    for r in self._list
                    if r["status"] == "SUCCEEDED" and r["final_value"] is not None
                ]
                top = max(done, key=lambda r: (sign * r["final_value"], -r["id"]), default=None)
                self._best[optimize_mode] = None if top is None else top["id"]
            best_id = self._best[optimize_mode]
            return None if best_id is None else self._rows[best_id]
