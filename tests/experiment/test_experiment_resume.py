"""Resume: after the driver is SIGKILLed, and after exp.stop()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store import TrialRecord
from retiarii.strategy import sample_key

from .helpers import (
    Background,
    children_of,
    counted,
    experiment_dir,
    make_config,
    open_reader,
    pid_alive,
    wait_for,
)
from .resume_driver import MAX_TRIALS
from .spaces import WideNet, sleepy_width

TESTS_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _check_resumed(before: list[TrialRecord], after: list[TrialRecord], budget: int) -> None:
    """The invariants of a resume, given the trials before and after it."""
    cut_short = [t for t in before if t.status == "INTERRUPTED" or not t.finished]
    assert cut_short, "nothing was running when the experiment stopped; the test proves nothing"
    by_id = {t.id: t for t in after}
    # finished trials are untouched
    for trial in before:
        if trial.finished:
            assert by_id[trial.id] == trial
    # interrupted trials ran again, once each, with the same sample
    for trial in cut_short:
        assert by_id[trial.id].status == "INTERRUPTED"
        reruns = [t for t in after if t.resumed_from == trial.id]
        assert len(reruns) == 1, (trial, reruns)
        assert reruns[0].sample == trial.sample
        assert reruns[0].status == "SUCCEEDED"
    # exactly the budget, no sample twice
    done = counted(after)
    assert len(done) == budget
    assert all(t.status == "SUCCEEDED" for t in done)
    assert len({sample_key(t.sample) for t in done}) == budget, [t.sample for t in done]


def test_resume_after_the_driver_is_killed(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR), *sys.path]))
    driver = subprocess.Popen(
        [sys.executable, "-m", "experiment.resume_driver", str(tmp_path)],
        cwd=TESTS_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        directory = wait_for(lambda: experiment_dir(tmp_path), 60, "the experiment directory")
        store = wait_for(lambda: open_reader(directory), 30, "the store")

        def ready() -> bool:
            counts = store.counts()
            return counts["SUCCEEDED"] >= 3 and counts["RUNNING"] >= 1

        wait_for(ready, 90, "3 finished trials and 1 running", every=0.02)
        workers = children_of(driver.pid)
        driver.kill()
        driver.wait(10)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        driver.stderr.close()
    assert driver.returncode == -signal.SIGKILL
    assert len(workers) == 2
    # the workers notice that the driver is gone and exit by themselves
    deadline = time.monotonic() + 5
    while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    leftover = [pid for pid in workers if pid_alive(pid)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert not leftover, "workers outlived their driver by 5 s"

    before = store.trials()
    assert store.experiment().status == "running"  # nobody could record the end
    exp = RetiariiExperiment.resume(directory)
    after = exp.list_trial_jobs()
    _check_resumed(before, after, MAX_TRIALS)
    assert exp.get_status() == "DONE"
    assert store.experiment().status == "done"
    store.close()


def test_stop_from_another_thread_then_resume(tmp_path) -> None:
    exp = RetiariiExperiment(
        WideNet(),
        FunctionalEvaluator(sleepy_width, seconds=0.5),
        None,
        strategy.GridSearch(shuffle=False),
    )
    run = Background(exp.run, make_config(tmp_path, trial_concurrency=2, max_trial_number=8))
    directory = wait_for(lambda: experiment_dir(tmp_path), 60, "the experiment directory")
    reader = wait_for(lambda: open_reader(directory), 30, "the store")
    wait_for(
        lambda: reader.counts()["SUCCEEDED"] >= 3 and reader.counts()["RUNNING"] >= 1,
        90,
        "3 finished trials and 1 running",
        every=0.02,
    )
    exp.stop()
    run.join(30)
    assert exp.get_status() == "STOPPED"
    assert exp.store.experiment().status == "stopped"
    assert exp.store.experiment().info["end_reason"] == "stopped by request"
    before = exp.list_trial_jobs()
    interrupted = [t for t in before if t.status == "INTERRUPTED"]
    assert interrupted
    assert all("stopped by request" in t.error for t in interrupted)
    assert not [t for t in before if not t.finished]

    exp.store.close()  # only one writer: hand the store over to the resumed experiment
    resumed = RetiariiExperiment.resume(directory)
    after = resumed.list_trial_jobs()
    _check_resumed(before, after, 8)
    # GridSearch continues where it was: the first 8 grid samples, each once
    assert sorted(t.sample["width"] for t in counted(after)) == list(range(1, 9))
    assert resumed.get_status() == "DONE"
    reader.close()
