"""The experiment store: the single source of truth of an experiment, one SQLite file.

The experiment driver writes it (:class:`ExperimentStore`); the dashboard, the CLI and any other
process read it with ``ExperimentStore(path, readonly=True)``. Readers get frozen records with
their JSON already parsed (:class:`TrialRecord` and friends), never rows.

What it deliberately does not do: it holds no model weights, checkpoints or pickles (only JSON);
it does not schedule, retry or deduplicate trials (the experiment loop decides, the store records);
and it never changes a finished trial, so anything read about one stays true.
"""

from __future__ import annotations

from .errors import (
    DamagedRecordError,
    DiskFullError,
    ReadOnlyStoreError,
    SchemaVersionError,
    StoreError,
    StoreLockedError,
    TrialFinishedError,
    TrialStateError,
    UnknownTrialError,
)
from .records import (
    EXPERIMENT_STATUSES,
    FINISHED_STATUSES,
    OPTIMIZE_MODES,
    TRIAL_STATUSES,
    UNFINISHED_STATUSES,
    ExperimentRecord,
    IntermediateRecord,
    SeriesPoint,
    TrialRecord,
)
from .schema import SCHEMA_VERSION
from .store import DEFAULT_FILENAME, ExperimentStore

__all__ = [
    "DEFAULT_FILENAME",
    "EXPERIMENT_STATUSES",
    "FINISHED_STATUSES",
    "OPTIMIZE_MODES",
    "SCHEMA_VERSION",
    "TRIAL_STATUSES",
    "UNFINISHED_STATUSES",
    "DamagedRecordError",
    "DiskFullError",
    "ExperimentRecord",
    "ExperimentStore",
    "IntermediateRecord",
    "ReadOnlyStoreError",
    "SchemaVersionError",
    "SeriesPoint",
    "StoreError",
    "StoreLockedError",
    "TrialFinishedError",
    "TrialRecord",
    "TrialStateError",
    "UnknownTrialError",
]
