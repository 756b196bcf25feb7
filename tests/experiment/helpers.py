"""Small helpers shared by the experiment and dashboard tests (no fixtures, plain functions)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from retiarii.experiment.pytorch import RetiariiExeConfig
from retiarii.store import ExperimentStore, StoreError, TrialRecord

#: The statuses that count against max_trial_number (INTERRUPTED trials run again instead).
COUNTED = ("SUCCEEDED", "FAILED", "TIMEOUT", "CANCELED")


def make_config(tmp_path: Path, **fields: Any) -> RetiariiExeConfig:
    """A local config whose experiments live under ``tmp_path``."""
    config = RetiariiExeConfig("local")
    config.experiment_working_directory = str(tmp_path)
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def http(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, Message, bytes]:
    """``(status, headers, body)`` of one request; HTTP errors are returned, not raised.

    ``headers`` is case-insensitive (``headers["content-type"]``).
    """
    request = urllib.request.Request(url, method=method, headers=headers or {})
    if method == "POST":
        request.data = b""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def get_json(url: str) -> Any:
    status, _, body = http(url)
    assert status == 200, (url, status, body)
    return json.loads(body)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def experiment_dir(working_dir: Path) -> Path | None:
    """The one experiment directory under ``working_dir`` (once its store exists)."""
    found = sorted(working_dir.glob("*/experiment.db"))
    assert len(found) <= 1, found
    return found[0].parent if found else None


def open_reader(directory: Path) -> ExperimentStore | None:
    """A read-only store of ``directory``, or None while it is not initialised yet."""
    try:
        store = ExperimentStore(directory / "experiment.db", readonly=True)
        store.experiment()
    except (FileNotFoundError, StoreError):
        return None
    return store


def counted(trials: list[TrialRecord]) -> list[TrialRecord]:
    return [t for t in trials if t.status in COUNTED]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


class Background:
    """Run ``fn`` in a thread; ``join()`` re-raises what it raised."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.error: BaseException | None = None

        def target() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # re-raised in join()
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"still running after {timeout} s"
        if self.error is not None:
            raise self.error


def dashboard_url(records: list[logging.LogRecord]) -> str | None:
    """The dashboard URL the experiment logged (``dashboard: http://...``)."""
    for record in records:
        message = record.getMessage()
        if message.startswith("dashboard: "):
            return message.split(" ", 1)[1].strip().rstrip("/")
    return None
