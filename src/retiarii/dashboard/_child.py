"""The dashboard's serving process (see :mod:`retiarii.dashboard.process`).

``python -m retiarii.dashboard._child FD DIRECTORY STOPPABLE LOOPBACK``: serves the app over
DIRECTORY on the inherited listening socket FD; writes ``ready`` and ``stop`` lines to its
standard output and exits when its standard input closes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

from .process import READY, STOP

__all__ = ["serve_child"]


def serve_child(fd: int, directory: str, stoppable: bool, loopback: bool) -> None:
    """The serving process: uvicorn on the inherited socket, until its standard input closes."""
    link = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing else may write to the link
    lock = threading.Lock()

    def say(word: str) -> None:
        with lock:
            link.write(word + "\n")
            link.flush()

    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # under contention, the experiment's processes come first

    import uvicorn

    from .app import LOOPBACK_HOSTS, create_app

    sock = socket.socket(fileno=fd)
    host = str(sock.getsockname()[0]).lower()
    app = create_app(
        directory,
        stop=(lambda: say(STOP)) if stoppable else None,
        allowed_hosts=(LOOPBACK_HOSTS | {host}) if loopback else None,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    server = uvicorn.Server(config)

    def watch_parent() -> None:
        sys.stdin.read()  # returns at EOF: the driver closed the pipe or died
        server.should_exit = True

    def announce() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.01)
        if server.started:
            say(READY)

    threading.Thread(target=watch_parent, daemon=True).start()
    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])
    app.state.store.close()


if __name__ == "__main__":
    _fd, _directory, _stoppable, _loopback = sys.argv[1:5]
    serve_child(int(_fd), _directory, _stoppable == "1", _loopback == "1")
