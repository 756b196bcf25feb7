"""A local worker process: ``python -m retiarii.execution.worker --fd N --slot K --parent-pid P``.

Started by :class:`~retiarii.execution.local.LocalExecutor` as a fresh interpreter (so the user's
``__main__`` is never re-imported). It talks to the driver over one
:class:`multiprocessing.connection.Connection` on the inherited socket ``--fd``:

* driver → worker: the cloudpickled runner (raw bytes, once), then ``("run", trial_id, sample,
  trial_dir)`` per trial, ``("stop_trial", trial_id, reason)`` to ask the running trial to stop
  early (it sees it at its next ``report_intermediate_result``), and ``("stop",)`` to exit;
* worker → driver: ``("ready",)`` or ``("setup_failed", traceback)``, then the trial's
  :mod:`~retiarii.execution.events` as they happen.

The worker is idle exactly when the driver has seen the terminal event of its last trial, so no
extra acknowledgement travels. Since a stop request must arrive while the main thread runs a trial,
a reader thread receives every message after the runner and hands the others to the main thread. It exits when told to, when the connection closes, or when its
parent dies (checked by a watcher thread, since a busy worker is not reading the connection).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

from retiarii.execution import pickling, process
from retiarii.execution.events import Event
from retiarii.execution.trial import LOG_NAME, run_trial

__all__ = ["main"]

_PARENT_CHECK_INTERVAL = 0.5


def main(argv: list[str] | None = None) -> int:
    """Run the worker loop until told to stop; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m retiarii.execution.worker")
    parser.add_argument("--fd", type=int, required=True, help="socket connected to the driver")
    parser.add_argument("--slot", type=int, required=True, help="index of this worker's slot")
    parser.add_argument("--parent-pid", type=int, required=True, help="exit when this pid is gone")
    args = parser.parse_args(argv)

    # Keep the socket out of the trial's child processes: a child that outlives this worker
    # would otherwise hold the connection open and hide the worker's death from the driver.
    os.set_inheritable(args.fd, False)
    conn = Connection(args.fd)
    process.exit_when_orphaned(args.parent_pid, _PARENT_CHECK_INTERVAL)  # the driver died
    try:
        return _serve(conn, f"local-{args.slot}:{os.getpid()}")
    except (EOFError, OSError):  # the driver went away; nobody is left to tell
        return 0


def _serve(conn: Connection, name: str) -> int:
    runner = _load_runner(conn)
    if runner is None:
        return 1
    conn.send(("ready",))
    lock = threading.Lock()

    def send(event: Event) -> None:
        # A trial may report from threads it started with a copy of its context; one message
        # must never interleave with another on the socket.
        with lock:
            conn.send(event)

    inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    stops: dict[int, str] = {}
    in_trial = threading.Event()
    _watch_memory(in_trial)
    threading.Thread(
        target=_receive, args=(conn, inbox, stops), name="retiarii-worker-inbox", daemon=True
    ).start()
    while True:
        message = inbox.get()
        if message[0] in ("stop", "eof"):
            return 0
        _, trial_id, sample, trial_dir = message
        in_trial.set()
        run_trial(
            runner,
            trial_id,
            sample,
            trial_dir,
            send,
            worker=name,
            stop_requested=stops.get,
            interrupt_propagates=False,  # nothing interrupts a worker but the trial's own code
        )
        in_trial.clear()
        stops.pop(trial_id, None)
        # processes the trial started end with it, on success too: nothing it left running
        # competes with (or leaks into) the next trial on this worker
        left = process.kill_leftover_children()
        if left:
            with contextlib.suppress(OSError), open(os.path.join(trial_dir, LOG_NAME), "a") as log:
                log.write(f"retiarii: ended {left} process(es) this trial left running\n")


def _receive(
    conn: Connection, inbox: queue.SimpleQueue[tuple[Any, ...]], stops: dict[int, str]
) -> None:
    """Read the driver's messages: record stop requests at once, queue the rest for the main loop."""
    try:
        while True:
            message = conn.recv()
            if message[0] == "stop_trial":
                stops[message[1]] = message[2]
            else:
                inbox.put(message)
    except (EOFError, OSError):
        inbox.put(("eof",))


def _load_runner(conn: Connection) -> Any:
    """Unpickle and set up the runner, or send the reason it failed and return ``None``."""
    payload = conn.recv_bytes()
    try:
        runner = pickling.loads(payload)
    except BaseException:
        conn.send(
            (
                "setup_failed",
                "the worker could not unpickle the runner; every module it refers to by name must "
                "be importable in the worker (the driver's sys.path is passed as PYTHONPATH):\n"
                + traceback.format_exc(),
            )
        )
        return None
    try:
        runner.setup()
    except BaseException:
        conn.send(
            ("setup_failed", "runner.setup() raised in the worker:\n" + traceback.format_exc())
        )
        return None
    return runner


def _watch_memory(in_trial: threading.Event, every: float = 0.25) -> None:
    """With ``trial_memory_limit`` set, end this worker (and the trial's children) as soon as a
    trial's resident memory, its children included, exceeds it: the trial fails with "exceeded
    the memory limit" instead of the kernel's OOM killer picking some process later."""
    text = os.environ.get(process.MEMORY_LIMIT_ENV)
    limit = int(text) if text and text.isdigit() else 0
    if limit <= 0:
        return

    def watch() -> None:
        while True:
            in_trial.wait()
            used = process.group_memory()
            if in_trial.is_set() and used > limit:
                with contextlib.suppress(OSError):  # fd 2 is the trial's log during a trial
                    os.write(
                        2,
                        f"\nretiarii: this trial exceeded the memory limit: {used / 2**20:.0f} MiB "
                        f"resident > trial_memory_limit={limit / 2**20:.0f} MiB\n".encode(),
                    )
                process.kill_leftover_children()
                os._exit(process.MEMORY_EXIT_CODE)
            time.sleep(every)

    threading.Thread(target=watch, name="retiarii-memory-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
