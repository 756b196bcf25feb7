"""A small threaded HTTP server (stdlib only) serving the dashboard page and its JSON API.

Binds to 127.0.0.1 unless told otherwise. Everything shown comes from the store, opened
read-only; the only write is ``POST /api/stop``, accepted from the same origin only, which asks
a running experiment to stop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..store import DEFAULT_FILENAME, ExperimentStore, StoreError
from .api import experiment_view, trial_view, trials_view

__all__ = ["DashboardServer", "serve_dashboard"]


class DashboardServer:
    """A running dashboard; ``close()`` stops it."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        host, port = httpd.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}/"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _handler(experiment_dir: Path, stop: Callable[[], None] | None) -> type[BaseHTTPRequestHandler]:
    page = resources.files(__package__).joinpath("static/index.html").read_bytes()
    lock = threading.Lock()
    state: dict[str, Any] = {"store": None}

    def store() -> ExperimentStore:
        with lock:
            if state["store"] is None:
                state["store"] = ExperimentStore(experiment_dir / DEFAULT_FILENAME, readonly=True)
            value: ExperimentStore = state["store"]
            return value

    class Handler(BaseHTTPRequestHandler):
        server_version = "retiarii-dashboard"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the experiment's console is for the experiment."""

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any, status: int = HTTPStatus.OK) -> None:
            self._send(status, json.dumps(value, default=str).encode(), "application/json")

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            try:
                if path in ("/", "/index.html") or path.startswith("/trial/"):
                    self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
                elif path == "/api/experiment":
                    self._json(experiment_view(store()))
                elif path == "/api/trials":
                    self._json(trials_view(store()))
                elif path.startswith("/api/trials/") and path.rsplit("/", 1)[-1].isdigit():
                    self._json(trial_view(store(), experiment_dir, int(path.rsplit("/", 1)[-1])))
                else:
                    self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            except KeyError as exc:
                self._json({"error": str(exc)}, HTTPStatus.NOT_FOUND)
            except StoreError as exc:
                self._json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE)

        def do_POST(self) -> None:
            if urlparse(self.path).path != "/api/stop":
                self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
                return
            origin = self.headers.get("Origin")
            host = self.headers.get("Host", "")
            if origin is not None and urlparse(origin).netloc != host:
                self._json({"error": "cross-origin request refused"}, HTTPStatus.FORBIDDEN)
                return
            if stop is None:
                self._json({"error": "this experiment is not running here"}, HTTPStatus.CONFLICT)
                return
            stop()
            self._json({"stopping": True})

    return Handler


def serve_dashboard(
    experiment_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    stop: Callable[[], None] | None = None,
) -> DashboardServer:
    """Serve the dashboard of ``experiment_dir`` in a background thread (``port=0``: any free)."""
    directory = Path(experiment_dir)
    if not (directory / DEFAULT_FILENAME).exists():
        raise FileNotFoundError(
            f"{directory} is not an experiment directory (no {DEFAULT_FILENAME})"
        )
    try:
        httpd = ThreadingHTTPServer((host, port), _handler(directory, stop))
    except OSError as exc:
        raise OSError(
            f"cannot serve the dashboard on {host}:{port}: {exc.strerror}; choose another port"
        ) from exc
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="retiarii-dashboard", daemon=True)
    thread.start()
    return DashboardServer(httpd, thread)
