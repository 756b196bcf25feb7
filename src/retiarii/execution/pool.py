"""What the local process pool and the Ray executor share: a queue, and slots that run trials.

Both executors keep ``concurrency`` *slots*. A slot holds at most one worker at a time (a local
process, or a Ray actor), which sets the runner up once and then runs one trial after another; a
worker that dies is replaced in its slot. Submitted trials wait in one queue until a slot is idle.
This module holds that bookkeeping, the event buffer, ``poll``'s waiting rules, cancellation and
timeouts, so that the two backends differ only in how they start, feed, watch and kill a worker.
"""

from __future__ import annotations

import abc
import atexit
import os
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from retiarii.execution.base import Executor, ExecutorError
from retiarii.execution.events import Event, FailureReason, TrialFailed

__all__ = ["PoolSlot", "PoolTrial", "SlotPool", "SlotState"]

SlotState = Literal["down", "starting", "idle", "busy", "recycling", "retired"]


@dataclass
class PoolTrial:
    """A submitted trial, queued or running in a slot."""

    trial_id: int
    sample: dict[str, Any]
    trial_dir: str
    deadline: float | None = None  # time.monotonic() after which it times out


@dataclass
class PoolSlot:
    """One place in the pool: at most one worker at a time, replaced when it dies."""

    index: int
    state: SlotState = "down"
    trial: PoolTrial | None = None
    setup_error: str | None = None
    setup_failures: int = 0

    def has_worker(self) -> bool:
        """Whether a worker is there to be sent a trial."""
        raise NotImplementedError


_S = TypeVar("_S", bound=PoolSlot)


