"""The Ray side of :class:`~retiarii.execution.ray_executor.RayExecutor`: one actor per trial slot.

This module is imported inside Ray worker processes (on any node of the cluster), so it imports
neither ray nor torch at module level; the driver wraps :class:`TrialActor` with ``ray.remote``.

An actor is the Ray counterpart of a local worker process: it receives the cloudpickled runner
once (from the object store), runs ``setup()`` once, then runs trials one after another through
the same :func:`~retiarii.execution.trial.run_trial` as every other backend. A trial's events
stream back as the items of a Ray *streaming generator*; the driver reads them as they come and
is the only one that writes the store.

``run_trial`` reports through a callback, and a generator cannot yield from inside a callback, so
the trial runs in a helper thread that puts events on a queue while the actor method yields them.
(Libraries that install signal handlers only do so on the main thread, and skip it elsewhere.)
"""

from __future__ import annotations

import io
import os
import queue
import shutil
import socket
import tempfile
import threading
import traceback
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from retiarii.execution import pickling
from retiarii.execution.events import Event, is_terminal
from retiarii.execution.trial import LOG_NAME, run_trial

__all__ = ["MAX_COPY_BYTES", "TrialActor", "TrialFiles", "unpack_files"]

#: At most this many bytes of a trial's files travel back to the driver's trial directory; beyond
#: that only ``trial.log`` does, and the rest stays on the node (``FILES_NOT_COPIED.txt`` says
#: where).
MAX_COPY_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class TrialFiles:
    """The files a trial wrote on another node, zipped; sent just before its terminal event."""

    trial_id: int
    archive: bytes


@dataclass(frozen=True)
class ActorReady:
    """Answer of :meth:`TrialActor.setup`: where the actor runs, or why it could not set up."""

    name: str
    node_id: str
    error: str | None = None


class TrialActor:
    """Runs the trials of one slot of a :class:`~retiarii.execution.ray_executor.RayExecutor`.

    Args:
        hide_gpus: Set ``CUDA_VISIBLE_DEVICES=""`` before anything imports torch: a trial that
            asked for no GPU must not see (and crowd) the node's GPUs.
        env: Extra environment variables (e.g. ``OMP_NUM_THREADS``), set before the runner loads.
    """

    def __init__(self, hide_gpus: bool, env: dict[str, str]) -> None:
        if hide_gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ.update(env)
        self.runner: Any = None
        self.name = f"ray-{socket.gethostname()}:{os.getpid()}"
        self._stops: dict[int, str] = {}

    def stop_trial(self, trial_id: int, reason: str) -> None:
        """Ask the running trial to stop early (its next intermediate report raises TrialPruned)."""
        self._stops[trial_id] = reason

    def setup(self, payload: bytes) -> ActorReady:
        """Unpickle the runner and call its ``setup()``; the error is returned, not raised."""
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        try:
            runner = pickling.loads(payload)
        except BaseException:
            return ActorReady(
                self.name,
                node_id,
                "the Ray worker could not unpickle the runner; every module it refers to by name "
                "must be importable on the cluster's nodes (install it there, or use Ray's "
                "runtime_env):\n" + traceback.format_exc(),
            )
        try:
            runner.setup()
        except BaseException:
            return ActorReady(
                self.name,
                node_id,
                "runner.setup() raised in the Ray worker:\n" + traceback.format_exc(),
            )
        self.runner = runner
        return ActorReady(self.name, node_id)

    def run(
        self, trial_id: int, sample: dict[str, Any], trial_dir: str, copy_files: bool
    ) -> Iterator[Event | TrialFiles]:
        """Run one trial, yielding its events as they happen (the terminal one last).

        With ``copy_files`` (the actor is on another node than the driver), the trial writes into
        a scratch directory of this node, whose files are yielded as :class:`TrialFiles` just
        before the terminal event and then deleted.
        """
        work_dir = (
            tempfile.mkdtemp(prefix=f"retiarii-trial-{trial_id}-") if copy_files else trial_dir
        )
        events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        thread = threading.Thread(
            target=run_trial,
            args=(self.runner, trial_id, sample, work_dir, events.put),
            kwargs={
                "worker": self.name,
                "stop_requested": self._stops.get,
                "interrupt_propagates": False,  # in a helper thread: record it as the failure
            },
            name=f"retiarii-trial-{trial_id}",
            daemon=True,
        )
        thread.start()
        while True:
            event = events.get()
            if is_terminal(event):
                break
            yield event
        thread.join()
        self._stops.pop(trial_id, None)
        if copy_files:
            archive, complete = _pack(work_dir)
            yield TrialFiles(trial_id, archive)
            if complete:
                shutil.rmtree(work_dir, ignore_errors=True)
        yield event


def _pack(directory: str) -> tuple[bytes, bool]:
    """Zip ``directory``; past :data:`MAX_COPY_BYTES`, only the log and a note saying where the
    rest stays. The flag tells whether everything was packed (so the directory can go)."""
    files = []
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            files.append((path, os.path.relpath(path, directory)))
    total = sum(os.path.getsize(path) for path, _ in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if total <= MAX_COPY_BYTES:
            for path, name in files:
                archive.write(path, name)
        else:
            log = os.path.join(directory, LOG_NAME)
            if os.path.exists(log):
                archive.write(log, LOG_NAME)
            archive.writestr(
                "FILES_NOT_COPIED.txt",
                f"The trial wrote {total} bytes (more than {MAX_COPY_BYTES}); only {LOG_NAME} "
                f"was copied. The files remain on {socket.gethostname()} in {directory}.\n",
            )
    return buffer.getvalue(), total <= MAX_COPY_BYTES


def unpack_files(files: TrialFiles, trial_dir: str) -> None:
    """Write what :func:`_pack` zipped into the driver's ``trial_dir``."""
    os.makedirs(trial_dir, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(files.archive)) as archive:
        for member in archive.namelist():
            target = os.path.realpath(os.path.join(trial_dir, member))
            if not target.startswith(os.path.realpath(trial_dir) + os.sep):
                continue  # never write outside the trial directory
            archive.extract(member, trial_dir)
