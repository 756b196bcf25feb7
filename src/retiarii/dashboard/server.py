"""Serving the dashboard: uvicorn in a background thread, stopped by ``close()``.

``serve_dashboard`` returns at once, with the server already accepting connections. It binds the
listening socket itself, in the caller's thread, so that a port in use is an error right there
(``OSError``) and ``port=0`` reports the port the system picked in ``.url``.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._install import install_command
from ..store import DEFAULT_FILENAME

if TYPE_CHECKING:
    from .process import DashboardProcess

__all__ = ["DashboardServer", "serve_dashboard"]

_STARTUP_TIMEOUT_S = 30.0
_WEB_STACK = ("fastapi", "uvicorn", "plotly")


def _require_web_stack() -> None:
    missing = [name for name in _WEB_STACK if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"the dashboard needs {', '.join(missing)}: "
            f"install the dashboard extra with {install_command('dashboard')}"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(
            exc.errno, f"cannot serve the dashboard on {host}:{port}: {reason}; choose another port"
        ) from exc


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class DashboardServer:
    """A dashboard being served in a background thread.

    Attributes:
        host: The address it listens on.
        port: The port it listens on (the real one when 0 was asked for).
        url: ``http://host:port/``.
    """

    def __init__(self, server: Any, thread: threading.Thread, sock: socket.socket, app: Any):
        self._server = server
        self._thread = thread
        self._socket = sock
        self._app = app
        self._closed = False
        host, port = sock.getsockname()[:2]
        self.host, self.port = str(host), int(port)
        self.url = _url(self.host, self.port)

    @property
    def running(self) -> bool:
        """Whether it still serves."""
        return self._thread.is_alive() and not self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving, release the port and close the store. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._server.should_exit = True
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._socket.close()
        self._app.state.store.close()

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DashboardServer({self.url!r}, running={self.running})"


def serve_dashboard(
    experiment_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    stop: Callable[[], None] | None = None,
    separate_process: bool = False,
) -> DashboardServer | DashboardProcess:
    """Serve the dashboard of ``experiment_dir`` in a background thread; return at once.

    Args:
        experiment_dir: An experiment directory (holding ``experiment.db``), finished or running.
        host: Address to listen on; the default keeps it on this machine.
        port: Port to listen on; ``0`` picks a free one (see the returned server's ``url``).
        stop: Called when the user presses *Stop* (``POST /api/stop``); without it the page
            offers no stop button.
        separate_process: Serve from a child process rather than a thread of this one, so
            that polling browsers never take CPU time (or the GIL) from this process's work;
            ``stop`` is still called here (see :mod:`retiarii.dashboard.process`). POSIX only;
            elsewhere it is served from a thread.

    Returns:
        The running :class:`DashboardServer` (or :class:`DashboardProcess`); ``close()`` stops it.

    Raises:
        FileNotFoundError: ``experiment_dir`` holds no experiment store.
        ImportError: The dashboard extra is not installed.
        OSError: The address cannot be bound (e.g. the port is in use).
    """
    if not _is_loopback(host):
        # one warning for every way in: exp.run, RetiariiExperiment.view, `retiarii view --host`
        warnings.warn(
            f"serving the dashboard on {host}: anyone who can reach this machine can see the "
            "experiment (the dashboard has no login); use host='127.0.0.1' to keep it local",
            UserWarning,
            stacklevel=2,
        )
    directory = Path(experiment_dir)
    if not (directory / DEFAULT_FILENAME).exists():
        raise FileNotFoundError(
            f"{directory} is not an experiment directory (no {DEFAULT_FILENAME})"
        )
    _require_web_stack()
    if separate_process and os.name == "posix":
        from .process import serve_in_process

        return serve_in_process(directory, _bind(host, port), stop, _is_loopback(host))
    import uvicorn

    from .app import LOOPBACK_HOSTS, create_app

    app = create_app(
        directory,
        stop=stop,
        allowed_hosts=(LOOPBACK_HOSTS | {host.lower()}) if _is_loopback(host) else None,
    )
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,  # leave the application's logging alone
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="retiarii-dashboard", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise OSError(f"the dashboard server on {host}:{port} failed to start")
        time.sleep(0.01)
    return DashboardServer(server, thread, sock, app)
