"""Experiments on Ray: seed 002 with only the config changed, Ctrl-C, resume, nothing left behind.

Each experiment runs in a driver subprocess that starts (and must stop) its own local Ray
instance: loopback only, its files in a temporary folder, every process marked through its
environment so that the test can find anything left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection
from pathlib import Path

import pytest

from raytools import (
    listening_addresses,
    processes_with_marker,
    processes_with_marker_and_children,
    short_tmpdir,
    subprocess_env,
)
from signals import default_sigint

from .helpers import experiment_dir, open_reader, wait_for
from .ray_driver import MAX_TRIALS
from .test_experiment_resume import _check_resumed

pytest.importorskip("ray")

TESTS_DIR = Path(__file__).resolve().parents[1]
LOOPBACK = {  # 127.0.0.1, ::1, and ::ffff:127.0.0.1 (IPv4 loopback on an IPv6 socket)
    "127.0.0.1",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "0000:0000:0000:0000:0000:ffff:7f00:0001",
}

pytestmark = pytest.mark.slow


def start_driver(what: str, target: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m experiment.ray_driver WHAT TARGET`` in its own session (a terminal's job)."""
    return subprocess.Popen(
        [sys.executable, "-m", "experiment.ray_driver", what, str(target)],
        cwd=TESTS_DIR,
        env={**env, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), *sys.path])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,  # Ctrl-C works even when the tests run in the background
    )


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_nothing_left(marker: str, seen: Collection[int] = ()) -> None:
    """Every process the driver started (Ray's included) is gone within a few seconds.

    ``seen``: pids found while the driver ran, with :func:`processes_with_marker_and_children`
    (Ray's agents may no longer show the marker, and lose their parent when the raylet ends).
    """

    def left() -> list[tuple[int, str]]:
        found = dict(processes_with_marker(marker))
        found.update((pid, "?") for pid in seen if is_running(pid))
        return sorted(found.items())

    deadline = time.monotonic() + 10
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    remaining = left()
    for pid, _ in remaining:
        os.kill(pid, signal.SIGKILL)
    assert not remaining, f"still running after the experiment: {remaining}"


