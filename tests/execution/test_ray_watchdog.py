"""The watchdog of a local Ray instance, without Ray: it stops the processes carrying its token.

A driver subprocess starts a watchdog and two processes in sessions of their own: one with the
watchdog's token in its environment (as the processes of the Ray instance have), whose child lost
the token (as Ray's agents do when they rename themselves), and one without (as a cluster the
experiment did not start). The first and its child must go when the driver is SIGKILLed or stops
the watchdog; the other must stay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retiarii.execution.ray_watchdog import TOKEN_ENV, instance_processes

from .support import is_running, wait_until

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds processes in /proc")

DRIVER = """
import os, subprocess, sys, time
from retiarii.execution.ray_watchdog import TOKEN_ENV, Watchdog
watchdog = Watchdog()
# a marked process with a child that lost the token (as a Ray agent does with setproctitle)
script = f"env -u {TOKEN_ENV} sleep 300 & wait"
marked = subprocess.Popen(["sh", "-c", script], env={**os.environ, TOKEN_ENV: watchdog.token},
                          start_new_session=True)
other = subprocess.Popen(["sleep", "300"], start_new_session=True)
print(watchdog.token, watchdog.pid, marked.pid, other.pid, flush=True)
if sys.argv[1] == "stop" and sys.stdin.readline():
    watchdog.stop()
    print("stopped", flush=True)
time.sleep(300)
"""


def start(mode: str) -> tuple[subprocess.Popen[str], str, int, int, int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert driver.stdout is not None
    token, *pids = driver.stdout.readline().split()
    watchdog, marked, other = map(int, pids)
    return driver, token, watchdog, marked, other


def sleeping_child(token: str, marked: int) -> int | None:
    """The marked process's child once it runs ``sleep`` (forked, it still has the token)."""
    for pid in instance_processes(token):
        try:
            with open(f"/proc/{pid}/comm") as file:
                if pid != marked and file.read().strip() == "sleep":
                    return pid
        except OSError:
            continue
    return None


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(is_running(pid) for pid in pids)


@pytest.mark.parametrize("mode", ["sigkill", "stop"])
def test_the_watchdog_stops_the_marked_processes_only(mode: str) -> None:
    driver, token, watchdog, marked, other = start(mode)
    grandchild = None
    try:
        assert wait_until(lambda: sleeping_child(token, marked) is not None)
        grandchild = sleeping_child(token, marked)
        assert grandchild is not None and set(instance_processes(token)) == {marked, grandchild}
        with open(f"/proc/{grandchild}/environ", "rb") as file:
            assert TOKEN_ENV.encode() not in file.read()
        if mode == "sigkill":
            os.kill(driver.pid, signal.SIGKILL)
        else:
            assert driver.stdin is not None and driver.stdout is not None
            driver.stdin.write("stop\n")
            driver.stdin.flush()
            assert driver.stdout.readline().strip() == "stopped"
        assert gone_within([marked, grandchild, watchdog], 10)
        assert is_running(other)
        assert instance_processes(token) == []
    finally:
        for pid in (marked, grandchild, other, driver.pid):
            if pid is None:
                continue
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        driver.wait()
        for stream in (driver.stdin, driver.stdout):
            if stream is not None:
                stream.close()


def test_without_proc_the_watchdog_uses_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no /proc (macOS), psutil (Ray's own copy will do) finds the same processes."""
    import retiarii.execution.ray_watchdog as watchdog

    if watchdog._psutil() is None:
        pytest.skip("neither psutil nor ray is installed")
    monkeypatch.setattr(watchdog, "_HAS_PROC", False)
    token = "psutil-test"
    marked = subprocess.Popen(
        ["sh", "-c", f"env -u {TOKEN_ENV} sleep 300 & wait"],
        env={**os.environ, TOKEN_ENV: token},
        start_new_session=True,
    )
    try:
        tracker = watchdog.Tracker(token)
        assert wait_until(lambda: sleeping_child(token, marked.pid) is not None)
        assert len(tracker.update()) == 2
        found = watchdog.sweep(tracker)
        assert marked.pid in found and len(found) == 2
        assert gone_within(found, 5)
    finally:
        if is_running(marked.pid):
            marked.kill()
        marked.wait()
