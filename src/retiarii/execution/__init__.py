"""Execution: run trials in workers and stream their events back (mechanism only).

The experiment loop submits ``(trial_id, sample, trial_dir)`` to an :class:`Executor`, polls
:mod:`~retiarii.execution.events`, and decides everything else itself. Backends:

* :class:`LocalExecutor` — a pool of long-lived worker processes (the default);
* :class:`InProcessExecutor` — trials run in the calling process, for debugging;
* :class:`RayExecutor` — one Ray actor per slot, on a Ray cluster or a local Ray instance (ray is
  imported only when it starts).

Nothing here imports torch; the runner's ``setup()`` does that inside the workers.
"""

from __future__ import annotations

from retiarii.execution.base import Executor, ExecutorError, RunnerSetupError, TrialRunner
from retiarii.execution.events import (
    Event,
    FailureReason,
    FinalMetric,
    IntermediateMetric,
    TrialFailed,
    TrialStarted,
    TrialSucceeded,
    is_terminal,
)
from retiarii.execution.inprocess import InProcessExecutor
from retiarii.execution.local import LocalExecutor
from retiarii.execution.ray_executor import RayExecutor
from retiarii.execution.trial import LOG_NAME, current_trial_dir, run_trial

__all__ = [
    "LOG_NAME",
    "Event",
    "Executor",
    "ExecutorError",
    "FailureReason",
    "FinalMetric",
    "InProcessExecutor",
    "IntermediateMetric",
    "LocalExecutor",
    "RayExecutor",
    "RunnerSetupError",
    "TrialFailed",
    "TrialRunner",
    "TrialStarted",
    "TrialSucceeded",
    "current_trial_dir",
    "is_terminal",
    "run_trial",
]
