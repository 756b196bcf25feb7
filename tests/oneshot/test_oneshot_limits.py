"""A one-shot experiment honours the experiment's limits and stop: ``max_experiment_duration``, the
dashboard's Stop, ``exp.stop()`` and Ctrl-C end the search after the current training step (not
only at an epoch's end), the architecture found so far is the experiment's result, the status
and reason say why it ended (as multi-trial's do), and the checkpoint stays the last finished
epoch's, so a resume behaves as multi-trial's does.

A forward pass that sleeps (``resume_search.SLOW``) makes the steps slow enough to hit a limit of
about a second deterministically.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch.nn.functional as F

pytest.importorskip("lightning")

import retiarii.evaluator.pytorch.lightning as pl
import retiarii.strategy as strategy
from experiment.helpers import Background, dashboard_url, get_json, http, wait_for
from retiarii import ModelSpace
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.oneshot.pytorch import DartsTrainer
from retiarii.store import ExperimentStore, StoreError
from signals import default_sigint

from . import resume_search
from .helpers import UsefulOrZero, accuracy, separable, sgd

ROOT = Path(__file__).resolve().parents[2]
DURATION = "max_experiment_duration reached"
STEPS_PER_EPOCH = 8  # resume_search: 256 examples, batches of 32


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def slow() -> Iterator[dict[str, float]]:
    """``slow["seconds"] = s``: every forward pass of ``resume_search.Space`` sleeps ``s``."""
    try:
        yield resume_search.SLOW
    finally:
        resume_search.SLOW["seconds"] = 0.0


def config(directory: Path, **kwargs: object) -> RetiariiExeConfig:
    return RetiariiExeConfig(experiment_working_directory=str(directory), **kwargs)


def evaluator(max_epochs: int = 5) -> pl.Classification:
    data = separable(n=256)
    return pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.05,
        max_epochs=max_epochs,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
    )


def steps_logged(store: ExperimentStore) -> list[int]:
    return [p.step for p in store.series("loss/step")]


def test_the_time_limit_stops_darts_mid_epoch_and_keeps_the_architecture(home, slow):
    slow["seconds"] = 0.1  # a DARTS step (architecture + weights) takes about 0.2 s
    exp = RetiariiExperiment(resume_search.Space(), evaluator(), None, strategy.DARTS())
    exp.run(config(home, max_experiment_duration=0.6))

    record = exp.store.experiment()
    assert exp.get_status() == "DONE" and record.info["end_reason"] == DURATION
    # the first epoch (8 steps, about 1.6 s) never ended: stopped at a step boundary
    assert "loss" not in exp.store.series_names() and not exp.store.series("arch_prob/op")
    assert 1 <= max(steps_logged(exp.store)) < STEPS_PER_EPOCH
    assert 0.6 <= record.info["duration"] < 0.6 + 1.5
    [trial] = exp.list_trial_jobs()
    assert trial.status == "SUCCEEDED" and trial.final is None  # no epoch: no metric, not 0
    assert exp.export_top_models() == [trial.sample]
    assert ModelSpace(resume_search.Space()).validate(trial.sample) == trial.sample
    assert exp.experiment_dir is not None
    assert not (exp.experiment_dir / "oneshot" / "last.ckpt").exists()  # no epoch finished
    exp.close()


def test_the_time_limit_stops_a_classic_trainer_mid_epoch(home):
    def slow_loss(logits, target):
        time.sleep(0.05)
        return F.cross_entropy(logits, target)

    model = UsefulOrZero()
    trainer = DartsTrainer(model, slow_loss, accuracy, sgd(model), 3, separable(n=512),
                           batch_size=32)  # fmt: skip
    exp = RetiariiExperiment(model, trainer)
    exp.run(config(home, max_experiment_duration=0.4))
    # 8 steps of about 0.1 s per epoch: stopped within the first
    assert trainer.history == [] and 1 <= trainer.global_step < 8
    assert exp.store.experiment().info["end_reason"] == DURATION
    assert exp.export_top_models() == [trainer.export()]
    assert exp.list_trial_jobs()[0].final_value is None


def test_spos_stopped_mid_epoch_still_searches_and_exports(home, slow):
    slow["seconds"] = 0.1
    search = strategy.RandomOneShot(
        population_size=2, evolution_cycles=0, bn_recalibration_batches=1, eval_batches=1, seed=0
    )
    exp = RetiariiExperiment(resume_search.Space(), evaluator(), None, search)
    exp.run(config(home, max_experiment_duration=0.5))
    assert exp.store.experiment().info["end_reason"] == DURATION
    assert max(steps_logged(exp.store)) < STEPS_PER_EPOCH
    [trial] = exp.list_trial_jobs()  # the search phase ran on the supernet trained so far
    assert ModelSpace(resume_search.Space()).validate(trial.sample) == trial.sample


def test_the_time_limit_cuts_the_spos_search_phase_short(home, slow):
    slow["seconds"] = 0.03  # one epoch of about 0.3 s, then 0.06 s per subnet evaluated
    search = strategy.RandomOneShot(  # 220 subnets: the space's 4 samples drawn again and again
        search_strategy=strategy.Random(dedup=False, seed=0),
        bn_recalibration_batches=1,
        eval_batches=1,
    )
    exp = RetiariiExperiment(resume_search.Space(), evaluator(1), None, search)
    exp.run(config(home, max_experiment_duration=2.0))
    record = exp.store.experiment()
    assert record.info["end_reason"] == DURATION
    assert len(exp.store.series("metric/val_acc")) == 1  # the epoch ended: the search began
    # the whole search (20 * (1 + 10) subnets) would take about 13 s
    history = exp._oneshot_trainer.module.algorithm.history
    assert 1 <= len(history) < 20 * 11 and record.info["duration"] < 2.0 + 1.5
    [trial] = exp.list_trial_jobs()
    assert trial.sample == max(history, key=lambda item: item[1])[0]  # the best evaluated


def test_resume_after_the_time_limit_behaves_as_multi_trial(tmp_path, slow):
    reference = resume_search.run(str(tmp_path / "reference"))
    expected = reference.list_trial_jobs()[-1].sample
    expected_probs = [p.value for p in reference.store.series("arch_prob/op")]
    reference.close()

    slow["seconds"] = 0.03  # an epoch of about 0.6 s: the limit falls in a later epoch
    exp = resume_search.experiment()
    exp.run(config(tmp_path / "limited", execution_engine="oneshot", max_experiment_duration=1.2))
    assert exp.store.experiment().info["end_reason"] == DURATION
    epochs = len(exp.store.series("arch_prob/op"))
    assert 1 <= epochs < 5
    directory, steps = exp.experiment_dir, steps_logged(exp.store)
    exp.close()
    assert directory is not None and (directory / "oneshot" / "last.ckpt").is_file()

    # the same limit: nothing left to train, the result kept (multi-trial ends at once too)
    same = RetiariiExperiment.resume(directory)
    record = same.store.experiment()
    assert same.get_status() == "DONE" and record.info["end_reason"] == DURATION
    assert steps_logged(same.store) == steps and len(same.list_trial_jobs()) == 1
    first = same.list_trial_jobs()[0]
    assert first.final_value is not None  # its epochs ended: the last one's metric
    same.close()

    # a little more time, stopped before an epoch ends: its export, with no metric, is the
    # answer (a best-metric ranking would return the older one); the older stays recorded
    slow["seconds"] = 0.1  # an epoch of about 1.6 s
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        previous = store.experiment().info["duration"]
    little = config(tmp_path / "limited", max_experiment_duration=previous + 0.3)
    stopped = RetiariiExperiment.resume(directory, config=little)
    assert stopped.store.experiment().info["end_reason"] == DURATION
    older, newest = stopped.list_trial_jobs()
    assert older == first and newest.final is None and newest.final_value is None
    assert stopped.export_top_models() == [newest.sample]
    assert stopped.export_top_models(top_k=2) == [newest.sample, first.sample]
    stopped.close()

    # a larger limit: training goes on from the last finished epoch's checkpoint and ends with
    # the architecture (and probabilities) of a run that never stopped
    slow["seconds"] = 0.0
    longer = config(tmp_path / "limited", execution_engine="oneshot", max_experiment_duration=600)
    more = RetiariiExperiment.resume(directory, config=longer)
    assert more.store.experiment().info["end_reason"] == "search finished"
    assert more.list_trial_jobs()[-1].sample == expected
    assert more.export_top_models() == [expected] and len(more.list_trial_jobs()) == 3
    got = [p.value for p in more.store.series("arch_prob/op")]
    assert len(got) == len(expected_probs) == 5
    for a, b in zip(got, expected_probs):
        assert a == pytest.approx(b, abs=1e-6)
    more.close()


def test_the_dashboard_stop_button_stops_a_oneshot_search_at_a_step(home, slow, caplog):
    pytest.importorskip("fastapi")
    caplog.set_level(logging.INFO, logger="retiarii.experiment")
    slow["seconds"] = 0.1
    exp = RetiariiExperiment(resume_search.Space(), evaluator(50), None, strategy.DARTS())
    run = Background(exp.run, config(home), 0)
    try:
        url = wait_for(lambda: dashboard_url(caplog.records), 60, "the dashboard URL")
        wait_for(
            lambda: get_json(url + "/api/experiment")["oneshot_progress"]["step"], 60, "a step"
        )
        headers = {"Origin": url, "Sec-Fetch-Site": "same-origin"}  # what the page's button sends
        assert http(url + "/api/stop", "POST", headers)[0] == 200
        run.join(60)
    finally:
        exp.stop()
    record = exp.store.experiment()
    assert exp.get_status() == "STOPPED" and record.info["end_reason"] == "stopped by request"
    assert max(steps_logged(exp.store)) < STEPS_PER_EPOCH  # a step is 0.2 s, an epoch 1.6 s
    assert "loss" not in exp.store.series_names()
    assert len(exp.export_top_models()) == 1
    exp.close()


def _search_process(directory: Path, seconds: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.oneshot.limit_search", str(directory), str(seconds)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=default_sigint,
    )  # fmt: skip


def _wait_for_a_step(directory: Path, proc: subprocess.Popen[bytes]) -> Path:
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "no training step logged"
        for path in directory.glob("*/experiment.db"):
            try:
                with ExperimentStore(path, readonly=True) as store:
                    if steps_logged(store):
                        return path.parent
            except StoreError:  # being created
                pass
        time.sleep(0.05)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_a_oneshot_search_and_keeps_the_architecture(tmp_path, presses):
    # one press: stop after the current step (0.4 s); a second: interrupt the step (2 s) at once
    seconds = 0.2 if presses == 1 else 1.0
    proc = _search_process(tmp_path, seconds)
    try:
        directory = _wait_for_a_step(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        if presses == 2:
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0
    finally:
        proc.kill()
        proc.wait()
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        record = store.experiment()
        assert record.status == "stopped" and record.info["end_reason"] == "stopped by request"
        assert max(steps_logged(store)) < STEPS_PER_EPOCH and not store.series("arch_prob/op")
        [trial] = store.trials()
        assert trial.status == "SUCCEEDED" and trial.final is None
        assert ModelSpace(resume_search.Space()).validate(trial.sample) == trial.sample
