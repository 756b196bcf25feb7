"""Worker processes as the driver sees them: what they start with, and how their end is told.

Kept apart from :mod:`~retiarii.execution.local` so that the pool's logic reads on its own, and so
that another backend can describe a dead worker the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from retiarii.execution.trial import LOG_LIMIT_ENV, LOG_NAME

__all__ = [
    "cpu_count",
    "describe_exit",
    "exit_when_orphaned",
    "gpu_slices",
    "import_paths",
    "log_tail",
    "pidfd_open",
    "preserved_environ",
    "visible_gpus",
    "wait_exit",
    "worker_env",
]

_LOG_TAIL_LINES = 20


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask, which containers and ``taskset`` set)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gpu_slices(
    concurrency: int, gpus_per_trial: int, gpu_indices: Sequence[int | str] | None
) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` value of each worker.

    With ``gpus_per_trial == 0`` every worker gets ``""``: a trial that asked for no GPU sees none
    (so ``accelerator='auto'`` cannot pile every trial onto GPU 0).
    """
    if gpus_per_trial == 0:
        return [""] * concurrency
    gpus = [str(g) for g in gpu_indices] if gpu_indices is not None else visible_gpus()
    needed = concurrency * gpus_per_trial
    if len(gpus) < needed:
        raise ValueError(
            f"concurrency={concurrency} x gpus_per_trial={gpus_per_trial} needs {needed} GPUs, "
            f"but only {len(gpus)} are available ({', '.join(gpus) or 'none found'}); lower "
            f"concurrency or pass gpu_indices"
        )
    return [
        ",".join(gpus[k * gpus_per_trial : (k + 1) * gpus_per_trial]) for k in range(concurrency)
    ]


def visible_gpus() -> list[str]:
    """The GPUs this process may hand out: its ``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi``'s."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip()]
    try:  # ask the driver, not torch: the driver process must stay torch-free
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def worker_env(
    threads: int,
    cuda_visible_devices: str | None,
    log_limit: int | None = None,
    memory_limit: int | None = None,
) -> dict[str, str]:
    """This process's environment, plus what a worker needs before it imports anything."""
    env = dict(os.environ)
    if memory_limit:  # read by the worker's memory watch
        env[MEMORY_LIMIT_ENV] = str(memory_limit)
    if log_limit is not None:  # read by the trial's redirect_output
        env[LOG_LIMIT_ENV] = str(log_limit)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(import_paths())
    env["PYTHONUNBUFFERED"] = "1"  # a crash keeps the trial's last prints in trial.log
    if cuda_visible_devices is not None:  # "" hides every GPU
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    return env


def import_paths() -> list[str]:
    """The driver's ``sys.path`` minus the interpreter's own directories.

    The worker then imports retiarii, the user's modules and anything referenced by the pickled
    runner the way the driver does, even when retiarii is not installed; the interpreter's own
    stdlib and site-packages are left for the worker interpreter to add itself.
    """
    prefixes = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    paths: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if any(path == p or path.startswith(p + os.sep) for p in prefixes) or path in paths:
            continue
        paths.append(path)
    return paths


@contextlib.contextmanager
def preserved_environ(keys: Iterable[str]) -> Iterator[None]:
    """Put back the environment variables ``keys`` (values, or absence) as they were on entry."""
    saved = {key: os.environ.get(key) for key in keys}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pidfd_open(pid: int) -> int | None:
    """A handle that becomes readable when ``pid`` exits, even if a grandchild holds its socket."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:  # kernel older than 5.3, or a sandbox without the syscall
        return None
    return fd


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``proc`` to exit (and reap it); ``True`` if it did."""
    try:
        proc.wait(max(0.0, timeout))
    except subprocess.TimeoutExpired:
        return False
    return True


def describe_exit(returncode: int | None) -> str:
    """How a process ended, in words: ``"exited with code 3"``, ``"was killed by SIGSEGV"``."""
    if returncode == MEMORY_EXIT_CODE:
        return "ended it: the trial exceeded the memory limit (trial_memory_limit)"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (often the out-of-memory killer)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"exited with code {returncode}"


def log_tail(trial_dir: str) -> str:
    """The last lines of the trial's log, to append to a failure that has no traceback."""
    path = os.path.join(trial_dir, LOG_NAME)
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 8192))
            lines = log.read().decode(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    except OSError:
        return f"\n(no {path})"
    if not lines:
        return f"\n({path} is empty)"
    return f"\nlast lines of {path}:\n" + "\n".join(lines)


#: Exit code of a worker that ended itself because its trial exceeded ``trial_memory_limit``.
MEMORY_EXIT_CODE = 86
#: Environment variable that carries ``trial_memory_limit`` (bytes) to the workers.
MEMORY_LIMIT_ENV = "RETIARII_TRIAL_MEMORY_LIMIT"


_watched_pid: int | None = None  # the process whose exit_when_orphaned thread runs


def exit_when_orphaned(parent_pid: int, check_every: float = 0.5) -> None:
    """End this process (exit code 1) within ``check_every`` seconds of the end of
    ``parent_pid``, the process that started it (a daemon thread notices that this process has
    a new parent); a process that leads its own group takes the group with it (a worker: its
    trial's children). Once per process: later calls do nothing.

    Who uses it: a trial worker (its driver died) and a data-parallel search's ranks (the
    experiment's process died: they would otherwise train on, or wait in a collective until the
    process group's timeout)."""
    global _watched_pid
    if _watched_pid == os.getpid():
        return
    _watched_pid = os.getpid()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(check_every)
        if hasattr(os, "killpg") and os.getpgid(0) == os.getpid():
            os.killpg(0, signal.SIGKILL)  # we lead our own process group: take its members
        os._exit(1)

    threading.Thread(target=watch, name="retiarii-parent-watch", daemon=True).start()


def group_members() -> list[int]:
    """Pids of the other processes in this process's group when it leads one (a worker does:
    its trial's children are in it); empty elsewhere, or without ``/proc`` (not Linux)."""
    me = os.getpid()
    try:
        if os.getpgid(0) != me or not os.path.isdir("/proc"):
            return []
    except OSError:
        return []
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if len(fields) > 2 and int(fields[2]) == me:  # field 5 of stat: the process group
            members.append(int(entry))
    return members


def kill_leftover_children() -> int:
    """SIGKILL every other process in this worker's group: what the trial that just ended
    started and left running (a DataLoader worker, a server, a ``subprocess`` never waited for);
    returns how many. Linux only (``/proc``); elsewhere nothing is done and 0 is returned."""
    killed = 0
    for pid in group_members():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def group_memory() -> int:
    """Resident memory (bytes) of this process and the other processes of its group."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total = 0
    for pid in (os.getpid(), *group_members()):
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total
