"""Fixtures shared by the store tests: a store on a temporary file with a deterministic clock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retiarii.store import ExperimentStore

# The ``src`` directory, for subprocesses that import retiarii without it being installed.
_SRC = str(Path(__file__).resolve().parents[2] / "src")


class FakeClock:
    """A clock that starts at 1000.0 and advances one second each time it is read."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "exp" / "experiment.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[ExperimentStore]:
    with ExperimentStore(db_path, clock=clock) as opened:
        yield opened


PythonRunner = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn_python() -> Iterator[PythonRunner]:
    """Start ``python -c code`` in a child process that can import retiarii; reaped at teardown."""
    children: list[subprocess.Popen[str]] = []

    def spawn(code: str, *args: str) -> subprocess.Popen[str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SRC, env.get("PYTHONPATH")]))
        child = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    yield spawn
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate()
