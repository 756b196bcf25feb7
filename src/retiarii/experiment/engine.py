"""The experiment loop — the only loop: ask the strategy, submit, record events, tell the strategy.

Budget rules (also what ``resume`` relies on):

* ``max_trial_number`` counts trials that ran to an end (SUCCEEDED, FAILED, TIMEOUT, CANCELED,
  EARLY_STOPPED) plus those running. INTERRUPTED trials (the driver stopped or died while they ran) do not
  count: on resume their samples run again as new trials (``resumed_from`` points back).
* ``max_experiment_duration`` is wall time since this run started plus the time earlier runs
  used; when it is reached, running trials are CANCELED and the experiment ends.
* A stop request (``exp.stop()``, Ctrl-C) interrupts running trials and ends with status
  ``stopped``; the experiment can be resumed.
* With ``max_retries``, a trial whose worker died (``crashed``: a killed process, a lost Ray node)
  stays FAILED in the store and its sample runs again as a new trial (``resumed_from`` points
  back), up to ``max_retries`` times per sample. A retried trial does not count against
  ``max_trial_number`` and the strategy hears only of the last attempt.

Callbacks (:mod:`retiarii.experiment.callbacks`) see the trials through one method,
:meth:`ExperimentLoop.dispatch`. Early stopping: a callback (a pruner) calls
:meth:`ExperimentLoop.early_stop`; the trial is asked to stop by itself, canceled if it has not
ended within the given timeout, and ends ``EARLY_STOPPED`` however it ended (finished, raised,
canceled), with its last intermediate result as its final metric: that is what the strategy is
told, and what the store keeps (``best_trials``/``export_top_models`` rank only SUCCEEDED trials,
whose metrics are not cut short). Retries stay inline: they decide what happens to a failure
before it is recorded, which is not a notification a hook gets.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..execution import (
    Executor,
    FinalMetric,
    IntermediateMetric,
    TrialFailed,
    TrialStarted,
    TrialSucceeded,
)
from ..execution.trial import LOG_NAME
from ..reporting import metric_value
from ..store import ExperimentStore, TrialRecord
from ..strategy import BaseStrategy, TrialResult
from .callbacks import ExperimentCallback, ProgressLog
from .progress import Progress

__all__ = ["ExperimentLoop", "StopReason"]

_logger = logging.getLogger("retiarii.experiment")

_FAILURE_STATUS = {
    "error": "FAILED",
    "crashed": "FAILED",
    "timeout": "TIMEOUT",
    "canceled": "CANCELED",
}
_ENDED = ("SUCCEEDED", "FAILED", "TIMEOUT", "CANCELED", "EARLY_STOPPED")
_COUNTED = (*_ENDED, "RUNNING", "WAITING")


class StopReason:
    """Why the loop ended (a sentence for the log and the store)."""

    BUDGET = "max_trial_number reached"
    DURATION = "max_experiment_duration reached"
    STOPPED = "stopped by request"


class ExperimentLoop:
    """Runs one experiment to its end; the caller owns the store, executor and strategy."""

    def __init__(
        self,
        store: ExperimentStore,
        executor: Executor,
        strategy: BaseStrategy,
        experiment_dir: Path,
        *,
        max_trials: int | None,
        max_duration: float | None,
        previous_duration: float = 0.0,
        stop_event: threading.Event | None = None,
        progress: Progress | None = None,
        max_retries: int = 0,
        callbacks: Sequence[ExperimentCallback] = (),
    ) -> None:
        self.store = store
        self.executor = executor
        self.strategy = strategy
        self.experiment_dir = experiment_dir
        self.max_trials = max_trials
        self.max_duration = max_duration
        self.previous_duration = previous_duration
        self.stop_event = stop_event or threading.Event()
        self.progress = progress
        self.max_retries = max_retries
        self.running: dict[int, dict[str, Any]] = {}
        self.pending: deque[tuple[dict[str, Any], int]] = deque()
        self.reason = ""
        self._bad_metric: dict[int, str] = {}
        self._retried = 0  # FAILED trials superseded by a retry: they do not use the budget
        self._retry_of: dict[int, int] = {}  # trial id -> how many crashed attempts came before
        self._start = time.time()
        self.callbacks: list[ExperimentCallback] = list(callbacks)
        if progress is not None:
            self.callbacks.append(ProgressLog(progress))
        # early-stopped trials still running: id -> (reason, time.monotonic() to cancel it)
        self._stopping: dict[int, tuple[str, float]] = {}
        self._last_intermediate: dict[int, Any] = {}

    # -- resume ------------------------------------------------------------------------------
    def replay_history(self, tell: bool = True) -> None:
        """Queue interrupted trials to run again and, if ``tell``, tell the strategy the past.

        ``tell=False`` is for a strategy that already saw it (the same experiment object run
        again after ``stop()``).
        """
        trials = self.store.trials()
        rerun_of = {t.resumed_from for t in trials if t.resumed_from is not None}
        self._retried = sum(t.status == "FAILED" and t.id in rerun_of for t in trials)
        for trial in trials:
            if trial.status == "INTERRUPTED" and trial.id not in rerun_of:
                self.pending.append((trial.sample, trial.id))
            if not tell:
                continue
            self.strategy.mark_seen(trial.sample)
            superseded = trial.status == "INTERRUPTED" or trial.id in rerun_of
            if trial.finished and not superseded:
                self.strategy.tell(_result(trial))
        state = self.store.strategy_state()
        if tell and state:
            self.strategy.load_state_dict(state)

    # -- the loop --------------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds this experiment has run, over all its runs."""
        return self.previous_duration + time.time() - self._start

    def _used(self) -> int:
        counts = self.store.counts()
        return sum(counts.get(status, 0) for status in _COUNTED) - self._retried

    def _time_up(self) -> bool:
        return self.max_duration is not None and self.elapsed() >= self.max_duration

    def dispatch(self, hook: str, *args: Any) -> None:
        """Call ``hook`` (e.g. ``'on_trial_ended'``) of every callback, in order: the one place
        where the loop tells its callbacks anything."""
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def early_stop(self, trial_id: int, reason: str, timeout: float = 60.0) -> None:
        """Stop a running trial early: ask it to stop now, cancel it after ``timeout`` seconds.

        It ends ``EARLY_STOPPED`` with ``reason`` as its error text. Does nothing for a trial that
        is not running or is already stopping.
        """
        if trial_id not in self.running or trial_id in self._stopping:
            return
        self._stopping[trial_id] = (reason, time.monotonic() + timeout)
        _logger.info("trial %d: early-stopping (%s)", trial_id, reason)
        self.executor.request_stop(trial_id, reason)

    def _cancel_ignored_stops(self) -> None:
        """Cancel the early-stopped trials that kept running past their timeout."""
        now = time.monotonic()
        for trial_id, (reason, deadline) in list(self._stopping.items()):
            if deadline <= now and trial_id in self.running:
                _logger.info("trial %d did not stop by itself; canceling it", trial_id)
                self._stopping[trial_id] = (
                    reason + "; it did not stop by itself in time",
                    math.inf,
                )
                self.executor.cancel(trial_id)

    def run(self) -> str:
        """Run until the budget is spent, the space is exhausted, time is up or stop is asked."""
        self.dispatch("on_experiment_start")
        if hasattr(self.executor, "event_listener"):
            # in-process trials: handle events as they happen, so a pruner's decision reaches
            # the very report_intermediate_result call it was made on
            self.executor.event_listener = self._handle
        try:
            while True:
                if self.stop_event.is_set():
                    self.reason = StopReason.STOPPED
                    break
                if self._time_up():
                    self.reason = StopReason.DURATION
                    break
                no_more = self._fill_slots()
                if not self.running:
                    if no_more:
                        break
                    if self.max_trials is not None and self._used() >= self.max_trials:
                        self.reason = StopReason.BUDGET
                        break
                    _logger.warning(
                        "the strategy proposes nothing while no trial is running; ending"
                    )
                    self.reason = "strategy proposed nothing"
                    break
                for event in self.executor.poll(timeout=0.2):
                    self._handle(event)
                self._cancel_ignored_stops()
                self._draw()
        except KeyboardInterrupt:
            _logger.info("interrupted (Ctrl-C): stopping")
            self.reason = StopReason.STOPPED
        finally:
            if hasattr(self.executor, "event_listener"):
                self.executor.event_listener = None
            self._wind_down()
        self.dispatch("on_experiment_end", self.reason)
        return self.reason

    def _fill_slots(self) -> bool:
        """Submit while there is room; True when nothing more will ever be submitted."""
        while self.executor.free_slots() > 0:
            if self.max_trials is not None and self._used() >= self.max_trials:
                self.reason = StopReason.BUDGET
                return True
            if self.pending:
                sample, resumed_from = self.pending.popleft()
                self._submit(sample, resumed_from)
                continue
            sample_or_none = self.strategy.ask()
            if sample_or_none is None:
                if self.strategy.exhausted:
                    self.reason = f"search space exhausted: {self.strategy.exhausted_reason}"
                    return True
                return False
            self._submit(sample_or_none, None)
        return False

    def _submit(self, sample: dict[str, Any], resumed_from: int | None) -> None:
        # The trial and the strategy's position after proposing it are saved in one transaction:
        # a driver killed in between would otherwise resume the strategy from before the
        # proposal, and it would propose the sample again (GridSearch would run it twice).
        trial_id = self.store.create_trial(
            sample, resumed_from=resumed_from, strategy_state=self.strategy.state_dict()
        )
        if resumed_from in self._retry_of:
            self._retry_of[trial_id] = self._retry_of.pop(resumed_from)
        trial_dir = self.experiment_dir / "trials" / str(trial_id)
        trial_dir.mkdir(parents=True, exist_ok=True)
        self.running[trial_id] = sample
        self.executor.submit(trial_id, sample, str(trial_dir))

    def _handle(self, event: Any) -> None:
        if isinstance(event, TrialStarted):
            # relative to the experiment directory (the store's convention), never to the cwd
            log = f"trials/{event.trial_id}/{LOG_NAME}"
            self.store.mark_running(event.trial_id, worker=event.worker, log_path=log)
            self.dispatch("on_trial_started", event.trial_id)
        elif isinstance(event, (IntermediateMetric, FinalMetric)):
            try:
                if isinstance(event, IntermediateMetric):
                    sequence = self.store.add_intermediate(event.trial_id, event.metric)
                else:
                    self.store.set_final(event.trial_id, event.metric)
            except (TypeError, ValueError) as exc:
                # e.g. an infinite loss: the store refuses it. Fail this trial, not the experiment.
                self._bad_metric.setdefault(
                    event.trial_id, f"the trial reported an invalid metric: {exc}"
                )
                return
            if isinstance(event, IntermediateMetric) and event.trial_id in self.running:
                self._last_intermediate[event.trial_id] = event.metric
                self.dispatch(
                    "on_intermediate_result",
                    event.trial_id,
                    sequence + 1,
                    metric_value(event.metric),
                )
        elif event.trial_id in self._stopping:
            self._bad_metric.pop(event.trial_id, None)
            reason, _ = self._stopping.pop(event.trial_id)
            if isinstance(event, TrialFailed) and event.reason != "canceled":
                reason += f"; then it failed:\n{event.error}"
            self._finish(event.trial_id, "EARLY_STOPPED", reason)
        elif isinstance(event, TrialSucceeded):
            error = self._bad_metric.pop(event.trial_id, None)
            self._finish(event.trial_id, "FAILED" if error else "SUCCEEDED", error)
        elif isinstance(event, TrialFailed):
            self._bad_metric.pop(event.trial_id, None)
            if event.reason == "crashed" and self._retry(event):
                return
            self._finish(event.trial_id, _FAILURE_STATUS.get(event.reason, "FAILED"), event.error)

    def _retry(self, event: TrialFailed) -> bool:
        """Record a crashed trial and queue its sample again, if it has retries left."""
        attempts = self._retry_of.get(event.trial_id, 0) + 1
        if attempts > self.max_retries or event.trial_id not in self.running:
            return False
        sample = self.running.pop(event.trial_id)
        self.store.finish_trial(
            event.trial_id,
            "FAILED",
            f"{event.error}\n(retry {attempts} of {self.max_retries}: the sample runs again as a new trial)",
        )
        self._retried += 1
        self._retry_of[event.trial_id] = attempts
        self._last_intermediate.pop(event.trial_id, None)
        self.pending.appendleft((sample, event.trial_id))
        _logger.info("trial %d: its worker died; running the sample again", event.trial_id)
        return True

    def _finish(self, trial_id: int, status: str, error: str | None) -> None:
        self.running.pop(trial_id, None)
        last = self._last_intermediate.pop(trial_id, None)
        final = last if status == "EARLY_STOPPED" else None  # what the strategy is told
        record = self.store.finish_trial(trial_id, status, error, final=final)
        self.strategy.tell(_result(record))
        self.store.save_strategy_state(self.strategy.state_dict())
        self.dispatch("on_trial_ended", record)

    def _draw(self, force: bool = False) -> None:
        if self.progress is None or not self.progress.due(force):
            return
        counts = self.store.counts()
        best = self.store.best_trials(1)
        self.progress.update(
            done=sum(counts.get(s, 0) for s in _ENDED),
            running=len(self.running),
            failed=counts.get("FAILED", 0) + counts.get("TIMEOUT", 0),
            best=best[0].final_value if best else None,
            best_id=best[0].id if best else None,
            force=force,
        )

    def _wind_down(self) -> None:
        """Cancel what still runs: CANCELED when time is up, INTERRUPTED when stopped."""
        status = "CANCELED" if self.reason == StopReason.DURATION else "INTERRUPTED"
        for trial_id in list(self.running):
            try:
                self.executor.cancel(trial_id)
            except Exception:  # the worker may be gone already
                _logger.debug("cancel of trial %d failed", trial_id, exc_info=True)
        # drain the cancellation events so metrics that arrived are recorded
        deadline = time.time() + 5
        while self.running and time.time() < deadline:
            events = self.executor.poll(timeout=0.2)
            if not events and not set(self.running) & self.executor.running():
                break  # nothing more will come (e.g. Ctrl-C inside an in-process trial)
            for event in events:
                if (
                    isinstance(event, (TrialSucceeded, TrialFailed))
                    and event.trial_id in self.running
                ):
                    self.running.pop(event.trial_id)
                    if isinstance(event, TrialSucceeded):
                        self.store.finish_trial(event.trial_id, "SUCCEEDED")
                    else:
                        self.store.finish_trial(
                            event.trial_id, status, f"{self.reason}: {event.error}"
                        )
                else:
                    self._record_only(event)
        for trial_id in list(self.running):
            self.store.finish_trial(trial_id, status, self.reason)
            self.running.pop(trial_id)
        self._draw(force=True)

    def _record_only(self, event: Any) -> None:
        if isinstance(event, (TrialStarted, IntermediateMetric, FinalMetric)):
            self._handle(event)


def _result(trial: TrialRecord) -> TrialResult:
    return TrialResult(trial.id, trial.sample, trial.status, trial.final_value, trial.final)
