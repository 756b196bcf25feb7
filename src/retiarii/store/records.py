"""What the store hands back to readers: statuses and frozen record dataclasses.

Records are plain, immutable values with their JSON fields already parsed, so a reader (the
dashboard, the CLI, a strategy resuming) never sees SQL rows or JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from retiarii.reporting import Metric

from .errors import DamagedRecordError
from .nni_data import TrialHyperParameters, TrialMetricData, to_millis

__all__ = [
    "EXPERIMENT_STATUSES",
    "FINISHED_STATUSES",
    "OPTIMIZE_MODES",
    "TRIAL_STATUSES",
    "UNFINISHED_STATUSES",
    "ExperimentRecord",
    "IntermediateRecord",
    "SeriesPoint",
    "TrialRecord",
    "check_choice",
    "is_oneshot",
]

#: Every status an experiment can have, in lifecycle order.
EXPERIMENT_STATUSES: tuple[str, ...] = (
    "created",
    "running",
    "done",
    "stopped",
    "failed",
    "interrupted",
)

#: Every status a trial can have. A trial starts ``WAITING``, becomes ``RUNNING`` when a worker
#: takes it, and ends in one of :data:`FINISHED_STATUSES`. ``EARLY_STOPPED`` (NNI's name): the
#: experiment's pruner stopped it; its final metric is its last intermediate result.
TRIAL_STATUSES: tuple[str, ...] = (
    "WAITING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMEOUT",
    "CANCELED",
    "INTERRUPTED",
    "EARLY_STOPPED",
)
UNFINISHED_STATUSES: frozenset[str] = frozenset({"WAITING", "RUNNING"})
#: A trial in one of these statuses is never modified again.
FINISHED_STATUSES: frozenset[str] = frozenset(TRIAL_STATUSES) - UNFINISHED_STATUSES

OPTIMIZE_MODES: tuple[str, ...] = ("maximize", "minimize")


def check_choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise raise a ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"invalid {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def _loads(text: str | None, where: str = "a store record") -> Any:
    """``json.loads``, or :class:`DamagedRecordError` naming ``where`` the text came from."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise DamagedRecordError(f"{where} is damaged (not JSON: {exc}): {text[:80]!r}") from None


@dataclass(frozen=True)
class ExperimentRecord:
    """The experiment's single row: identity, status and what it searches.

    Attributes:
        id: Short random id (or the one given to ``init_experiment``).
        name: Human-readable name.
        status: One of :data:`EXPERIMENT_STATUSES`.
        created_at: Unix time of ``init_experiment``.
        updated_at: Unix time of the last write to this row.
        config: The experiment configuration, as JSON.
        search_space: The search space in NNI's ``ss-gen`` JSON format.
        optimize_mode: ``'maximize'`` or ``'minimize'``.
        info: Free-form JSON the experiment layer keeps alongside (e.g. the code version).
    """

    id: str
    name: str
    status: str
    created_at: float
    updated_at: float
    config: dict[str, Any]
    search_space: dict[str, Any]
    optimize_mode: str
    info: dict[str, Any]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ExperimentRecord:
        """Build a record from a row of the ``experiment`` table."""
        return cls(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            config=_loads(row["config"], "the experiment's config"),
            search_space=_loads(row["search_space"], "the experiment's search space"),
            optimize_mode=row["optimize_mode"],
            info=_loads(row["info"], "the experiment's info"),
        )


