"""What an executor reports about its trials: small frozen records, oldest first.

Events are the whole of the execution layer's output. The experiment loop writes them into the
store and tells the strategy; it never looks inside a worker. Every submitted trial gets exactly one
*terminal* event (:class:`TrialSucceeded` or :class:`TrialFailed`), and before it, in this order,
at most one :class:`TrialStarted`, any number of :class:`IntermediateMetric` and at most one
:class:`FinalMetric`. A trial canceled while still queued gets only its :class:`TrialFailed`.

Times are wall-clock seconds since the epoch (``time.time()``), taken where the thing happened (in
the worker for metrics, in the driver for crashes and timeouts), because the store records them as
timestamps a person reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from retiarii.reporting import Metric

__all__ = [
    "Event",
    "FailureReason",
    "FinalMetric",
    "IntermediateMetric",
    "TrialFailed",
    "TrialStarted",
    "TrialSucceeded",
    "is_terminal",
]

#: Why a trial failed: its code raised (``error``), its worker process died (``crashed``), it ran
#: past the executor's ``trial_timeout`` (``timeout``), or someone called ``cancel`` (``canceled``).
FailureReason = Literal["error", "crashed", "timeout", "canceled"]


@dataclass(frozen=True)
class TrialStarted:
    """A worker took the trial and is about to call the runner.

    Attributes:
        trial_id: The id given to ``submit``.
        time: When the worker started it.
        worker: A human-readable name of where it runs (e.g. ``"local-0:12345"``: slot 0, pid 12345).
    """

    trial_id: int
    time: float
    worker: str


@dataclass(frozen=True)
class IntermediateMetric:
    """The trial called ``report_intermediate_result``; ``metric`` is already normalized."""

    trial_id: int
    metric: Metric
    time: float


@dataclass(frozen=True)
class FinalMetric:
    """The trial called ``report_final_result`` (or returned a metric from ``run``)."""

    trial_id: int
    metric: Metric
    time: float


@dataclass(frozen=True)
class TrialSucceeded:
    """The runner returned normally. Terminal."""

    trial_id: int
    time: float


@dataclass(frozen=True)
class TrialFailed:
    """The trial ended without succeeding. Terminal.

    Attributes:
        trial_id: The id given to ``submit``.
        time: When the failure was noticed.
        error: What a person needs to see: the traceback for ``error``, the exit code or signal and
            the end of ``trial.log`` for ``crashed``, a one-line explanation otherwise.
        reason: See :data:`FailureReason`.
    """

    trial_id: int
    time: float
    error: str
    reason: FailureReason


Event = TrialStarted | IntermediateMetric | FinalMetric | TrialSucceeded | TrialFailed


def is_terminal(event: Event) -> bool:
    """Whether ``event`` is the last one its trial will get."""
    return isinstance(event, (TrialSucceeded, TrialFailed))
