"""Experiment callbacks: policies the loop applies to trials, as classes of no-op hooks.

The experiment loop (:mod:`retiarii.experiment.engine`) calls every hook in one place,
:meth:`~retiarii.experiment.engine.ExperimentLoop.dispatch`, in the order the callbacks were given.
A callback acts through the loop it is handed (e.g. ``loop.early_stop(trial_id, reason)``) and reads
the store (``loop.store``); it never talks to workers itself, so it works the same with every
executor. Pruners (:mod:`retiarii.experiment.pruners`) and the console progress line are callbacks.

What this deliberately does not do: callbacks cannot change a trial's metrics or status after the
fact, and there is no hook per batch or per epoch inside a trial — only what the loop sees.

Example:
    >>> class CountFailures(ExperimentCallback):
    ...     def __init__(self) -> None:
    ...         self.failed = 0
    ...     def on_trial_ended(self, loop, trial):
    ...         self.failed += trial.status == "FAILED"
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..store import TrialRecord
from .progress import Progress

if TYPE_CHECKING:
    from .engine import ExperimentLoop

__all__ = ["ExperimentCallback", "ProgressLog"]

_logger = logging.getLogger("retiarii.experiment")


class ExperimentCallback:
    """Base class of experiment callbacks: every hook does nothing; override the ones you need."""

    def on_experiment_start(self, loop: ExperimentLoop) -> None:
        """Before the first trial of this run; after a resume the store already holds the past."""

    def on_trial_started(self, loop: ExperimentLoop, trial_id: int) -> None:
        """A worker took the trial."""

    def on_intermediate_result(
        self, loop: ExperimentLoop, trial_id: int, step: int, value: float
    ) -> None:
        """The trial reported its ``step``-th intermediate result (1, 2, ...); ``value`` is the
        number the strategy optimises. It is already in the store."""

    def on_trial_ended(self, loop: ExperimentLoop, trial: TrialRecord) -> None:
        """The trial finished (its record is final), after the strategy was told."""

    def on_experiment_end(self, loop: ExperimentLoop, reason: str) -> None:
        """The loop ended, for ``reason`` (see :class:`~retiarii.experiment.engine.StopReason`)."""


class ProgressLog(ExperimentCallback):
    """One log line per finished trial (and why a failed one failed), through ``progress``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def on_trial_ended(self, loop: ExperimentLoop, trial: TrialRecord) -> None:
        self.progress.trial_finished(
            trial.id, trial.status, trial.final_value, trial.duration, trial.sample
        )
        if trial.error and trial.status != "SUCCEEDED":
            error = trial.error.strip()
            _logger.info("trial %d: %s", trial.id, error.splitlines()[-1] if error else "")
