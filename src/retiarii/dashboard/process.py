"""Serving the dashboard from a separate process, so that it never competes with the experiment.

``exp.run(config, port)`` serves its dashboard this way: the driver binds the listening socket
(a port in use is an error right there, as with :func:`~retiarii.dashboard.serve_dashboard`) and
starts ``python -m retiarii.dashboard._child``, which inherits the socket and serves the app
over the experiment directory: the store is SQLite in WAL mode, so the child reads it while the
driver writes, and no request is ever answered by the driver's interpreter (its GIL, its CPU).

The two talk over the child's standard streams, nothing else:

* the child writes ``ready`` once it serves, and ``stop`` when a user presses *Stop* (a
  ``POST /api/stop`` that passed the app's origin checks); the driver then calls its ``stop``;
* the child's standard input is a pipe from the driver: when it closes (``close()``, or the driver
  died, even by SIGKILL) the child exits.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["DashboardProcess", "serve_in_process"]

_STARTUP_TIMEOUT_S = 60.0
READY, STOP = "ready", "stop"


class DashboardProcess:
    """A dashboard served by a child process (see the module's docstring).

    Attributes:
        host: The address it listens on.
        port: The port it listens on (the real one when 0 was asked for).
        url: ``http://host:port/``.
        pid: The serving process's id.
    """

    def __init__(
        self, proc: subprocess.Popen[str], sock: socket.socket, stop: Callable[[], None] | None
    ) -> None:
        from .server import _url

        self._proc = proc
        self._socket = sock
        self._stop = stop
        self._closed = False
        self._lines: queue.Queue[str | None] = queue.Queue()
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        self.url = _url(self.host, self.port)
        self.pid = proc.pid
        self._reader = threading.Thread(
            target=self._read, name="retiarii-dashboard-link", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            word = line.strip()
            if word == STOP:
                if self._stop is not None and not self._closed:
                    self._stop()
            else:
                self._lines.put(word)
        self._lines.put(None)  # the child is gone

    def _wait_ready(self, timeout: float) -> None:
        try:
            word = self._lines.get(timeout=timeout)
        except queue.Empty:
            word = None
        if word != READY:
            self.close()
            raise OSError(
                f"the dashboard server on {self.host}:{self.port} failed to start "
                f"(its process exited with {self._proc.poll()})"
            )

    @property
    def running(self) -> bool:
        """Whether it still serves."""
        return not self._closed and self._proc.poll() is None

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving (the child exits) and release the port. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._socket.close()
        if self._reader is not threading.current_thread():
            self._reader.join(timeout)

    def __enter__(self) -> DashboardProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DashboardProcess({self.url!r}, pid={self.pid}, running={self.running})"


def serve_in_process(
    directory: Path, sock: socket.socket, stop: Callable[[], None] | None, allowed: bool
) -> DashboardProcess:
    """Start the child that serves ``directory`` on the bound ``sock``; return once it serves."""
    package_root = str(Path(__file__).resolve().parents[2])  # so the child imports this retiarii
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [package_root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    fd = sock.fileno()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retiarii.dashboard._child",
            str(fd),
            str(directory),
            "1" if stop is not None else "0",
            "1" if allowed else "0",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=(fd,),
        env=env,
        start_new_session=True,  # a Ctrl-C in the driver's terminal is the driver's to handle
    )
    server = DashboardProcess(proc, sock, stop)
    server._wait_ready(_STARTUP_TIMEOUT_S)
    return server
