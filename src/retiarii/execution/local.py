"""A pool of long-lived local worker processes: the default executor.

Why it looks like this:

* A trial must not pay for a Python (and torch) start, so each of the ``concurrency`` workers is
  started once, receives the cloudpickled runner once, runs its ``setup()`` once, and then takes
  trials one after another; per trial only ``(trial_id, sample, trial_dir)`` travels.
* Workers are fresh interpreters (``python -m retiarii.execution.worker``), not
  ``multiprocessing`` children: the ``spawn`` start method re-imports the user's ``__main__``
  script in every worker, and ``fork`` copies a driver that may hold threads and CUDA state.
* Each worker is connected by one socket wrapped in a :class:`~multiprocessing.connection.Connection`;
  the driver waits on all of them (and on each process's pidfd, where the OS has one) with
  :func:`multiprocessing.connection.wait`. There are no feeder threads and no shared queues, so a
  worker that dies cannot corrupt anything: its trial fails as ``crashed`` and the slot gets a new
  worker.
* Each worker leads its own process group, so killing it (timeout, cancel, shutdown) also kills
  the processes its trial started, and Ctrl-C in the terminal reaches only the driver, which then
  shuts the pool down in order.

It does not retry trials, and it does not schedule by resources beyond one trial per worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from retiarii.execution import pickling, process
from retiarii.execution.base import (
    ExecutorError,
    RunnerSetupError,
    TrialRunner,
    check_runner,
)
from retiarii.execution.events import FailureReason, is_terminal
from retiarii.execution.pool import PoolSlot, PoolTrial, SlotPool

__all__ = ["LocalExecutor"]

#: A slot whose worker fails to set up this many times in a row is given up.
MAX_SETUP_FAILURES = 3
#: How long idle workers get to exit after the stop message before they are killed.
STOP_GRACE_SECONDS = 2.0
#: Without a pidfd, how often the driver checks whether a busy worker is still alive.
_LIVENESS_INTERVAL = 0.2


@dataclass
class _Slot(PoolSlot):
    """A slot whose worker is a local process, talked to over one socket."""

    cuda_visible_devices: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    conn: Connection | None = None
    pidfd: int | None = None
    waitables: list[Any] = field(default_factory=list)
    trials_run: int = 0  # by the current worker process

    def has_worker(self) -> bool:
        return self.conn is not None


class LocalExecutor(SlotPool[_Slot]):
    """Runs trials in ``concurrency`` long-lived worker processes on this machine.

    Args:
        concurrency: Number of worker processes, i.e. of trials running at once.
        trial_timeout: Seconds a trial may run before its worker is killed and the trial fails
            with ``reason='timeout'``; ``None`` for no limit.
        gpus_per_trial: GPUs each worker gets, through its own ``CUDA_VISIBLE_DEVICES``; with 0,
            workers see no GPU at all (``CUDA_VISIBLE_DEVICES=""``).
        gpu_indices: The GPUs to share out (values for ``CUDA_VISIBLE_DEVICES``); worker ``k`` gets
            ``gpu_indices[k * gpus_per_trial:(k + 1) * gpus_per_trial]``. By default the GPUs in
            this process's ``CUDA_VISIBLE_DEVICES``, or those ``nvidia-smi`` lists.
        log_limit: bytes a trial's log may hold (its head and tail are kept; 0: no limit;
            None: the default, 100 MiB).
        memory_limit: bytes of resident memory a trial (with its child processes) may use; past
            it the worker ends itself and the trial fails with "exceeded the memory limit".
        max_trials_per_worker: replace a worker after it ran this many trials (1: a fresh process
            per trial, NNI's isolation); None: workers are reused for as long as they live, so
            module-level state a trial changes is seen by the next trial on that worker.
        threads_per_worker: ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` in each worker, so that workers
            do not oversubscribe the CPU; by default ``max(1, cpu_count // concurrency)``.
        python: The interpreter that runs the workers.
        start_timeout: Seconds :meth:`start` waits for every worker to finish ``setup()``.

    Use it from one thread: the experiment loop that submits also polls. Workers are POSIX
    processes (they inherit their socket by file descriptor), so this runs on Linux and macOS.

    Example:
        >>> with LocalExecutor(2, trial_timeout=600) as executor:  # doctest: +SKIP
        ...     executor.start(runner)
        ...     executor.submit(0, {"width": 32}, "trials/0")
        ...     events = executor.poll(timeout=1.0)
    """

    def __init__(
        self,
        concurrency: int,
        *,
        trial_timeout: float | None = None,
        gpus_per_trial: int = 0,
        gpu_indices: Sequence[int | str] | None = None,
        threads_per_worker: int | None = None,
        log_limit: int | None = None,
        memory_limit: int | None = None,
        max_trials_per_worker: int | None = None,
        python: str = sys.executable,
        start_timeout: float = 300.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if gpus_per_trial < 0:
            raise ValueError(f"gpus_per_trial must be >= 0, got {gpus_per_trial}")
        self.concurrency = concurrency
        self.python = python
        self.start_timeout = start_timeout
        self.threads_per_worker = threads_per_worker or max(1, process.cpu_count() // concurrency)
        self.log_limit = log_limit
        self.memory_limit = memory_limit
        if max_trials_per_worker is not None and max_trials_per_worker < 1:
            raise ValueError(f"max_trials_per_worker must be >= 1, got {max_trials_per_worker}")
        self.max_trials_per_worker = max_trials_per_worker
        gpus = process.gpu_slices(concurrency, gpus_per_trial, gpu_indices)
        super().__init__(
            [_Slot(k, cuda_visible_devices=gpus[k]) for k in range(concurrency)], trial_timeout
        )
        self._payload: bytes | None = None
        self._starting = False

    # ----------------------------------------------------------------------------- public API

    def start(self, runner: TrialRunner) -> None:
        """Start the workers, send each the runner, and wait until every ``setup()`` returned.

        Raises:
            TypeError: ``runner`` cannot be pickled by cloudpickle.
            RunnerSetupError: A worker could not unpickle the runner, or ``setup()`` raised; the
                message holds the worker's traceback. No worker is left running.
            ExecutorError: The workers were not ready within ``start_timeout``.
        """
        if self._payload is not None or self._closed:
            raise RuntimeError("start() can be called only once, before shutdown()")
        check_runner(runner)
        try:
            self._payload = pickling.dumps(runner)
        except Exception as exc:
            raise TypeError(f"cloudpickle could not pickle the runner {runner!r}: {exc}") from exc
        self._track()
        self._starting = True
        try:
            for slot in self._slots:
                self._spawn(slot)
            for slot in self._slots:  # all processes boot in parallel while the runner is sent
                self._send_runner(slot)
            deadline = time.monotonic() + self.start_timeout
            while any(slot.state == "starting" for slot in self._slots):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ExecutorError(
                        f"the workers did not finish runner.setup() within start_timeout="
                        f"{self.start_timeout:g} s"
                    )
                self._step(remaining)
            failed = [slot for slot in self._slots if slot.state == "retired"]
            if failed:
                raise RunnerSetupError(f"worker {failed[0].index} failed: {failed[0].setup_error}")
        except BaseException:
            self.shutdown()
            raise
        finally:
            self._starting = False

    def _started(self) -> bool:
        return self._payload is not None

    def shutdown(self) -> None:
        """Cancel what is queued or running, stop the workers, and reap every process."""
        if not self._start_closing():
            return
        try:
            for slot in self._slots:
                if slot.trial is not None:
                    self._kill_trial(slot, "canceled", "the executor shut down while it ran")
                elif slot.state == "idle" and slot.conn is not None:
                    with contextlib.suppress(OSError):
                        slot.conn.send(("stop",))
                else:  # still in setup(), which may take long: no reason to wait for it
                    self._kill(slot)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for slot in self._slots:
                if slot.proc is not None and not process.wait_exit(
                    slot.proc, deadline - time.monotonic()
                ):
                    slot.proc.terminate()
                    process.wait_exit(slot.proc, 0.5)
        finally:
            for slot in self._slots:
                self._kill(slot)

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring, e.g. their memory)."""
        return [slot.proc.pid for slot in self._slots if slot.proc is not None]

    # ------------------------------------------------------------------------ worker lifecycle

    def _spawn(self, slot: _Slot) -> None:
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [
                    self.python,
                    "-m",
                    "retiarii.execution.worker",
                    f"--fd={theirs.fileno()}",
                    f"--slot={slot.index}",
                    f"--parent-pid={os.getpid()}",
                ],
                pass_fds=(theirs.fileno(),),
                env=process.worker_env(
                    self.threads_per_worker,
                    slot.cuda_visible_devices,
                    self.log_limit,
                    self.memory_limit,
                ),
                stdin=subprocess.DEVNULL,  # trials must not compete for the terminal's input
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        slot.proc, slot.conn = proc, Connection(ours.detach())
        slot.pidfd = process.pidfd_open(proc.pid)
        slot.waitables = [slot.conn] if slot.pidfd is None else [slot.conn, slot.pidfd]
        slot.state, slot.setup_error, slot.trials_run = "starting", None, 0

    def _send_runner(self, slot: _Slot) -> None:
        assert slot.conn is not None and self._payload is not None
        # If the worker died at once, the next wait sees it and reports why.
        with contextlib.suppress(OSError):
            slot.conn.send_bytes(self._payload)

    def _kill(self, slot: _Slot) -> int | None:
        """Kill the worker's whole process group, reap it, and close its handles."""
        proc = slot.proc
        if proc is None:
            return None
        if proc.returncode is None:  # not reaped yet, so its pid still names its process group
            try:
                if hasattr(os, "killpg"):
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            except (ProcessLookupError, PermissionError):
                pass
        returncode = proc.wait()
        if slot.conn is not None:
            slot.conn.close()
        if slot.pidfd is not None:
            os.close(slot.pidfd)
        slot.proc, slot.conn, slot.pidfd, slot.waitables = None, None, None, []
        slot.state = "down"
        return returncode

    def _on_exit(self, slot: _Slot) -> None:
        """The worker died: fail its trial, then replace it (or give up on a broken set-up)."""
        was_starting, trial = slot.state == "starting", slot.trial
        slot.trial = None
        returncode = self._kill(slot)
        if trial is not None:
            message = f"the worker running it {process.describe_exit(returncode)}"
            self._fail(trial, "crashed", message + process.log_tail(trial.trial_dir))
        if was_starting:
            slot.setup_failures += 1
            if slot.setup_error is None:
                slot.setup_error = f"the worker {process.describe_exit(returncode)} during start-up"
            if self._starting or slot.setup_failures >= MAX_SETUP_FAILURES:
                slot.state = "retired"
                self._fail_queue_if_no_workers()
                return
        if not self._closed:
            self._spawn(slot)
            self._send_runner(slot)

    def _kill_trial(self, slot: _Slot, reason: FailureReason, message: str) -> None:
        trial = slot.trial
        assert trial is not None
        slot.trial = None
        self._kill(slot)
        self._fail(trial, reason, message + process.log_tail(trial.trial_dir))
        if not self._closed:
            self._spawn(slot)
            self._send_runner(slot)

    def _send_stop(self, slot: _Slot, trial_id: int, reason: str) -> None:
        if slot.conn is not None:
            with contextlib.suppress(OSError):  # it died: the next wait reports that
                slot.conn.send(("stop_trial", trial_id, reason))

    # ---------------------------------------------------------------------------- event pump

    def _step(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` for worker activity; handle it, timeouts, and the queue."""
        by_handle: dict[Any, _Slot] = {}
        for slot in self._slots:
            for handle in slot.waitables:
                by_handle[handle] = slot
        if any(slot.pidfd is None and slot.proc is not None for slot in self._slots):
            timeout = _LIVENESS_INTERVAL if timeout is None else min(timeout, _LIVENESS_INTERVAL)
        ready = set(wait(list(by_handle), timeout)) if by_handle else set()
        for slot in self._slots:
            if slot.proc is None:
                continue
            if not ready.intersection(slot.waitables) and slot.pidfd is not None:
                continue
            alive = self._read(slot)
            exited = slot.pidfd in ready if slot.pidfd is not None else slot.proc.poll() is not None
            if not alive or exited:
                self._on_exit(slot)
        self._expire_deadlines()
        self._dispatch()

    def _read(self, slot: _Slot) -> bool:
        """Handle every message the worker already sent; ``False`` once its connection closed."""
        if slot.conn is None:
            return False
        try:
            while slot.conn.poll():
                message = slot.conn.recv()
                if isinstance(message, tuple):
                    if message[0] == "ready":
                        slot.state, slot.setup_failures = "idle", 0
                    elif message[0] == "setup_failed":
                        slot.setup_error = message[1]
                    continue
                self._events.append(message)
                if is_terminal(message) and slot.trial and slot.trial.trial_id == message.trial_id:
                    slot.trial, slot.state = None, "idle"
                    slot.trials_run += 1
                    if self.max_trials_per_worker and slot.trials_run >= self.max_trials_per_worker:
                        # recycled: it exits, and _on_exit starts a fresh one in its place
                        slot.state = "recycling"
                        with contextlib.suppress(OSError):  # dead already: same outcome
                            slot.conn.send(("stop",))
        except Exception:  # closed (EOFError, OSError) or garbled: either way the worker is lost
            return False
        return True

    def _send(self, slot: _Slot, trial: PoolTrial) -> bool:
        assert slot.conn is not None
        try:
            slot.conn.send(("run", trial.trial_id, trial.sample, trial.trial_dir))
        except OSError:  # died while idle: the trial never started, so it waits for another
            self._queue.appendleft(trial)
            self._on_exit(slot)
            return False
        except Exception as exc:  # the sample itself could not be pickled
            self._fail(trial, "error", f"could not send the sample to a worker: {exc!r}")
            return False
        return True
