"""A watchdog that stops a local Ray instance whose driver is gone, even after a SIGKILL.

Ray ties the processes a driver starts (GCS, raylet, monitors) to it with
``prctl(PR_SET_PDEATHSIG)``, so they die with the driver; but the raylet's own children do not:
its dashboard and runtime-env agents notice that the raylet died within a second, then try to
report it to the GCS, which is dead too, and wait 60 s for it (a timeout Ray hard-codes), and
workers take a few seconds more. A killed driver thus leaves processes behind for a minute.

So before :func:`ray.init` starts a local instance, the driver starts this file as a script
(stdlib only, in its own session so that neither Ctrl-C nor a signal to the driver's process
group reaches it) and puts a fresh token in the environment that every process of the instance
inherits (``RETIARII_RAY_INSTANCE``). The watchdog waits for the driver to go: end of file on its
stdin (a pipe whose other end only the driver holds) or a new parent; meanwhile it notes, every
:data:`CHECK_SECONDS`, the processes that carry the token and their descendants (see
:class:`Tracker`). Then it stops them all: SIGTERM, and SIGKILL for those still there after
:data:`TERM_GRACE_SECONDS`. The driver ends it the same way after a normal ``ray.shutdown()``,
which makes that sweep pick up whatever is still exiting.

Only processes started while the token was set carry it (and only their descendants are
followed), so a cluster the experiment merely connected to is never touched. Processes are found through ``/proc`` (Linux) or, elsewhere,
psutil if it is importable.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

#: The environment variable whose value marks the processes of one Ray instance.
TOKEN_ENV = "RETIARII_RAY_INSTANCE"
#: How long processes get to exit after SIGTERM before they are killed.
TERM_GRACE_SECONDS = 2.0
#: How often the watchdog checks that its driver is still its parent.
CHECK_SECONDS = 0.5


class Watchdog:
    """The driver's handle on a watchdog process (see the module's docstring)."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self._proc: subprocess.Popen[bytes] | None = None
        if os.name != "posix":  # select() on a pipe is POSIX-only; Windows keeps Ray's job objects
            return
        self._proc = subprocess.Popen(
            # -I: isolated, and above all without this directory (its modules) on sys.path
            [sys.executable, "-I", os.path.abspath(__file__), self.token, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )

    def stop(self, timeout: float = 3 * TERM_GRACE_SECONDS) -> None:
        """Let the watchdog stop what is left of the instance, and wait for it to exit."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        # past the timeout it goes on alone, and exits when its sweep is done
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


# ----------------------------------------------------------------------- the watchdog process


class Tracker:
    """The processes of one instance: those carrying the token, and their descendants.

    Descendants are needed because a Python process that renames itself (Ray's agents and
    workers call ``setproctitle``) may overwrite the memory that ``/proc/PID/environ`` shows, so
    the token cannot always be read back; such a process is known as a child of the raylet. It is
    remembered, so it is still found once the raylet is dead and it has a new parent.
    """

    def __init__(self, token: str) -> None:
        self.needle = f"{TOKEN_ENV}={token}".encode()
        self.token = token
        self.known: dict[int, str] = {}  # pid -> start time (a reused pid is another process)
        self._checked: set[tuple[int, str]] = set()  # environments already read

    def update(self) -> list[int]:
        """Look again; the pids of the instance's live processes."""
        procs = _scan()
        self.known = {
            pid: start for pid, start in self.known.items() if procs.get(pid, (0, ""))[1] == start
        }
        for pid, (_, start) in procs.items():
            if pid not in self.known and (pid, start) not in self._checked:
                self._checked.add((pid, start))
                if self._carries_token(pid):
                    self.known[pid] = start
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        todo = list(self.known)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in self.known:
                    self.known[child] = procs[child][1]
                    todo.append(child)
        self.known.pop(os.getpid(), None)
        return list(self.known)

    def _carries_token(self, pid: int) -> bool:
        if not _HAS_PROC:
            return _environ_psutil(pid).get(TOKEN_ENV) == self.token
        try:
            with open(f"/proc/{pid}/environ", "rb") as file:
                return self.needle in file.read().split(b"\0")
        except OSError:  # gone, or not ours to read
            return False


_HAS_PROC = os.path.isdir("/proc")


def _scan() -> dict[int, tuple[int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, start time)."""
    if not _HAS_PROC:
        return _scan_psutil()
    me = os.getpid()
    procs: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in (b"Z", b"X"):  # state, then ppid; start time is field 22
            procs[int(entry)] = (int(fields[1]), fields[19].decode())
    return procs


def _psutil() -> Any:
    """psutil, or the copy Ray ships in ``ray/thirdparty_files`` (found without importing ray)."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        import importlib.util

        spec = importlib.util.find_spec("ray")
        if spec is None or spec.origin is None:
            return None
        sys.path.append(os.path.join(os.path.dirname(spec.origin), "thirdparty_files"))
        try:
            import psutil
        except ImportError:
            return None
    return psutil


def _scan_psutil() -> dict[int, tuple[int, str]]:
    psutil = _psutil()
    if psutil is None:
        return {}
    procs: dict[int, tuple[int, str]] = {}
    for proc in psutil.process_iter(["ppid", "create_time", "status"]):
        info = proc.info
        if proc.pid != os.getpid() and info.get("status") != "zombie":
            procs[proc.pid] = (info.get("ppid") or 0, repr(info.get("create_time")))
    return procs


def _environ_psutil(pid: int) -> dict[str, str]:
    psutil = _psutil()
    try:
        return dict(psutil.Process(pid).environ()) if psutil is not None else {}
    except Exception:  # gone, or not ours to read
        return {}


def instance_processes(token: str) -> list[int]:
    """Pids of the live processes (other than this one) of the instance marked by ``token``."""
    return Tracker(token).update()


def sweep(tracker: Tracker, grace: float = TERM_GRACE_SECONDS, limit: float = 10.0) -> list[int]:
    """SIGTERM the instance's processes, SIGKILL those left after ``grace``; the pids found."""
    seen: list[int] = []
    deadline = time.monotonic() + limit
    kill_after = time.monotonic() + grace
    signalled: set[int] = set()
    while time.monotonic() < deadline:
        pids = tracker.update()
        if not pids:
            break
        late = time.monotonic() >= kill_after
        for pid in pids:
            if pid not in seen:
                seen.append(pid)
            if late or pid not in signalled:
                with contextlib.suppress(OSError):  # gone meanwhile
                    os.kill(pid, signal.SIGKILL if late else signal.SIGTERM)
                signalled.add(pid)
        time.sleep(0.1)
    return seen


def _driver_gone(stdin_fd: int, driver: int) -> bool:
    """Wait up to :data:`CHECK_SECONDS`; ``True`` once the driver closed the pipe or died."""
    try:
        readable, _, _ = select.select([stdin_fd], [], [], CHECK_SECONDS)
    except InterruptedError:
        readable = []
    if readable:
        try:
            if not os.read(stdin_fd, 4096):
                return True
        except OSError:
            return True
    return os.getppid() != driver


def main(argv: list[str]) -> int:
    token, driver = argv[0], int(argv[1])
    for name in ("SIGINT", "SIGHUP", "SIGPIPE"):
        sig: Any = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, signal.SIG_IGN)
    tracker = Tracker(token)
    stdin_fd = sys.stdin.fileno()
    while not _driver_gone(stdin_fd, driver):
        tracker.update()
    sweep(tracker)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
