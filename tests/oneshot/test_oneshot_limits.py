"""A one-shot experiment honours the experiment's limits and stop: ``max_experiment_duration``, the
dashboard's Stop, ``exp.stop()`` and Ctrl-C end the search after the current training step (not
only at an epoch's end), the architecture found so far is the experiment's result, the status
and reason say why it ended (as multi-trial's do), and the checkpoint stays the last finished
epoch's, so a resume behaves as multi-trial's does.

A forward pass that sleeps (``resume_search.SLOW``) makes the steps slow enough to hit a limit of
about a second deterministically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch.nn.functional as F

pytest.importorskip("lightning")

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

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


def evaluator(max_epochs: int = 5, n: int = 256, **trainer: Any) -> pl.Classification:
    data = separable(n=n)
    return pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.05,
        max_epochs=max_epochs,
        enable_progress_bar=False,
        enable_model_summary=False,
        **{"logger": False, **trainer},
    )


FINALIZED: list[str] = []  # the statuses Lightning ended StatusLogger runs with, in this process


class StatusLogger(CSVLogger):
    """A user's logger that records how Lightning ended its run: ``finalize("success")`` after a
    fit that ended normally, ``finalize("failed")`` after an exception."""

    def finalize(self, status: str) -> None:
        FINALIZED.append(status)
        super().finalize(status)


def steps_logged(store: ExperimentStore) -> list[int]:
    return [p.step for p in store.series("loss/step")]


def test_the_time_limit_stops_darts_mid_epoch_and_keeps_the_architecture(home, slow):
    slow["seconds"] = 0.1  # a DARTS step (architecture + weights) takes about 0.2 s
    FINALIZED.clear()
    search = evaluator(logger=StatusLogger(home / "logs"))
    exp = RetiariiExperiment(resume_search.Space(), search, None, strategy.DARTS())
    exp.run(config(home, max_experiment_duration=0.6))
    assert FINALIZED == ["success"]  # a stop, not a failure, for the user's logger too

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


class FailsAtTheSecondStep(Callback):
    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, i: int
    ) -> None:
        if i == 1:
            raise RuntimeError("a real error")


def test_an_error_still_ends_the_users_logger_as_failed(home):
    FINALIZED.clear()
    search = evaluator(logger=StatusLogger(home / "logs"), callbacks=[FailsAtTheSecondStep()])
    exp = RetiariiExperiment(resume_search.Space(), search, None, strategy.DARTS())
    with pytest.raises(RuntimeError, match="a real error"):
        exp.run(config(home))
    assert FINALIZED == ["failed"] and exp.store.experiment().status == "failed"


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


def _search_process(directory: Path, seconds: float, *args: str) -> subprocess.Popen[bytes]:
    """The search of ``limit_search`` in a new process group (the terminal's Ctrl-C reaches a
    whole group), SIGINT raising KeyboardInterrupt as in a terminal."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [sys.executable, "-m", "tests.oneshot.limit_search", str(directory), str(seconds)]
    return subprocess.Popen(
        [*command, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=default_sigint, start_new_session=True,
    )  # fmt: skip


def _running_in_group(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` still running (ended ones that are not yet reaped
    left out), read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":
                found.append(int(stat.parent.name))
    return found


def _all_ended(proc: subprocess.Popen[bytes]) -> None:
    """``proc`` exited with 0 and, within seconds, every process it started (its ranks, and
    multiprocessing's resource tracker, which exits after it)."""
    assert proc.wait(120) == 0
    wait_for(lambda: not _running_in_group(proc.pid), 10, "the search's processes to end")


@contextlib.contextmanager
def _search_running(
    directory: Path, seconds: float, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """:func:`_search_process`, and every process of it killed (SIGKILL) on the way out."""
    proc = _search_process(directory, seconds, *args)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for_an_epoch(directory: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until the search's first epoch checkpoint is written (spawned ranks report at the end)."""
    deadline = time.monotonic() + 120
    while not list(directory.glob("*/oneshot/last.ckpt")):
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch ended"
        time.sleep(0.05)


def _stopped_by_request(directory: Path) -> ExperimentStore:
    """The store of the search under ``directory`` (read-only), checked to say it was stopped."""
    [found] = [p.parent for p in directory.glob("*/experiment.db")]
    store = ExperimentStore(found / "experiment.db", readonly=True)
    record = store.experiment()
    assert record.status == "stopped" and record.info["end_reason"] == "stopped by request"
    return store


def _wait_for_a_step(directory: Path, alive: Callable[[], bool]) -> Path:
    deadline = time.monotonic() + 120
    while True:
        assert alive() and time.monotonic() < deadline, "no training step logged"
        for path in directory.glob("*/experiment.db"):
            try:
                with ExperimentStore(path, readonly=True) as store:
                    if steps_logged(store):
                        return path.parent
            except StoreError:  # being created
                pass
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("presses", "seconds", "ddp"),
    [
        (1, 0.2, False),  # stop after the current step (0.4 s)
        (2, 1.0, False),  # a second press interrupts the step (2 s) at once
        # 2 processes (4 steps an epoch): Ctrl-C reaches rank 1 too, which rank 0 stops
        pytest.param(1, 0.5, True, marks=pytest.mark.slow),
        pytest.param(2, 1.0, True, marks=pytest.mark.slow),
    ],
    ids=["once", "twice", "once-ddp", "twice-ddp"],
)
def test_ctrl_c_stops_a_oneshot_search_and_keeps_the_architecture(tmp_path, presses, seconds, ddp):
    proc = _search_process(tmp_path, seconds, *(["ddp"] if ddp else []))
    try:
        directory = _wait_for_a_step(tmp_path, lambda: proc.poll() is None)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole group
        if presses == 2:
            time.sleep(0.5)
            os.killpg(proc.pid, signal.SIGINT)
        _all_ended(proc)  # no rank is left running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        record = store.experiment()
        assert record.status == "stopped" and record.info["end_reason"] == "stopped by request"
        assert max(steps_logged(store)) < STEPS_PER_EPOCH and not store.series("arch_prob/op")
        [trial] = store.trials()
        assert trial.status == "SUCCEEDED" and trial.final is None
        assert ModelSpace(resume_search.Space()).validate(trial.sample) == trial.sample


@pytest.mark.slow
def test_ctrl_c_stops_a_spawned_ddp_search_when_training_ends(tmp_path):
    # the spawned ranks ignore Ctrl-C (it reaches them too): they train on, and the stop takes
    # effect when the fit returns, as a time limit does (the next test); without that, torch's
    # spawn ended them silently and this process waited for their result forever
    with _search_running(tmp_path, 0.1, "ddp_spawn") as proc:  # 5 epochs of 4 steps of 0.2 s
        _wait_for_an_epoch(tmp_path, proc)  # the ranks train
        os.killpg(proc.pid, signal.SIGINT)
        _all_ended(proc)
    with _stopped_by_request(tmp_path) as store:
        assert len(store.series("arch_prob/op")) == 5  # every epoch, reported at the end
        [trial] = store.trials()
        assert trial.status == "SUCCEEDED"


@pytest.mark.slow
def test_a_second_ctrl_c_on_a_spawned_search_keeps_its_finished_epochs(tmp_path):
    # the second press kills the spawned ranks before they send their state back: the epochs they
    # finished come back from their checkpoint, and the export is what they had found (it was
    # the untrained supernet's, with no epoch recorded)
    with _search_running(tmp_path, 0.3, "ddp_spawn") as proc:  # 5 epochs of 4 steps of 0.6 s
        _wait_for_an_epoch(tmp_path, proc)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        _all_ended(proc)
    with _stopped_by_request(tmp_path) as store:
        probs = store.series("arch_prob/op")
        assert 1 <= len(probs) < 5  # the finished epochs, not all 5
        [trial] = store.trials()
        assert trial.status == "SUCCEEDED"
        last = probs[-1].value
        assert trial.sample["op"] == max(last, key=last.get)  # DARTS's export: the likeliest
        directory = store.experiment_dir
    # resumed, the ranks send back every epoch of the search again: each is recorded once
    exp = RetiariiExperiment.resume(directory)
    assert exp.store.experiment().status == "done"
    assert [p.epoch for p in exp.store.series("arch_prob/op")] == [0, 1, 2, 3, 4]
    assert [p.epoch for p in exp.store.series("loss")] == [0, 1, 2, 3, 4]
    exp.close()


@pytest.mark.slow
@pytest.mark.parametrize("ddp", ["ddp", "ddp_spawn"])
def test_the_ranks_end_soon_after_the_experiments_process_is_killed(tmp_path, ddp):
    # SIGKILL (or the out-of-memory killer) on the experiment's process, and nothing else: the
    # ranks it started end within a second or two. Spawned ranks trained on to the end of the
    # fit before (about 10 s more here, hours in a real search); 'ddp' ranks end when a
    # collective finds rank 0 gone.
    with _search_running(tmp_path, 0.3, ddp) as proc:  # 5 epochs of 4 steps of 0.6 s
        if ddp == "ddp":  # rank 0 (this process) logs its steps
            _wait_for_a_step(tmp_path, lambda: proc.poll() is None)
        else:
            _wait_for_an_epoch(tmp_path, proc)
        ranks = [pid for pid in _running_in_group(proc.pid) if pid != proc.pid]
        assert ranks, "no rank process found"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        wait_for(lambda: not _running_in_group(proc.pid), 30, "the ranks to end")
        assert time.monotonic() - killed < 4


# -- data-parallel searches (2 CPU processes) ------------------------------------------------------
DDP_STEPS = 64  # per epoch and rank: 4096 examples, batches of 32, on 2 ranks


def ddp_search(home: Path, ddp: str, n: int = 4096) -> RetiariiExperiment:
    """DARTS on ``n`` examples for one epoch on 2 CPU processes; its logger a StatusLogger."""
    search = evaluator(1, n, accelerator="cpu", devices=2, strategy=ddp,
                       logger=StatusLogger(home / "logs"))  # fmt: skip
    FINALIZED.clear()
    return RetiariiExperiment(resume_search.Space(), search, None, strategy.DARTS())


@pytest.mark.slow  # starts a rank process (a few seconds on 2 cores)
def test_the_time_limit_stops_a_ddp_search_at_a_step(home, slow):
    slow["seconds"] = 0.1  # rank 0's forward passes (rank 1 waits for them): 0.2 s a step
    limit = 6.0  # starting rank 1 takes 2-6 s on 2 busy cores; the epoch (64 steps) 13 s
    exp = ddp_search(home, "ddp")
    exp.run(config(home, max_experiment_duration=limit))

    record = exp.store.experiment()
    assert exp.get_status() == "DONE" and record.info["end_reason"] == DURATION
    assert "loss" not in exp.store.series_names()  # the epoch never ended on rank 0
    steps = exp.store.series("loss/step")
    assert 1 <= steps[-1].step < DDP_STEPS
    # stopped at the first notification (they are 0.5 s apart) after the limit, or after the
    # first step when starting rank 1 took longer than the limit: the last step point recorded
    started = record.info["run_started_at"]
    late = steps[-1].timestamp - max(started + limit, steps[0].timestamp)
    assert late < 1.5, late
    [trial] = exp.list_trial_jobs()
    assert trial.status == "SUCCEEDED"
    assert FINALIZED == ["success"]  # rank 0's logger: a normal end
    exp.close()


@pytest.mark.slow
def test_a_spawned_ddp_search_honours_the_time_limit_when_training_ends(home):
    # ranks in spawned processes report their epochs when the fit returns: the limit (and a
    # stop request) take effect then; every epoch is recorded and the architecture exported
    exp = ddp_search(home, "ddp_spawn", n=256)
    exp.run(config(home, max_experiment_duration=0.5))  # spawning alone takes longer
    record = exp.store.experiment()
    assert exp.get_status() == "DONE" and record.info["end_reason"] == DURATION
    assert [p.epoch for p in exp.store.series("loss")] == [0]
    [trial] = exp.list_trial_jobs()
    assert ModelSpace(resume_search.Space()).validate(trial.sample) == trial.sample
    exp.close()


@pytest.mark.slow
def test_exp_stop_from_another_thread_stops_a_ddp_search_at_a_step(home, slow):
    slow["seconds"] = 0.1
    exp = ddp_search(home, "ddp")
    run = Background(exp.run, config(home))
    try:
        _wait_for_a_step(home, lambda: run.alive)
        exp.stop()
        run.join(60)
    finally:
        exp.stop()
    record = exp.store.experiment()
    assert exp.get_status() == "STOPPED" and record.info["end_reason"] == "stopped by request"
    assert "loss" not in exp.store.series_names()
    assert max(steps_logged(exp.store)) < DDP_STEPS
    assert len(exp.export_top_models()) == 1
    assert FINALIZED == ["success"]
    exp.close()
