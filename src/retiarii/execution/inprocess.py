"""Run trials one by one in the calling process: the executor for debugging.

Nothing is pickled and nothing runs in another process, so a breakpoint in the runner or the
evaluator stops in the debugger, and ``print`` shows up in the console (unless ``redirect_output``
is set). The trial itself runs through the same :func:`~retiarii.execution.trial.run_trial` as in
a worker, so it produces the same events. What a separate process would add is missing by design:
no ``trial_timeout``, no isolation from crashes, and ``cancel`` only drops queued trials.

Early stopping works synchronously here: with an ``event_listener`` (the experiment loop sets one),
each event is handled while the trial runs, so a pruner's decision on an intermediate result is
seen by the very ``report_intermediate_result`` call that reported it.
"""

from __future__ import annotations

import os
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from retiarii.execution.base import (
    Executor,
    ExecutorError,
    RunnerSetupError,
    TrialRunner,
    check_runner,
)
from retiarii.execution.events import Event, TrialFailed
from retiarii.execution.trial import run_trial

__all__ = ["InProcessExecutor"]


class InProcessExecutor(Executor):
    """Runs each submitted trial synchronously inside :meth:`poll`, one trial per call.

    Args:
        redirect_output: Send the trial's stdout/stderr to ``trial_dir/trial.log`` as a worker
            does. Off by default: when debugging you usually want to see them.

    Example:
        >>> with InProcessExecutor() as executor:  # doctest: +SKIP
        ...     executor.start(runner)
        ...     executor.submit(0, {"width": 32}, "trials/0")
        ...     events = executor.poll()  # runs trial 0 now
    """

    def __init__(self, *, redirect_output: bool = False) -> None:
        self.redirect_output = redirect_output
        self._runner: TrialRunner | None = None
        self._queue: deque[tuple[int, dict[str, Any], str]] = deque()
        self._events: list[Event] = []
        self._closed = False
        self._stops: dict[int, str] = {}
        #: If set, events go to it as they happen instead of being returned by :meth:`poll`.
        self.event_listener: Callable[[Event], None] | None = None

    def start(self, runner: TrialRunner) -> None:
        """Call ``runner.setup()`` here; its exception becomes a :class:`RunnerSetupError`."""
        if self._runner is not None or self._closed:
            raise RuntimeError("start() can be called only once, before shutdown()")
        check_runner(runner)
        try:
            runner.setup()
        except Exception as exc:
            raise RunnerSetupError("runner.setup() raised:\n" + traceback.format_exc()) from exc
        self._runner = runner

    def submit(self, trial_id: int, sample: dict[str, Any], trial_dir: str) -> None:
        """Queue the trial; the next :meth:`poll` runs it."""
        if self._runner is None:
            raise RuntimeError("call start(runner) before submit()")
        if self._closed:
            raise ExecutorError("the executor was shut down")
        if trial_id in self.running():
            raise ValueError(f"trial {trial_id} is already queued")
        self._queue.append((trial_id, sample, os.path.abspath(trial_dir)))

    def poll(self, timeout: float | None = None) -> list[Event]:
        """Run the next queued trial to completion (ignoring ``timeout``) and return its events."""
        if not self._events and self._queue and self._runner is not None:
            trial_id, sample, trial_dir = self._queue.popleft()
            run_trial(
                self._runner,
                trial_id,
                sample,
                trial_dir,
                self._emit,
                worker=f"inprocess:{os.getpid()}",
                redirect=self.redirect_output,
                stop_requested=self._stops.get,
            )
            self._stops.pop(trial_id, None)
        events, self._events = self._events, []
        return events

    def _emit(self, event: Event) -> None:
        if self.event_listener is not None:
            self.event_listener(event)
        else:
            self._events.append(event)

    def request_stop(self, trial_id: int, reason: str) -> None:
        """Make the running trial's next ``report_intermediate_result`` raise ``TrialPruned``."""
        self._stops[trial_id] = reason

    def free_slots(self) -> int:
        """One while nothing is queued: trials run one at a time."""
        return 0 if self._closed or self._queue else 1

    def running(self) -> set[int]:
        """Ids of the queued trials (a trial runs only inside :meth:`poll`)."""
        return {trial_id for trial_id, _, _ in self._queue}

    def cancel(self, trial_id: int) -> None:
        """Drop a queued trial; it ends as canceled."""
        for item in self._queue:
            if item[0] == trial_id:
                self._queue.remove(item)
                self._events.append(
                    TrialFailed(trial_id, time.time(), "canceled before it started", "canceled")
                )
                return

    def shutdown(self) -> None:
        """Cancel the queued trials."""
        if self._closed:
            return
        while self._queue:
            self.cancel(self._queue[0][0])
        self._closed = True