@dataclass(frozen=True)
class TrialRecord:
    """One trial: the sample it evaluates, where it is in its life, and how it ended.

    Attributes:
        id: 1, 2, 3, ... in creation order; assigned by the store.
        sample: The ``{label: value}`` dict the trial evaluates.
        status: One of :data:`TRIAL_STATUSES`.
        created_at: Unix time the trial was created (``WAITING``).
        started_at: Unix time a worker took it (``RUNNING``), if it did.
        ended_at: Unix time it finished, if it did.
        final: The final metric as reported (a float or a dict with a numeric ``'default'``).
        final_value: The number strategies optimise: ``final`` or ``final['default']``.
        error: Why it failed, e.g. a traceback.
        log_path: The trial's log, relative to the experiment directory.
        worker: Which worker ran it (e.g. a pid), as text.
        resumed_from: Id of the interrupted trial this one re-runs, if any.
    """

    id: int
    sample: dict[str, Any]
    status: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    final: Metric | None = None
    final_value: float | None = None
    error: str | None = None
    log_path: str | None = None
    worker: str | None = None
    resumed_from: int | None = None

    @property
    def finished(self) -> bool:
        """Whether the trial has ended (and so will never change again)."""
        return self.status in FINISHED_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while the trial has not both started and ended."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    # -- NNI's names for the same fields (``nni.experiment.TrialJob``) ---------------------------
    @property
    def trialJobId(self) -> str:
        """NNI's name for :attr:`id`, as a string."""
        return str(self.id)

    @property
    def hyperParameters(self) -> list[TrialHyperParameters]:
        """NNI's shape of :attr:`sample`: ``[TrialHyperParameters(parameters=sample, ...)]``."""
        return [TrialHyperParameters(str(self.id), "algorithm", dict(self.sample), 0)]

    @property
    def startTime(self) -> int | None:
        """:attr:`started_at` in NNI's unit, milliseconds since the epoch."""
        return to_millis(self.started_at)

    @property
    def endTime(self) -> int | None:
        """:attr:`ended_at` in NNI's unit, milliseconds since the epoch."""
        return to_millis(self.ended_at)

    @property
    def finalMetricData(self) -> list[TrialMetricData]:
        """NNI's shape of :attr:`final`: one ``'FINAL'`` record, or none before it is reported."""
        if self.final is None:
            return []
        return [
            TrialMetricData(
                to_millis(self.ended_at), str(self.id), str(self.id), "FINAL", 0, self.final
            )
        ]

    @property
    def logPath(self) -> str | None:
        """NNI's name for :attr:`log_path`."""
        return self.log_path

    @property
    def stderrPath(self) -> str | None:
        """NNI's name for the trial's error output: its log, which holds stdout and stderr."""
        return self.log_path

    @property
    def sequenceId(self) -> int:
        """NNI's 0-based trial sequence number: ``id - 1``."""
        return self.id - 1

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TrialRecord:
        """Build a record from a row of the ``trials`` table."""
        return cls(
            id=row["id"],
            sample=_loads(row["sample"], f"the sample of trial {row['id']}"),
            status=row["status"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            final=_loads(row["final"], f"the final metric of trial {row['id']}"),
            final_value=row["final_value"],
            error=row["error"],
            log_path=row["log_path"],
            worker=row["worker"],
            resumed_from=row["resumed_from"],
        )


@dataclass(frozen=True)
class IntermediateRecord:
    """One intermediate (periodical) metric of a trial.

    Attributes:
        trial_id: The trial that reported it.
        sequence: 0, 1, 2, ... per trial, in report order; assigned by the store.
        value: The metric as reported.
        value_num: Its number to optimise (the metric or its ``'default'``).
        timestamp: Unix time it was recorded.
    """

    trial_id: int
    sequence: int
    value: Metric
    value_num: float
    timestamp: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> IntermediateRecord:
        """Build a record from a row of the ``intermediate`` table."""
        return cls(
            trial_id=row["trial_id"],
            sequence=row["sequence"],
            value=_loads(
                row["value"], f"intermediate {row['sequence']} of trial {row['trial_id']}"
            ),
            value_num=row["value_num"],
            timestamp=row["timestamp"],
        )


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a named progress series (e.g. one-shot training loss per step).

    Attributes:
        name: The series, e.g. ``'train/loss'`` or ``'arch/probs'``.
        step: Position in the series; given by the writer or assigned as the next one.
        epoch: Training epoch, if the writer gave one.
        value: Any JSON value (a number, or e.g. a dict of probabilities).
        value_num: ``value`` as a float when it is a plain number, else ``None``.
        timestamp: Unix time it was recorded.
    """

    name: str
    step: int
    epoch: int | None
    value: Any
    value_num: float | None
    timestamp: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SeriesPoint:
        """Build a record from a row of the ``series`` table."""
        return cls(
            name=row["name"],
            step=row["step"],
            epoch=row["epoch"],
            value=_loads(row["value"], f"a point of the series {row['name']!r}"),
            value_num=row["value_num"],
            timestamp=row["timestamp"],
        )


def is_oneshot(info: dict[str, Any], series_names: list[str]) -> bool:
    """Whether an experiment is a one-shot search (a single supernet, no trial budget): its info
    says so (``info["oneshot"]``, recorded by ``RetiariiExperiment``), or, for a store written by
    hand or before that key, it has architecture series (``arch_prob/<label>``, ``arch/selected``).
    """
    if "oneshot" in info:
        return bool(info["oneshot"])
    return any(n == "arch/selected" or n.startswith("arch_prob/") for n in series_names)
