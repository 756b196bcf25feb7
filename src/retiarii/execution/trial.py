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
import threading
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

__all__ = [
    "DEFAULT_LOG_LIMIT",
    "LOG_LIMIT_ENV",
    "LOG_NAME",
    "current_trial_dir",
    "log_limit_from_env",
    "redirect_output",
    "run_trial",
]

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


#: Environment variable that carries ``trial_log_limit`` (bytes; 0: no limit) to the workers.
LOG_LIMIT_ENV = "RETIARII_TRIAL_LOG_LIMIT"
#: Default cap of one trial's log: its head and tail are kept, the middle is dropped.
DEFAULT_LOG_LIMIT = 100 * 2**20


def log_limit_from_env() -> int:
    """This process's trial-log limit in bytes (``0``: unlimited)."""
    text = os.environ.get(LOG_LIMIT_ENV)
    try:
        return max(0, int(text)) if text is not None else DEFAULT_LOG_LIMIT
    except ValueError:
        return DEFAULT_LOG_LIMIT


class _LogCap:
    """Keeps a log file under ``limit`` bytes while a trial writes it: the first half of the
    limit (the head: set-up, the first epochs) stays, the middle is replaced by a note saying how
    much was dropped, and the latest quarter (the tail: the end, a traceback) is kept.

    Checked twice a second from a thread, on the file itself (``O_APPEND`` writers, children
    included, go on writing at its end), so a trial that prints gigabytes cannot fill the disk;
    between checks the file can overshoot by what the trial writes in half a second.
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd, self.limit = fd, limit
        self.head = limit // 2
        self.tail = limit // 4
        self.dropped = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="retiarii-log-cap", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.5):
            self.check()

    def check(self) -> None:
        size = os.fstat(self.fd).st_size
        if size <= self.limit:
            return
        note_end = self.head + len(self._note(self.dropped)) if self.dropped else self.head
        if size - self.tail <= note_end:  # a limit too small to hold head, note and tail
            return
        tail = os.pread(self.fd, self.tail, size - self.tail)
        self.dropped += size - self.tail - note_end
        os.ftruncate(self.fd, self.head)
        os.write(self.fd, self._note(self.dropped) + tail)

    def _note(self, dropped: int) -> bytes:
        return (
            f"\n[retiarii: about {dropped} bytes of this trial's output were dropped here to keep the "
            f"log under trial_log_limit={self.limit} bytes]\n"
        ).encode()

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.check()


@contextmanager
def redirect_output(log_path: str, limit: int | None = None) -> Iterator[None]:
    """Send this process's stdout and stderr to ``log_path`` (appending) inside the block.

    The redirection is at the file-descriptor level, so output from C extensions and child
    processes lands in the log too; Python's buffers and C's stdio buffers are flushed at both
    ends so nothing leaks into the wrong file. The log is capped at ``limit`` bytes (default:
    :func:`log_limit_from_env`, 100 MiB unless ``trial_log_limit`` says otherwise; ``0``: no cap),
    keeping its head and tail (see :class:`_LogCap`).
    """
    _flush_all()
    limit = log_limit_from_env() if limit is None else limit
    log_fd = os.open(log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    saved = (os.dup(1), os.dup(2))
    cap = _LogCap(log_fd, limit) if limit > 0 else None
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield
    finally:
        _flush_all()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        if cap is not None:
            cap.close()
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