def test_seed_002_quick_start_runs_on_ray_with_only_the_config_changed(tmp_path: Path) -> None:
    tmp = short_tmpdir()
    env = subprocess_env(tmp)
    marker = env["RETIARII_TEST_MARKER"]
    driver = start_driver("quickstart", tmp_path, env)
    addresses: set[str] = set()
    names: set[str] = set()
    seen: set[int] = set()
    try:
        while driver.poll() is None:
            found = processes_with_marker_and_children(marker)
            seen.update(pid for pid, _ in found)
            names.update(name for _, name in found)
            addresses |= listening_addresses([pid for pid, _ in found])
            time.sleep(0.2)
        out, err = driver.communicate(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.communicate()
    assert driver.returncode == 0, err[-4000:]
    assert {"raylet", "gcs_server"} <= names, names  # Ray really ran under the experiment
    assert addresses and addresses <= LOOPBACK, addresses
    assert_nothing_left(marker, seen)

    exported = json.loads(out.strip().splitlines()[-1])
    assert len(exported) == 2 and all(set(m) == {"hidden", "act"} for m in exported)
    store = open_reader(experiment_dir(tmp_path))
    assert store is not None
    trials = store.trials()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 4
    assert all(t.worker and t.worker.startswith("ray-") for t in trials)
    assert all(len(store.intermediates(t.id)) == 5 for t in trials)  # streamed from the actors
    assert (
        "accuracy" in (tmp_path / store.experiment().id / "trials" / "1" / "trial.log").read_text()
    )
    assert store.experiment().status == "done"
    assert store.experiment().config["training_service_platform"] == "ray"
    store.close()


def test_ctrl_c_stops_a_ray_experiment_cleanly_and_resume_finishes_it(tmp_path: Path) -> None:
    tmp = short_tmpdir()
    env = subprocess_env(tmp)
    driver = start_driver("resume-me", tmp_path, env)
    try:
        directory = wait_for(lambda: experiment_dir(tmp_path), 90, "the experiment directory")
        store = wait_for(lambda: open_reader(directory), 30, "the store")

        def ready() -> bool:
            counts = store.counts()
            return counts["SUCCEEDED"] >= 2 and counts["RUNNING"] >= 1

        wait_for(ready, 120, "2 finished trials and 1 running", every=0.02)
        seen = [pid for pid, _ in processes_with_marker_and_children(env["RETIARII_TEST_MARKER"])]
        os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        _, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.communicate()
    assert driver.returncode == 0, err[-4000:]
    assert_nothing_left(env["RETIARII_TEST_MARKER"], seen)
    before = store.trials()
    assert store.experiment().status == "stopped"
    assert "INTERRUPTED" in {t.status for t in before}
    assert all(t.finished for t in before)  # nothing left RUNNING in the store

    env = subprocess_env(tmp)  # a new driver, a new Ray instance
    resumed = start_driver("resume", directory, env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-4000:]
    assert_nothing_left(env["RETIARII_TEST_MARKER"])
    _check_resumed(before, store.trials(), MAX_TRIALS)
    assert store.experiment().status == "done"
    store.close()


def test_the_demo_runs_on_ray(tmp_path: Path) -> None:
    from retiarii.data import default_mnist_root

    if not any(default_mnist_root().glob("t10k-images*")):
        pytest.skip("MNIST is not in ../shared/data/mnist")
    tmp = short_tmpdir()
    env = subprocess_env(tmp)
    demo = TESTS_DIR.parent / "examples" / "demo.py"
    args = ["--platform", "ray", "--trials", "2", "--train-size", "500", "--port", "0"]
    result = subprocess.run(
        [sys.executable, str(demo), *args, "--keep-open", "0", "--workdir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "best architectures:" in result.stdout
    assert "with fixed_arch(" in result.stdout
    assert_nothing_left(env["RETIARII_TEST_MARKER"])
    store = open_reader(experiment_dir(tmp_path))
    assert store is not None
    assert [t.status for t in store.trials()] == ["SUCCEEDED", "SUCCEEDED"]
    store.close()


def test_a_killed_ray_worker_is_retried_and_the_experiment_goes_on(
    tmp_path: Path, ray_instance: object
) -> None:
    import retiarii.strategy as strategy
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

    from .spaces import ModeNet, crash_first_attempt

    flags = tmp_path / "flags"
    flags.mkdir()
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(crash_first_attempt, flags=str(flags), modes=[3]),
        None,
        strategy.GridSearch(shuffle=False),
    )
    config = RetiariiExeConfig("ray", trial_concurrency=2, max_trial_number=4)
    config.max_trial_retries = 1
    config.experiment_working_directory = str(tmp_path / "experiments")
    exp.run(config)  # on the Ray instance this process is connected to (left running)
    trials = exp.list_trial_jobs()
    (crashed,) = [t for t in trials if t.status == "FAILED"]
    assert crashed.sample == {"mode": 3} and "Ray actor running the trial died" in crashed.error
    (retry,) = [t for t in trials if t.resumed_from == crashed.id]
    assert retry.status == "SUCCEEDED" and retry.final_value == 3.0
    assert sorted(t.sample["mode"] for t in trials if t.status == "SUCCEEDED") == [1, 2, 3, 4]
    assert ray_instance.is_initialized()  # type: ignore[attr-defined]
    exp.close()


def test_a_sigkilled_driver_leaves_nothing_of_its_ray_instance_within_10_s(
    tmp_path: Path,
) -> None:
    tmp = short_tmpdir()
    env = subprocess_env(tmp)
    marker = env["RETIARII_TEST_MARKER"]
    driver = start_driver("kill-me", tmp_path, env)
    instance: dict[int, str] = {}
    try:
        directory = wait_for(lambda: experiment_dir(tmp_path), 90, "the experiment directory")
        store = wait_for(lambda: open_reader(directory), 30, "the store")
        wait_for(lambda: store.counts()["RUNNING"] >= 1, 120, "a running trial", every=0.05)

        def all_there() -> bool:
            # the agents are what used to linger (60 s); the actors run the trials
            instance.update(processes_with_marker_and_children(marker))
            names = set(instance.values())
            wanted = {"raylet", "gcs_server", "ray::DashboardA", "ray::RuntimeEnv"}
            return wanted <= names and any(n.startswith("ray::TrialActor") for n in names)

        wait_for(all_there, 60, "the Ray processes, agents and actors included")
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone, as the OOM killer would
        driver.wait(timeout=30)
        killed = time.monotonic()
        while time.monotonic() - killed < 10:
            left = {pid for pid in instance if is_running(pid)}
            left |= {pid for pid, _ in processes_with_marker_and_children(marker)}
            if not left:
                break
            time.sleep(0.1)
        left_names = {pid: instance.get(pid, "?") for pid in left}
        assert not left, f"still running 10 s after the driver was killed: {left_names}"
    finally:
        for pid, _ in processes_with_marker_and_children(marker):
            os.kill(pid, signal.SIGKILL)
        for pid in instance:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        for stream in (driver.stdout, driver.stderr):
            if stream is not None:
                stream.close()
    store.close()
