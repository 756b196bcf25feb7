"""Fixtures for the execution tests: every backend, started on :class:`ScriptedRunner`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retiarii.execution import Executor, InProcessExecutor, LocalExecutor
from retiarii.execution.ray_executor import RayExecutor

from .support import ScriptedRunner

BACKENDS = {
    "local": lambda: LocalExecutor(2),
    "inprocess": lambda: InProcessExecutor(redirect_output=True),
    "ray": lambda: RayExecutor(2),
}


@pytest.fixture(params=sorted(BACKENDS))
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A started executor of each backend; the contract tests run once per backend."""
    if request.param == "ray":
        request.getfixturevalue("ray_instance")  # the Ray instance all Ray tests share
    with BACKENDS[request.param]() as executor:
        executor.start(ScriptedRunner())
        yield executor


@pytest.fixture
def local() -> Iterator[LocalExecutor]:
    """A started two-worker pool."""
    with LocalExecutor(2) as executor:
        executor.start(ScriptedRunner())
        yield executor
