"""Fixtures of the dashboard tests: a real finished experiment, a one-shot store, the server,
and a real Chromium driven by Playwright (for the tests marked ``browser``)."""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import retiarii.strategy as strategy
from retiarii.dashboard import DashboardServer, serve_dashboard
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.store import ExperimentStore

from .spaces import XSS_LABEL, DashNet, evaluate

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots of the browser tests (gitignored; CI keeps them as artifacts).
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS_CANDIDATE = "<svg onload=alert(4)>"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives a real Chromium through Playwright (needs chromium)"
    )


def make_config(working_dir: Path, **fields: Any) -> RetiariiExeConfig:
    config = RetiariiExeConfig("local")
    config.experiment_working_directory = str(working_dir)
    for name, value in fields.items():
        setattr(config, name, value)
    return config


@pytest.fixture(scope="session")
def finished_experiment(tmp_path_factory: pytest.TempPathFactory) -> RetiariiExperiment:
    """A real experiment, run to its end: 12 trials in 2 worker processes, one of them failing."""
    config = make_config(
        tmp_path_factory.mktemp("dash"),
        experiment_name="dash <b>demo</b>",
        trial_concurrency=2,
        max_trial_number=12,
    )
    exp = RetiariiExperiment(
        DashNet(), FunctionalEvaluator(evaluate), None, strategy.GridSearch(shuffle=False)
    )
    logger = logging.getLogger("retiarii")
    level = logger.level
    logger.setLevel(logging.WARNING)  # keep the test output quiet
    try:
        exp.run(config)
    finally:
        logger.setLevel(level)
    assert exp.store.counts()["SUCCEEDED"] == 11, exp.store.counts()
    return exp


@pytest.fixture(scope="session")
def experiment_dir(finished_experiment: RetiariiExperiment) -> Path:
    assert finished_experiment.experiment_dir is not None
    return finished_experiment.experiment_dir


@pytest.fixture(scope="session")
def dashboard(experiment_dir: Path) -> Iterator[DashboardServer]:
    """The dashboard of the finished experiment, as ``retiarii view`` serves it."""
    server = serve_dashboard(experiment_dir, port=0)
    yield server
    server.close()


class _DashboardLine(logging.Handler):
    """Catches the experiment's ``dashboard: URL`` log line."""

    def __init__(self) -> None:
        super().__init__()
        self.url: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("dashboard: "):
            self.url = message.split(" ", 1)[1].strip()


@contextmanager
def running_experiment(
    working_dir: Path, delay: float, trials: int = 20, execution: str = "process"
) -> Iterator[tuple[RetiariiExperiment, str, threading.Thread]]:
    """``exp.run(config, 0)`` in a thread (slow trials, one worker); yields it with its URL.

    On exit the experiment is stopped (if still running) and joined.
    """
    config = make_config(
        working_dir,
        experiment_name="live",
        trial_concurrency=1,
        max_trial_number=trials,
        execution=execution,
    )
    exp = RetiariiExperiment(
        DashNet(),
        FunctionalEvaluator(evaluate, delay=delay),
        None,
        strategy.Random(dedup=False, seed=0),
    )
    logger = logging.getLogger("retiarii.experiment")
    catcher, level = _DashboardLine(), logger.level
    logger.addHandler(catcher)
    logger.setLevel(logging.INFO)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            exp.run(config, 0)
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while catcher.url is None:
            assert thread.is_alive() or catcher.url, f"the experiment ended early: {errors}"
            assert time.monotonic() < deadline, "no dashboard URL logged in 60 s"
            time.sleep(0.02)
        yield exp, catcher.url, thread
    finally:
        exp.stop()
        thread.join(60)
        logger.removeHandler(catcher)
        logger.setLevel(level)
    assert not thread.is_alive(), "the experiment did not stop within 60 s"
    if errors:
        raise errors[0]


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    """Poll ``condition()`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def write_oneshot_store(directory: Path, epochs: int = 6) -> Path:
    """A store as a one-shot trainer writes it (see the series convention of the dashboard)."""
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(
            "darts search",
            {"max_trial_number": None},
            {
                "op": {"_type": "layer_choice", "_value": ["conv3", XSS_CANDIDATE, "skip"]},
                "inp": {"_type": "input_choice", "_value": {"candidates": [0, 1], "n_chosen": 1}},
            },
            "maximize",
            info={"model": "Net", "strategy": "DARTS"},
        )
        for epoch in range(epochs):
            for k in range(3):
                store.add_series("loss/train", 2.0 * math.exp(-(3 * epoch + k) / 8))
            store.add_series("loss/val", 2.2 * math.exp(-epoch / 4), epoch=epoch)
            store.add_series("metric/accuracy", 1 - math.exp(-epoch / 3), epoch=epoch)
            weights = [math.exp(0.4 * epoch), 1.0, math.exp(-0.2 * epoch)]
            total = sum(weights)
            probs = {c: w / total for c, w in zip(["conv3", XSS_CANDIDATE, "skip"], weights)}
            store.add_series("arch_prob/op", probs, epoch=epoch)
            store.add_series(
                "arch_prob/inp", {"0": 0.5 + epoch / 20, "1": 0.5 - epoch / 20}, epoch=epoch
            )
            store.add_series("arch/selected", {"op": "conv3", "inp": [0]}, epoch=epoch)
        store.set_status("done")
    return directory


@pytest.fixture(scope="session")
def oneshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oneshot_store(tmp_path_factory.mktemp("oneshot"))


# ------------------------------------------------------------------------------------ browser


def _chromium() -> str | None:
    """``$RETIARII_CHROMIUM`` if set (None unless executable), else Debian's ``chromium``."""
    explicit = os.environ.get("RETIARII_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    if shutil.which("chromium"):
        return shutil.which("chromium")
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _unavailable(reason: str) -> None:
    """Skip locally, but fail in CI, where the set-up must have installed the browser."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(
            f"CI is set but {reason}: scripts/test.sh installs it (scripts/install_browser.sh)",
            pytrace=False,
        )
    pytest.skip(f"{reason} (install it: bash scripts/install_browser.sh)")


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Chromium (Debian's package) with a fresh profile, driven by Playwright."""
    executable = _chromium()
    if executable is None:
        _unavailable("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


class PageWatch:
    """A page plus what went wrong on it: dialogs (alert!), script errors, outside requests."""

    def __init__(self, context: Any, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.accept_dialogs = False
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.route("**/*", self._route)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if self.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.base + "/") or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def goto(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watch_factory(browser_context: Any) -> Iterator[Any]:
    """Open watched pages on a dashboard URL; each test asserts nothing went wrong on them."""
    pages: list[PageWatch] = []

    def open_page(base_url: str) -> PageWatch:
        watch = PageWatch(browser_context, base_url)
        pages.append(watch)
        return watch

    yield open_page
    for watch in pages:
        watch.close()


__all__ = [
    "ARTIFACTS",
    "XSS_CANDIDATE",
    "XSS_LABEL",
    "PageWatch",
    "make_config",
    "running_experiment",
    "wait_until",
    "write_oneshot_store",
]
