"""The watchdog of a local Ray instance, without Ray: it stops the processes carrying its token.

A driver subprocess starts a watchdog and two ``sleep`` processes in sessions of their own, one
with the watchdog's token in its environment (as every process of the Ray instance has), one
without (as a cluster the experiment did not start). The token's process must go when the driver
is SIGKILLed or stops the watchdog; the other must stay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retiarii.execution.ray_watchdog import instance_processes

from .support import is_running

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds processes in /proc")

DRIVER = """
import os, subprocess, sys, time
from retiarii.execution.ray_watchdog import TOKEN_ENV, Watchdog
watchdog = Watchdog()
marked = subprocess.Popen(["sleep", "300"], env={**os.environ, TOKEN_ENV: watchdog.token},
                          start_new_session=True)
other = subprocess.Popen(["sleep", "300"], start_new_session=True)
print(watchdog.token, watchdog.pid, marked.pid, other.pid, flush=True)
if sys.argv[1] == "stop":
    watchdog.stop()
    print("stopped", flush=True)
time.sleep(300)
"""


def start(mode: str) -> tuple[subprocess.Popen[str], str, int, int, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, mode], stdout=subprocess.PIPE, text=True, env=env
    )
    assert driver.stdout is not None
    token, *pids = driver.stdout.readline().split()
    watchdog, marked, other = map(int, pids)
    return driver, token, watchdog, marked, other


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(is_running(pid) for pid in pids)


@pytest.mark.parametrize("mode", ["sigkill", "stop"])
def test_the_watchdog_stops_the_marked_processes_only(mode: str) -> None:
    driver, token, watchdog, marked, other = start(mode)
    try:
        assert instance_processes(token) == [marked]
        if mode == "sigkill":
            os.kill(driver.pid, signal.SIGKILL)
        else:
            assert driver.stdout is not None and driver.stdout.readline().strip() == "stopped"
        assert gone_within([marked, watchdog], 10)
        assert is_running(other)
        assert instance_processes(token) == []
    finally:
        for pid in (marked, other, driver.pid):
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        driver.wait()
        if driver.stdout is not None:
            driver.stdout.close()
