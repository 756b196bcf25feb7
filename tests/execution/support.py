"""Runners and helpers shared by the execution tests.

The runners live in an importable module (not in a test file) so that cloudpickle sends them by
reference and the workers import them, as they would import a user's own module.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

from retiarii.execution import Event, Executor, is_terminal
from retiarii.reporting import report_final_result, report_intermediate_result


class ScriptedRunner:
    """Does what the sample says, so one runner covers every behaviour under test.

    Sample keys (all optional): ``sleep`` (seconds), ``print`` (text for stdout and stderr),
    ``steps`` (intermediate results 0..steps-1, ``step_sleep`` seconds apart), ``final`` (reported), ``returns`` (returned),
    ``raise`` (message of a ValueError), ``interrupt`` (message of a KeyboardInterrupt), ``allocate_mb`` (hold that much memory for ``hold`` s),
    ``pid`` (report the worker's pid as the final result), ``exit_code`` (``os._exit``), ``signal`` (sent to itself),
    ``segfault``, ``child_sleep`` (start a child process sleeping that long and record its pid).
    """

    def setup(self) -> None:
        self.trials_run = 0

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        self.trials_run += 1
        if "print" in sample:
            print(f"stdout: {sample['print']}")
            print(f"stderr: {sample['print']}", file=sys.stderr)
        for step in range(sample.get("steps", 0)):
            time.sleep(sample.get("step_sleep", 0.0))
            report_intermediate_result(float(step))
        if "child_sleep" in sample:
            child = subprocess.Popen(["sleep", str(sample["child_sleep"])])
            with open(os.path.join(trial_dir, "child.pid"), "w") as file:
                file.write(str(child.pid))
        if "sleep" in sample:
            time.sleep(sample["sleep"])
        if "exit_code" in sample:
            os._exit(sample["exit_code"])
        if "signal" in sample:
            os.kill(os.getpid(), getattr(signal, sample["signal"]))
        if sample.get("segfault"):
            ctypes.string_at(0)
        if "raise" in sample:
            raise ValueError(sample["raise"])
        if "interrupt" in sample:
            raise KeyboardInterrupt(sample["interrupt"])
        if "allocate_mb" in sample:  # hold that much resident memory for a while
            hog = bytearray(sample["allocate_mb"] * 2**20)
            for i in range(0, len(hog), 4096):
                hog[i] = 1
            time.sleep(sample.get("hold", 1.0))
        if sample.get("pid"):
            report_final_result(float(os.getpid()))
        if "final" in sample:
            report_final_result(sample["final"])
        return sample.get("returns")


class EnvRunner:
    """Reports what the worker's environment looks like."""

    def setup(self) -> None:
        pass

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        return {
            "default": 0.0,
            "pid": os.getpid(),
            "omp": os.environ.get("OMP_NUM_THREADS"),
            "mkl": os.environ.get("MKL_NUM_THREADS"),
            "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }


class CountingSetupRunner:
    """Appends a line to ``path`` on every ``setup()``: shows how often workers set up."""

    def __init__(self, path: str) -> None:
        self.path = path

    def setup(self) -> None:
        with open(self.path, "a") as file:
            file.write(f"{os.getpid()}\n")

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        return float(os.getpid())


class FailingSetupRunner:
    """``setup()`` raises once the file ``flag`` exists (right away if it exists at start)."""

    def __init__(self, flag: str, attempts: str) -> None:
        self.flag = flag
        self.attempts = attempts

    def setup(self) -> None:
        with open(self.attempts, "a") as file:
            file.write("x\n")
        if os.path.exists(self.flag):
            raise RuntimeError("setup cannot reach the dataset")

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        if sample.get("crash"):
            os._exit(1)
        return 1.0


def _refuse_to_unpickle() -> None:
    raise ImportError("this runner cannot be loaded here")


class UnpicklableRunner:
    """Pickles fine in the driver, but raises when the worker unpickles it."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _refuse_to_unpickle, ()

    def setup(self) -> None:
        pass

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        return None


def run_until_done(
    executor: Executor, trial_ids: set[int] | None = None, timeout: float = 30.0
) -> dict[int, list[Event]]:
    """Poll until every trial in ``trial_ids`` (default: all running) had its terminal event."""
    waiting = set(executor.running() if trial_ids is None else trial_ids)
    events: dict[int, list[Event]] = {}
    deadline = time.monotonic() + timeout
    while waiting:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"trials {sorted(waiting)} did not finish within {timeout} s"
        for event in executor.poll(remaining):
            events.setdefault(event.trial_id, []).append(event)
            if is_terminal(event):
                waiting.discard(event.trial_id)
    return events


def wait_for_start(executor: Executor, trial_id: int, timeout: float = 30.0) -> list[Event]:
    """Poll until ``trial_id`` started; return every event seen meanwhile."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while not any(e.trial_id == trial_id and type(e).__name__ == "TrialStarted" for e in seen):
        assert time.monotonic() < deadline, f"trial {trial_id} did not start"
        seen.extend(executor.poll(0.1))
    return seen


def child_pids() -> set[int]:
    """Pids of this process's children, zombies included (read from /proc)."""
    me, children = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            children.add(int(entry))
    return children


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition: Any, timeout: float = 10.0) -> bool:
    """Poll ``condition()`` until true or ``timeout``; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class BlobRunner:
    """Carries ``size`` bytes of state to every worker; reports how many arrived."""

    def __init__(self, size: int) -> None:
        self.blob = os.urandom(size)

    def setup(self) -> None:
        pass

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        return float(len(self.blob))


def _exit_now() -> None:
    os._exit(3)


class KillsTheWorkerOnArrival:
    """Put in a sample: the worker that unpickles it dies before the trial can start."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _exit_now, ()
