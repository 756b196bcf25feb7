"""The dashboard's web application (FastAPI): the pages, their static assets and the JSON API.

Routes (all ``GET`` unless said otherwise; JSON errors are ``{"error": "..."}``):

====================================  ===========================================================
``/``, ``/trials``, ``/charts``,      the single-page app (``static/index.html``); the page is
``/oneshot``, ``/compare``,          picked by the browser from the path (``/trial/<id>`` too;
``/trials/<id>``                      ``/compare?ids=1,2`` shows trials side by side)
``/static/<name>``                    the page's scripts and styles (``static/*.js``, ``*.css``)
                                      and ``plotly.min.js`` (from the installed ``plotly``
                                      package): looked up by name in a fixed table
``/api/experiment``                   overview: the record, ``state``, ``counts``, ``progress``,
                                      ``elapsed``, ``best``, ``space``, ``can_stop``; ``one_shot``
                                      and, for a one-shot search, ``oneshot_progress`` (epochs,
                                      its metric, the export); the trial pages then say what it
                                      has instead, while their APIs answer as usual
``/api/trials``                       every trial as a slim row (record fields but the ``final``
                                      metric dict, plus ``duration``)
``/api/trials?since=C``               an incremental poll: ``{"cursor", "full", "total",
                                      "trials"}``, the trials that changed since cursor ``C``
``/api/trials/table``                 one page of the table, filtered and sorted here: ``q``,
                                      ``status``, ``sort``, ``desc``, ``offset``, ``limit``;
                                      ``cursor`` from the last answer gives ``{"unchanged":
                                      true}`` when nothing changed
``/api/trials/<id>``                  one trial (with ``final``) plus ``intermediates``,
                                      ``log_tail``
``/api/trials/<id>/log``              the whole log, as text
``/api/intermediates``                every intermediate curve: ``{id: {"x": [...], "y": [...]}}``,
                                      each downsampled to ``max_points`` (200); with
                                      ``since=C``: ``{"cursor", "curves"}``, only the curves that
                                      grew since cursor ``C``
``/api/series``                       one-shot series: ``{"names", "series": {name: columns}}``
``/api/export?top_k=K``               the top-k samples as a JSON download
``POST /api/stop``                    ask the running experiment to stop (same origin only)
====================================  ===========================================================

Security: every response carries a Content-Security-Policy without inline scripts, and the page
inserts experiment data as text only. The store is opened read-only. No file is opened from a
path in a URL: static assets are looked up by name in a fixed table, and a trial's log is the
path the store records, served only if it resolves inside the experiment directory. When bound
to a loopback address, requests must name a loopback host (``Host``), which defeats DNS
rebinding; ``POST /api/stop`` is refused unless it comes from the dashboard's own origin.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._install import install_command
from ..store import DEFAULT_FILENAME, ExperimentStore, StoreError, UnknownTrialError
from .cache import TrialCache
from .table import MAX_PAGE_ROWS, table_view
from .views import (
    experiment_view,
    export_view,
    intermediate_changes_view,
    intermediates_view,
    series_view,
    slim_row,
    trial_log_path,
    trial_view,
)

__all__ = ["LOOPBACK_HOSTS", "create_app", "plotly_js_path"]

#: Host names a loopback-bound dashboard answers to.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_STATIC = Path(__file__).with_name("static")
_PAGE_PATHS = ("/", "/trials", "/charts", "/oneshot", "/compare", "/pareto")
_MAX_TOP_K = 10_000
_MAX_CURVE_POINTS = 100_000
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# 'unsafe-eval': plotly's WebGL traces (parallel coordinates) compile their shaders with
# new Function(); inline scripts stay forbidden, which is what stops injected markup.
_SECURITY_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def plotly_js_path() -> Path:
    """``plotly.min.js`` as shipped inside the installed ``plotly`` Python package.

    Found without importing ``plotly`` (which is slow); raises ``ImportError`` if it is missing.
    """
    spec = importlib.util.find_spec("plotly")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    raise ImportError(
        "plotly.min.js not found in the installed plotly package; "
        f"install the dashboard extra: {install_command('dashboard')}"
    )


def _hostname(host_header: str) -> str:
    """``'127.0.0.1:8080'`` -> ``'127.0.0.1'``, ``'[::1]:80'`` -> ``'::1'``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class _Guard:
    """ASGI middleware: the Host check (DNS rebinding) and the security headers."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed_hosts is not None:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if _hostname(host) not in self.allowed_hosts:
                response = Response(
                    f"unexpected Host header {host!r}: open the dashboard at its own address",
                    status_code=400,
                    media_type="text/plain",
                )
                await response(scope, receive, send)
                return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_secured)


class _LazyStore:
    """The read-only store, opened on first use (and again if opening failed)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._store: ExperimentStore | None = None

    def get(self) -> ExperimentStore:
        with self._lock:
            if self._store is None:
                self._store = ExperimentStore(self._path, readonly=True)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _json(value: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    merged = {"Cache-Control": "no-store", **(headers or {})}
    return Response(body, status_code=status_code, media_type="application/json", headers=merged)


def _error(status_code: int, message: str) -> Response:
    return _json({"error": message}, status_code)


def _trial_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from the dashboard's own page (or no browser).

    Browsers send ``Origin`` on every POST and ``Sec-Fetch-Site`` on every request; a client
    that sends neither (curl, a script) is not a browser that a web page could drive.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _static_table() -> dict[str, tuple[Path, str, str]]:
    """Every file the dashboard serves under ``/static/``: name -> (path, type, caching)."""
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    table = {
        path.name: (path, types[path.suffix], "no-cache")  # revalidated (ETag) on each load
        for path in sorted(_STATIC.iterdir())
        if path.suffix in types and path.is_file()
    }
    # versioned in the page's URL (?v=<plotly version>), so it can be cached for good
    immutable = "public, max-age=31536000, immutable"
    table["plotly.min.js"] = (plotly_js_path(), types[".js"], immutable)
    return table


def _page() -> bytes:
    """``index.html`` with plotly's version in its URL (a server-made string, nothing else)."""
    html = (_STATIC / "index.html").read_text(encoding="utf-8")
    return html.replace("__PLOTLY_JS__", importlib.metadata.version("plotly")).encode()


def create_app(
    experiment_dir: str | Path,
    *,
    stop: Callable[[], None] | None = None,
    allowed_hosts: frozenset[str] | None = None,
) -> FastAPI:
    """The dashboard application over ``experiment_dir`` (an ASGI app; serve it with uvicorn).

    Args:
        experiment_dir: The experiment directory (holding ``experiment.db``).
        stop: Called by ``POST /api/stop``; without it the experiment cannot be stopped from here.
        allowed_hosts: Host names the app answers to (``None``: any). Serving on a loopback
            address, pass :data:`LOOPBACK_HOSTS`.
    """
    directory = Path(experiment_dir)
    store = _LazyStore(directory / DEFAULT_FILENAME)
    static = _static_table()
    page = _page()
    app = FastAPI(title="retiarii dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    trials = TrialCache()  # one for every client: a poll reads only what changed

    def overview(current: ExperimentStore, can_stop: bool) -> dict[str, Any]:
        def best(mode: str) -> dict[str, Any] | None:
            try:
                return trials.best(current, mode)
            except StoreError:  # a damaged row elsewhere: the overview still answers
                found = current.best_trials(1, mode)
                return slim_row(found[0]) if found else None

        return experiment_view(current, can_stop=can_stop, best=best)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return _error(exc.status_code, str(exc.detail).lower())
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")

    @app.exception_handler(UnknownTrialError)
    async def unknown_trial(request: Request, exc: UnknownTrialError) -> Response:
        return _error(404, str(exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return _error(503, str(exc))

    @app.exception_handler(FileNotFoundError)
    async def store_missing(request: Request, exc: FileNotFoundError) -> Response:
        return _error(503, str(exc))

    def index() -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    for path in _PAGE_PATHS:
        app.add_api_route(path, index, methods=["GET"], include_in_schema=False)

    @app.get("/trials/{trial_id}", include_in_schema=False)
    @app.get("/trial/{trial_id}", include_in_schema=False)
    def trial_page(trial_id: str) -> Response:
        if _trial_id(trial_id) is None:
            return Response("no such trial", status_code=404, media_type="text/plain")
        return index()

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        entry = static.get(name)
        if entry is None:
            return Response("not found", status_code=404, media_type="text/plain")
        path, media_type, caching = entry
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": caching})

    @app.get("/api/experiment")
    def api_experiment() -> Response:
        return _json(overview(store.get(), stop is not None))

    @app.get("/api/trials")
    def api_trials(since: str | None = None) -> Response:
        if since is None:
            return _json(trials.rows(store.get()))
        cursor = _number(since)
        if cursor is None:
            return _error(400, f"since must be a number (a cursor from a poll), got {since!r}")
        return _json(trials.changes(store.get(), cursor))

    @app.get("/api/trials/table")
    def api_trials_table(
        q: str = "",
        status: str = "",
        sort: str = "id",
        desc: str = "0",
        offset: str = "0",
        limit: str = "100",
        cursor: str = "",
    ) -> Response:
        start, count = _trial_id(offset), _trial_id(limit)
        if start is None or count is None or not 1 <= count <= MAX_PAGE_ROWS:
            return _error(
                400, f"offset must be an integer >= 0 and limit from 1 to {MAX_PAGE_ROWS}"
            )
        current = store.get()
        rows = trials.rows(current)
        stamp, rowid = trials.cursor, current.intermediate_cursor()
        now_cursor = f"{stamp!r}:{rowid}:{q}:{status}:{sort}:{desc}:{start}:{count}"
        if cursor == now_cursor:
            return _json({"unchanged": True, "cursor": now_cursor})
        labels = list(current.experiment().search_space)
        try:
            view = table_view(
                rows,
                labels,
                q=q,
                status=status,
                sort=sort,
                desc=desc == "1",
                offset=start,
                limit=count,
            )
        except ValueError as exc:
            return _error(400, str(exc))
        view["cursor"] = now_cursor
        return _json(view)

    @app.get("/api/trials/{trial_id}")
    def api_trial(trial_id: str) -> Response:
        number = _trial_id(trial_id)
        if number is None:
            return _error(404, f"no trial with id {trial_id!r}")
        return _json(trial_view(store.get(), number))

    @app.get("/api/trials/{trial_id}/log")
    def api_trial_log(trial_id: str) -> Response:
        number = _trial_id(trial_id)
        if number is None:
            return _error(404, f"no trial with id {trial_id!r}")
        current = store.get()
        path = trial_log_path(current.experiment_dir, current.trial(number))
        if path is None:
            return _error(404, f"trial {number} has no log in the experiment directory")
        return FileResponse(
            path,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "no-store"},
            filename=f"trial-{number}.log",
            content_disposition_type="inline",
        )

    @app.get("/api/pareto")
    def api_pareto() -> Response:
        from .pareto import pareto_view

        return _json(pareto_view(store.get()))

    @app.get("/api/intermediates")
    def api_intermediates(since: str | None = None, max_points: str = "200") -> Response:
        points = _trial_id(max_points)
        if points is None or not 4 <= points <= _MAX_CURVE_POINTS:
            return _error(400, f"max_points must be an integer from 4 to {_MAX_CURVE_POINTS}")
        if since is None:
            return _json(intermediates_view(store.get(), points))
        cursor = _trial_id(since)
        if cursor is None:
            return _error(400, f"since must be an integer (a cursor from a poll), got {since!r}")
        return _json(intermediate_changes_view(store.get(), cursor, points))

    @app.get("/api/series")
    def api_series() -> Response:
        return _json(series_view(store.get()))

    @app.get("/api/export")
    def api_export(top_k: str = "5") -> Response:
        k = _trial_id(top_k)
        if k is None or not 1 <= k <= _MAX_TOP_K:
            return _error(400, f"top_k must be an integer from 1 to {_MAX_TOP_K}, got {top_k!r}")
        data = export_view(store.get(), k)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(data["experiment"])) or "experiment"
        return Response(
            json.dumps(data, indent=2, allow_nan=False) + "\n",
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{name}-top{k}.json"',
                "Cache-Control": "no-store",
            },
        )

    @app.post("/api/stop")
    def api_stop(request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "cross-origin request refused")
        if stop is None:
            return _error(
                409,
                "this dashboard is not attached to the running experiment; "
                "stop it where it runs (or through the dashboard served by exp.run)",
            )
        view = overview(store.get(), True)
        if not view["can_stop"]:
            return _error(409, f"the experiment is not running (status: {view['state']})")
        stop()
        return _json({"stopping": True})

    app.add_middleware(_Guard, allowed_hosts=allowed_hosts)
    return app
