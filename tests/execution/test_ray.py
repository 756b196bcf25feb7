"""What only the Ray backend does: actors that die, nodes that are lost, resources, files.

The contract every backend keeps (events, cancel, shutdown, setup errors) is checked for Ray too,
in ``test_contract.py``. These tests share one local Ray instance (2 CPUs, loopback only).
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retiarii.execution import ExecutorError, RunnerSetupError, TrialFailed, TrialSucceeded
from retiarii.execution.ray_executor import RayExecutor

from .support import (
    EnvRunner,
    KillsTheWorkerOnArrival,
    ScriptedRunner,
    UnpicklableRunner,
    is_running,
    run_until_done,
    wait_for_start,
    wait_until,
)

TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def ray_pool(ray_instance: Any) -> Iterator[RayExecutor]:
    """Two actors on the shared instance, running :class:`ScriptedRunner`."""
    with RayExecutor(2, trial_timeout=20) as executor:
        executor.start(ScriptedRunner())
        yield executor


def actor_pid(worker: str) -> int:
    """The pid in a ``ray-<host>:<pid>`` worker name."""
    return int(worker.rsplit(":", 1)[1])


def test_a_killed_ray_worker_fails_only_its_trial(ray_pool: RayExecutor, tmp_path: Path) -> None:
    ray_pool.submit(1, {"sleep": 30, "print": "about to be killed"}, str(tmp_path / "1"))
    ray_pool.submit(2, {"sleep": 1, "final": 0.5}, str(tmp_path / "2"))
    started = next(e for e in wait_for_start(ray_pool, 1) if e.trial_id == 1)
    log = tmp_path / "1" / "trial.log"
    assert wait_until(lambda: log.exists() and "about to be killed" in log.read_text())
    victim = actor_pid(started.worker)
    os.kill(victim, signal.SIGKILL)
    events = run_until_done(ray_pool, {1, 2})
    failed = events[1][-1]
    assert isinstance(failed, TrialFailed) and failed.reason == "crashed"
    assert "actor running the trial died" in failed.error
    assert "about to be killed" in failed.error  # the end of its trial.log
    assert isinstance(events[2][-1], TrialSucceeded)
    # the slot got a new actor, and the experiment goes on
    ray_pool.submit(3, {"final": 1.0}, str(tmp_path / "3"))
    later = run_until_done(ray_pool, {3})[3]
    assert isinstance(later[-1], TrialSucceeded)
    assert actor_pid(later[0].worker) != victim


def test_an_actor_that_died_while_idle_does_not_fail_the_next_trial(
    ray_instance: Any, tmp_path: Path
) -> None:
    with RayExecutor(1) as executor:
        executor.start(ScriptedRunner())
        executor.submit(1, {}, str(tmp_path / "1"))
        pid = actor_pid(run_until_done(executor)[1][0].worker)
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not is_running(pid))
        executor.submit(2, {"final": 2.0}, str(tmp_path / "2"))
        events = run_until_done(executor)[2]
    assert [type(e).__name__ for e in events] == ["TrialStarted", "FinalMetric", "TrialSucceeded"]


def test_a_trial_that_kills_every_actor_before_it_starts_fails_after_three(
    ray_instance: Any, tmp_path: Path
) -> None:
    with RayExecutor(1) as executor:
        executor.start(ScriptedRunner())
        executor.submit(1, {"poison": KillsTheWorkerOnArrival()}, str(tmp_path / "1"))
        events = run_until_done(executor, timeout=90)[1]
        assert [type(e).__name__ for e in events] == ["TrialFailed"]
        assert events[0].reason == "crashed"
        assert "3 Ray actors died before the trial could start" in events[0].error
        executor.submit(2, {"final": 1.0}, str(tmp_path / "2"))  # the slot still works
        assert isinstance(run_until_done(executor)[2][-1], TrialSucceeded)


def test_timeout_and_cancel_kill_the_actor_and_replace_it(
    ray_instance: Any, tmp_path: Path
) -> None:
    with RayExecutor(2, trial_timeout=1.5) as executor:
        executor.start(ScriptedRunner())
        executor.submit(1, {"sleep": 30}, str(tmp_path / "1"))
        executor.submit(2, {"sleep": 30}, str(tmp_path / "2"))
        wait_for_start(executor, 2)
        executor.cancel(2)
        events = run_until_done(executor, {1, 2})
        assert events[1][-1].reason == "timeout" and "trial_timeout=1.5" in events[1][-1].error
        assert events[2][-1].reason == "canceled"
        executor.submit(3, {"final": 3.0}, str(tmp_path / "3"))
        assert isinstance(run_until_done(executor)[3][-1], TrialSucceeded)


def test_a_trial_sees_only_the_resources_it_asked_for(ray_instance: Any, tmp_path: Path) -> None:
    with RayExecutor(1, cpus_per_trial=2) as executor:
        executor.start(EnvRunner())
        executor.submit(1, {}, str(tmp_path / "1"))
        final = [e for e in run_until_done(executor)[1] if type(e).__name__ == "FinalMetric"]
    env = final[0].metric
    assert env["cuda"] == ""  # asked for no GPU: sees none
    assert env["omp"] == env["mkl"] == "2"


def test_a_trial_nobody_can_place_is_a_clear_error(ray_instance: Any) -> None:
    executor = RayExecutor(1, gpus_per_trial=1, start_timeout=2)
    with pytest.raises(ExecutorError, match=r"1 GPUs free"):
        executor.start(ScriptedRunner())
    assert executor.running() == set()


def test_a_runner_the_actor_cannot_unpickle_names_the_cause(ray_instance: Any) -> None:
    executor = RayExecutor(1)
    with pytest.raises(RunnerSetupError, match="could not unpickle") as info:
        executor.start(UnpicklableRunner())
    assert "this runner cannot be loaded here" in str(info.value)


def test_files_of_a_trial_on_another_node_come_back(ray_instance: Any, tmp_path: Path) -> None:
    # copy_trial_files=True does what happens on a remote node, where it is the default
    with RayExecutor(1, copy_trial_files=True) as executor:
        executor.start(ScriptedRunner())
        executor.submit(4242, {"print": "written on the node"}, str(tmp_path / "t"))
        assert isinstance(run_until_done(executor)[4242][-1], TrialSucceeded)
    assert "stdout: written on the node" in (tmp_path / "t" / "trial.log").read_text()
    assert not glob.glob(os.path.join("/tmp", "retiarii-trial-4242-*"))  # scratch removed


def test_ray_missing_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"-m pip install -e .*\[ray\]"):
        RayExecutor(1).start(ScriptedRunner())


@pytest.mark.slow
def test_a_lost_node_fails_its_trial_and_a_new_node_takes_over(tmp_path: Path) -> None:
    from raytools import short_tmpdir, subprocess_env

    tmp = short_tmpdir()
    # A cluster's nodes import the runner's module by name: here it is on their PYTHONPATH.
    env = {**subprocess_env(tmp), "PYTHONPATH": str(TESTS_DIR)}
    result = subprocess.run(
        [sys.executable, str(TESTS_DIR / "execution" / "ray_lost_node.py"), tmp],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["lost"]["reason"] == "crashed"
    assert "it ran on another node" in report["lost"]["error"]
    assert report["next"] == ["TrialStarted", "FinalMetric", "TrialSucceeded"]
    assert "stdout: on the new node" in report["next_log"]  # copied back from the node