class SlotPool(Executor, Generic[_S]):
    """The part of an :class:`Executor` that does not depend on what a worker is.

    Subclasses implement how a worker starts (:meth:`start`), how a trial is sent to an idle
    slot's worker (:meth:`_send`), how activity is awaited (:meth:`_step`), how a slot's finished
    events are read (:meth:`_read`) and how a running trial is stopped (:meth:`_kill_trial`).
    """

    #: How messages name a worker: "the worker", "the Ray actor".
    worker_word = "worker"

    def __init__(self, slots: Sequence[_S], trial_timeout: float | None) -> None:
        if trial_timeout is not None and trial_timeout <= 0:
            raise ValueError(f"trial_timeout must be positive or None, got {trial_timeout}")
        self.trial_timeout = trial_timeout
        self._slots: list[_S] = list(slots)
        self._queue: deque[PoolTrial] = deque()
        self._events: list[Event] = []
        self._closed = False

    # ----------------------------------------------------------------- what a backend provides

    @abc.abstractmethod
    def _started(self) -> bool:
        """Whether :meth:`start` has shipped the runner (so trials may be submitted)."""

    @abc.abstractmethod
    def _step(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` for worker activity; handle it, timeouts and the queue."""

    @abc.abstractmethod
    def _read(self, slot: _S) -> Any:
        """Move every event the slot's worker already sent into ``self._events``."""

    @abc.abstractmethod
    def _kill_trial(self, slot: _S, reason: FailureReason, message: str) -> None:
        """Stop the slot's running trial (killing its worker), fail it, replace the worker."""

    @abc.abstractmethod
    def _send(self, slot: _S, trial: PoolTrial) -> bool:
        """Send ``trial`` to the idle ``slot``'s worker; False when it was not sent (the backend
        then failed it, or queued it again)."""

    def _send_stop(self, slot: _S, trial_id: int, reason: str) -> None:
        """Tell the slot's worker that its running trial should stop (see ``request_stop``)."""

    def _new_trial(self, trial_id: int, sample: dict[str, Any], trial_dir: str) -> PoolTrial:
        return PoolTrial(trial_id, sample, trial_dir)

    # ----------------------------------------------------------------------------- public API

    def submit(self, trial_id: int, sample: dict[str, Any], trial_dir: str) -> None:
        """Queue a trial; it is sent to the first idle worker (at once if there is one)."""
        if not self._started():
            raise RuntimeError("call start(runner) before submit()")
        if self._closed:
            raise ExecutorError("the executor was shut down")
        if all(slot.state == "retired" for slot in self._slots):
            raise ExecutorError(
                f"no {self.worker_word} can run trials: {self._slots[0].setup_error}"
            )
        if trial_id in self.running():
            raise ValueError(f"trial {trial_id} is already queued or running")
        self._queue.append(self._new_trial(trial_id, sample, os.path.abspath(trial_dir)))
        self._dispatch()

    def poll(self, timeout: float | None = None) -> list[Event]:
        """Return new events, waiting up to ``timeout`` seconds for the first one."""
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        wait_for: float | None = 0.0  # first look at what is already there
        while True:
            if not self._closed and self._started():
                self._step(wait_for)
            if self._events or self._closed or not self._in_flight():
                break
            now = time.monotonic()
            wait_for = None if end is None else end - now
            if wait_for is not None and wait_for <= 0:
                break
            deadlines = [s.trial.deadline for s in self._slots if s.trial and s.trial.deadline]
            if deadlines:
                until_deadline = max(0.0, min(deadlines) - now)
                wait_for = until_deadline if wait_for is None else min(wait_for, until_deadline)
        events, self._events = self._events, []
        return events

    def free_slots(self) -> int:
        """Workers not running a trial (a worker being replaced counts), minus queued trials."""
        if self._closed:
            return 0
        free = sum(slot.state in ("starting", "idle", "down", "recycling") for slot in self._slots)
        return max(0, free - len(self._queue))

    def running(self) -> set[int]:
        """Ids of the trials queued or running."""
        ids = {trial.trial_id for trial in self._queue}
        ids.update(slot.trial.trial_id for slot in self._slots if slot.trial is not None)
        return ids

    def cancel(self, trial_id: int) -> None:
        """Drop the trial from the queue, or kill the worker running it (and replace it)."""
        for trial in self._queue:
            if trial.trial_id == trial_id:
                self._queue.remove(trial)
                self._fail(trial, "canceled", "canceled before it started")
                return
        for slot in self._slots:
            if slot.trial is not None and slot.trial.trial_id == trial_id:
                self._read(slot)  # it may have just finished
                if slot.trial is not None and slot.trial.trial_id == trial_id:
                    message = f"canceled while running; {self.worker_word} killed"
                    self._kill_trial(slot, "canceled", message)
                return

    def request_stop(self, trial_id: int, reason: str) -> None:
        """Pass the stop request to the worker running the trial (nothing for a queued one)."""
        for slot in self._slots:
            if slot.trial is not None and slot.trial.trial_id == trial_id:
                self._send_stop(slot, trial_id, reason)
                return

    # ------------------------------------------------------------------------------- helpers

    def _track(self) -> None:
        """Have :meth:`shutdown` called at interpreter exit if nobody calls it before."""
        _live_pools.add(self)

    def _start_closing(self) -> bool:
        """Mark the pool closed and cancel the queued trials; ``False`` if it already was."""
        if self._closed:
            return False
        self._closed = True
        _live_pools.discard(self)
        while self._queue:
            self._fail(self._queue.popleft(), "canceled", "the executor shut down first")
        return True

    def _expire_deadlines(self) -> None:
        """Kill the trials that ran past ``trial_timeout`` (unless they just finished)."""
        now = time.monotonic()
        for slot in self._slots:
            trial = slot.trial
            if trial is not None and trial.deadline is not None and trial.deadline <= now:
                self._read(slot)
                if slot.trial is trial:
                    message = (
                        f"ran longer than trial_timeout={self.trial_timeout:g} s; "
                        f"{self.worker_word} killed"
                    )
                    self._kill_trial(slot, "timeout", message)

    def _dispatch(self) -> None:
        """Send queued trials, first come first served, to the idle slots in order."""
        for slot in self._slots:
            if not self._queue:
                return
            if slot.state != "idle" or not slot.has_worker():
                continue
            trial = self._queue.popleft()
            if self._send(slot, trial):
                self._assign(slot, trial)

    def _assign(self, slot: _S, trial: PoolTrial) -> None:
        """Record that ``slot`` now runs ``trial`` (which was just sent to its worker)."""
        if self.trial_timeout is not None:
            trial.deadline = time.monotonic() + self.trial_timeout
        slot.trial, slot.state = trial, "busy"

    def _in_flight(self) -> bool:
        return bool(self._queue) or any(slot.trial is not None for slot in self._slots)

    def _fail(self, trial: PoolTrial, reason: FailureReason, error: str) -> None:
        self._events.append(TrialFailed(trial.trial_id, time.time(), error, reason))

    def _fail_queue_if_no_workers(self) -> None:
        if all(slot.state == "retired" for slot in self._slots):
            reason = self._slots[0].setup_error
            while self._queue:
                self._fail(
                    self._queue.popleft(),
                    "error",
                    f"no {self.worker_word} could be started: {reason}",
                )


_live_pools: weakref.WeakSet[SlotPool[Any]] = weakref.WeakSet()


@atexit.register
def _shutdown_live_pools() -> None:
    """Stop the workers of pools nobody shut down, so the driver exits without orphans."""
    for pool in list(_live_pools):
        pool.shutdown()
