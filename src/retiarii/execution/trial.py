"""Running one trial: the logic every backend shares, so a trial behaves the same everywhere.

:func:`run_trial` is called by the local worker process, by :class:`InProcessExecutor`, and by
the Ray actors of :class:`RayExecutor`. It turns everything that can happen inside user code
into events: metrics become :class:`IntermediateMetric`/:class:`FinalMetric`, a return value
becomes the final metric if none was reported, and an exception becomes
``TrialFailed(reason='error')`` with its traceback. It does not handle what only a supervisor can
see (a dead process, a timeout, a cancel); the executor does.

Early stopping: the executor passes ``stop_requested`` (the reason the experiment asked this trial
to stop, or ``None``); the trial's reporter exposes it as ``stop_reason()``, so the next
``report_intermediate_result`` raises :class:`~retiarii.reporting.TrialPruned`. A trial that ends
by that exception *succeeds* as far as this layer knows (the experiment, which asked for the stop,
records it as ``EARLY_STOPPED``); its log says why it stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any

from retiarii.execution.base import TrialRunner
from retiarii.execution.events import (
    Event,
    FinalMetric,
    IntermediateMetric,
    TrialFailed,
    TrialStarted,
    TrialSucceeded,
)
from retiarii.reporting import Metric, TrialPruned, normalize_metric, trial_reporter

__all__ = ["LOG_NAME", "current_trial_dir", "redirect_output", "run_trial"]

#: Name of the file in each trial's directory that receives its stdout and stderr.
LOG_NAME = "trial.log"

_logger = logging.getLogger("retiarii.execution")

Emit = Callable[[Event], None]
#: ``stop_requested(trial_id)``: why the experiment asked the trial to stop, or ``None``.
StopRequested = Callable[[int], str | None]

_trial_dir: ContextVar[str | None] = ContextVar("retiarii_trial_dir", default=None)


def current_trial_dir() -> str | None:
    """The directory of the trial running in this context, or ``None`` outside a trial.

    Evaluators use it for what a trial writes besides its metrics (logs, checkpoints). It is set
    by :func:`run_trial` for the duration of ``runner.run``, like the reporter.
    """
    return _trial_dir.get()


class _EventReporter:
    """Turns ``report_*`` calls into events; keeps only the first final result."""

    def __init__(self, trial_id: int, emit: Emit, stop_requested: StopRequested | None) -> None:
        self.trial_id = trial_id
        self.emit = emit
        self.stop_requested = stop_requested
        self.final_reported = False

    def stop_reason(self) -> str | None:
        """Why the experiment asked this trial to stop (a pruner's decision), or ``None``."""
        return None if self.stop_requested is None else self.stop_requested(self.trial_id)

    def intermediate(self, metric: Metric) -> None:
        self.emit(IntermediateMetric(self.trial_id, metric, time.time()))

    def final(self, metric: Metric) -> None:
        if self.final_reported:
            # One final metric per trial keeps the consumer simple; the first one is the answer.
            _logger.warning(
                "trial %d reported a final result twice; ignoring %r", self.trial_id, metric
            )
            return
        self.final_reported = True
        self.emit(FinalMetric(self.trial_id, metric, time.time()))


def run_trial(
    runner: TrialRunner,
    trial_id: int,
    sample: dict[str, Any],
    trial_dir: str,
    emit: Emit,
    *,
    worker: str,
    redirect: bool = True,
    stop_requested: StopRequested | None = None,
    interrupt_propagates: bool = True,
) -> TrialSucceeded | TrialFailed:
    """Run ``runner`` on ``sample`` and emit the trial's events, ending with a terminal one.

    Args:
        runner: A runner whose ``setup()`` already ran in this process.
        trial_id: Copied into every event.
        sample: The architecture to evaluate, passed to ``runner.run``.
        trial_dir: Created if missing; receives ``trial.log`` when ``redirect`` is true.
        emit: Called with each event as it happens (e.g. sends it to the driver).
        worker: Where this runs, for :class:`TrialStarted`.
        redirect: Send stdout/stderr (file descriptors 1 and 2) to ``trial_dir/trial.log`` for the
            duration of the trial.
        stop_requested: Called by ``report_intermediate_result`` after each report; a reason
            (not ``None``) makes it raise :class:`~retiarii.reporting.TrialPruned`.
        interrupt_propagates: let ``KeyboardInterrupt`` (and any other ``BaseException`` that is
            not ``SystemExit``) propagate, so Ctrl-C stops a debugging session that runs trials
            in-process. Workers pass ``False``: they sit in their own process group, so an
            interrupt there comes from the trial's own code, and it is recorded as the trial's
            failure with its traceback (not mistaken for the worker being killed).

    Returns:
        The terminal event, which was also emitted.

    """
    emit(TrialStarted(trial_id, time.time(), worker))
    reporter = _EventReporter(trial_id, emit, stop_requested)
    end: TrialSucceeded | TrialFailed
    try:
        os.makedirs(trial_dir, exist_ok=True)
        with ExitStack() as stack:
            if redirect:
                stack.enter_context(redirect_output(os.path.join(trial_dir, LOG_NAME)))
            end = _call_runner(
                runner, trial_id, sample, trial_dir, reporter, redirect, interrupt_propagates
            )
    except Exception:  # the trial directory or its log could not be set up
        end = TrialFailed(trial_id, time.time(), traceback.format_exc(), "error")
    emit(end)
    return end


def _call_runner(
    runner: TrialRunner,
    trial_id: int,
    sample: dict[str, Any],
    trial_dir: str,
    reporter: _EventReporter,
    to_log: bool = True,
    interrupt_propagates: bool = True,
) -> TrialSucceeded | TrialFailed:
    token = _trial_dir.set(trial_dir)
    try:
        with trial_reporter(reporter):
            result = runner.run(sample, trial_dir)
            if result is not None and not reporter.final_reported:
                _report_return_value(result, reporter)
    except KeyboardInterrupt as exc:
        if interrupt_propagates:
            raise
        return _failure(trial_id, exc)
    except TrialPruned as exc:
        # The user's code let the stop end it: a clean end, and the trial's log says why (not
        # written to an in-process console: the experiment logs every early stop already).
        if to_log:  # to file descriptor 2, which redirect_output points at trial.log
            _flush_all()
            os.write(2, f"retiarii: trial {trial_id} early-stopped: {exc}\n".encode())
        return TrialSucceeded(trial_id, time.time())
    except SystemExit as exc:
        if exc.code in (None, 0):  # ``sys.exit()`` ends a trial script normally
            return TrialSucceeded(trial_id, time.time())
        return _failure(trial_id, exc)
    except Exception as exc:
        return _failure(trial_id, exc)
    except BaseException as exc:  # e.g. GeneratorExit or a library's own BaseException
        if interrupt_propagates:
            raise
        return _failure(trial_id, exc)
    finally:
        _trial_dir.reset(token)
    return TrialSucceeded(trial_id, time.time())


def _report_return_value(result: Any, reporter: _EventReporter) -> None:
    try:
        metric = normalize_metric(result)
    except TypeError:
        # Not a metric at all (a model, a string): the runner returned it for its own reasons.
        _logger.warning(
            "trial %d returned a %s, which is not a metric; it is not reported",
            reporter.trial_id,
            type(result).__name__,
        )
        return
    reporter.final(metric)


def _failure(trial_id: int, exc: BaseException) -> TrialFailed:
    # Drop our own frame (``_call_runner``) so the traceback starts at the user's code.
    tb = exc.__traceback__
    text = "".join(traceback.format_exception(type(exc), exc, tb.tb_next if tb else None))
    sys.stderr.write(text)  # also into trial.log, next to the output that led to it
    return TrialFailed(trial_id, time.time(), text, "error")


@contextmanager
def redirect_output(log_path: str) -> Iterator[None]:
    """Send this process's stdout and stderr to ``log_path`` (appending) inside the block.

    The redirection is at the file-descriptor level, so output from C extensions and child
    processes lands in the log too; Python's buffers and C's stdio buffers are flushed at both
    ends so nothing leaks into the wrong file.
    """
    _flush_all()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = (os.dup(1), os.dup(2))
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield
    finally:
        _flush_all()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)


def _flush_all() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to flush
                stream.flush()
    libc = _libc()
    if libc is not None:
        libc.fflush(None)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, to flush its stdio buffers (``printf`` from extensions); ``None`` if absent."""
    if os.name != "posix":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None
