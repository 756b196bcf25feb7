"""The errors the store raises.

Each one names the thing the caller passed (the trial id, the status, the file) so that a message
read in a log says what went wrong without the code at hand.
"""

from __future__ import annotations

__all__ = [
    "ReadOnlyStoreError",
    "SchemaVersionError",
    "StoreError",
    "StoreLockedError",
    "TrialFinishedError",
    "TrialStateError",
    "UnknownTrialError",
]


class StoreError(Exception):
    """Base class of every error raised by :mod:`retiarii.store`."""


class ReadOnlyStoreError(StoreError, PermissionError):
    """A write was attempted through a store opened with ``readonly=True``."""


class SchemaVersionError(StoreError):
    """The database was written by a newer (unknown) version of the store's schema."""


class DiskFullError(StoreError, OSError):
    """The disk holding the experiment is full: nothing more can be recorded until space is
    freed (then ``retiarii resume`` continues where it stopped)."""


class StoreLockedError(StoreError):
    """Another process already holds the store open for writing."""


class TrialFinishedError(StoreError):
    """A write touched a finished trial; finished trials are never modified."""

    def __init__(self, trial_id: int, status: str) -> None:
        self.trial_id = trial_id
        self.status = status
        super().__init__(
            f"trial {trial_id} is already finished ({status}); finished trials are never modified"
        )


class DamagedRecordError(StoreError):
    """A row of the store cannot be decoded (edited by hand, disk corruption): the store names
    the table, the row and the column instead of failing with a bare JSON error."""


class TrialStateError(StoreError, ValueError):
    """A write that does not fit the trial's current (unfinished) state."""


class UnknownTrialError(StoreError, KeyError):
    """No trial has the given id."""

    def __init__(self, trial_id: int) -> None:
        self.trial_id = trial_id
        super().__init__(f"no trial with id {trial_id!r} in this experiment")

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message and wrap it in quotes.
        return str(self.args[0])
