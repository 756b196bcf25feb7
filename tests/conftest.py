"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from raytools import INIT_ARGS, short_tmpdir


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[Any]:
    """One local Ray instance (2 CPUs, loopback only) for the tests that only need a cluster.

    Tests of how an experiment starts and stops its *own* instance run their driver in a
    subprocess instead (see ``tests/raytools.py``).
    """
    ray = pytest.importorskip("ray")
    from retiarii.execution.ray_executor import connect, stop_watchdog

    tmp = short_tmpdir()
    home = os.environ.get("HOME")
    os.environ["HOME"] = tmp  # Ray writes ~/.ray/auth_token when it starts
    try:
        connect(ray, None, {**INIT_ARGS, "_temp_dir": tmp}, loopback=True)
    finally:
        if home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = home
    yield ray
    ray.shutdown()
    stop_watchdog()
    shutil.rmtree(tmp, ignore_errors=True)
