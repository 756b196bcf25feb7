"""``RetiariiExperiment(base_model, oneshot_trainer).run()`` (seed 004): progress in the store,
the exported architecture as the experiment's result."""

from __future__ import annotations

import logging
import threading

import pytest
import torch
import torch.nn.functional as F

import retiarii.strategy as strategy
from retiarii import ModelSpace
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.oneshot import BaseOneShotTrainer
from retiarii.oneshot.pytorch import DartsTrainer, SinglePathTrainer
from retiarii.store import ExperimentStore

from .helpers import UsefulOrZero, accuracy, separable, sgd


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path))
    return tmp_path


def test_seed_004_one_shot_experiment_runs_without_a_config(home):
    model = UsefulOrZero()
    trainer = DartsTrainer(
        model=model,
        loss=F.cross_entropy,
        metrics=accuracy,
        optimizer=sgd(model),
        num_epochs=3,
        dataset=separable(),
        batch_size=32,
        log_frequency=4,
        unrolled=False,
    )
    exp = RetiariiExperiment(model, trainer)
    exp.run()
    assert exp.get_status() == "DONE"
    assert exp.experiment_dir is not None and exp.experiment_dir.parent == home

    [sample] = exp.export_top_models(formatter="dict")
    assert sample == trainer.export()
    assert ModelSpace(UsefulOrZero()).validate(sample) == sample
    [instance] = exp.export_top_models(formatter="instance")
    assert instance(torch.randn(2, 8)).shape == (2, 2)
    [code] = exp.export_top_models(formatter="code")
    assert "fixed_arch" in code

    [trial] = exp.list_trial_jobs()
    assert trial.status == "SUCCEEDED" and trial.final["acc"] == trainer.history[-1].metrics["acc"]

    store = ExperimentStore(exp.experiment_dir / "experiment.db", readonly=True)
    assert store.series_names() == [
        "arch_prob/op", "arch_prob/pick", "loss", "loss/step", "metric/acc",
    ]  # fmt: skip
    assert store.series("loss/step")[0].step == 1  # progress from the first step
    losses = store.series("loss")
    assert [p.epoch for p in losses] == [0, 1, 2]
    assert [p.value for p in losses] == pytest.approx([h.loss for h in trainer.history])
    last = store.series("arch_prob/op")[-1].value
    assert set(last) == {"zero", "linear"} and sum(last.values()) == pytest.approx(1.0)
    assert store.experiment().info["strategy"] == "DartsTrainer"
    # resumable: the trainer is saved with the experiment and checkpoints every epoch
    assert (exp.experiment_dir / "experiment.pkl").exists()
    assert (exp.experiment_dir / "oneshot" / "last.ckpt").exists()


def test_a_user_written_trainer_also_runs_as_an_experiment(home):
    class Fixed(BaseOneShotTrainer):
        def fit(self):
            pass

        def export(self):
            return {"op": "linear", "pick": [1]}

    exp = RetiariiExperiment(UsefulOrZero(), Fixed())
    exp.run(RetiariiExeConfig("local"))
    assert exp.export_top_models() == [{"op": "linear", "pick": [1]}]
    assert not (exp.experiment_dir / "experiment.pkl").exists()  # it does not checkpoint


def test_a_trainer_that_cannot_be_pickled_runs_without_resume(home, caplog):
    model = UsefulOrZero()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable(), batch_size=64)
    trainer.lock = threading.Lock()  # e.g. a user's attribute that pickle refuses
    exp = RetiariiExperiment(model, trainer)
    with caplog.at_level(logging.WARNING, logger="retiarii.experiment"):
        exp.run()
    assert exp.get_status() == "DONE"
    assert "cannot be resumed" in caplog.text and "lock" in caplog.text
    assert not (exp.experiment_dir / "experiment.pkl").exists()


def test_a_bad_export_fails_the_experiment_naming_the_label(home):
    class Wrong(BaseOneShotTrainer):
        def fit(self):
            pass

        def export(self):
            return {"op": "conv", "pick": [0]}

    exp = RetiariiExperiment(UsefulOrZero(), Wrong())
    with pytest.raises(Exception, match="'op'"):
        exp.run()
    assert exp.get_status() == "ERROR"


def test_stop_ends_the_search_after_the_epoch_and_keeps_the_result(home):
    model = UsefulOrZero()
    trainer = SinglePathTrainer(model, F.cross_entropy, accuracy, sgd(model), 50, separable(),
                                population_size=2, evolution_cycles=0)  # fmt: skip
    exp = RetiariiExperiment(model, trainer)

    class StopAfterFirstEpoch:
        def on_fit_start(self, trainer):
            pass

        def on_epoch_end(self, trainer, epoch, logs):
            exp.stop()

    from retiarii.oneshot import OneShotCallback

    trainer.add_callback(type("Stopper", (StopAfterFirstEpoch, OneShotCallback), {})())
    exp.run()
    assert exp.get_status() == "STOPPED" and len(trainer.history) == 1
    assert len(exp.export_top_models()) == 1


def test_one_shot_trainers_take_no_strategy():
    model = UsefulOrZero()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable())
    with pytest.raises(TypeError, match="takes no strategy"):
        RetiariiExperiment(model, trainer, None, strategy.Random())


def test_seed_001_user_trainer_in_an_experiment_exports_a_valid_sample(home):
    from .test_oneshot_replace import MyDartsTrainer

    model = UsefulOrZero()
    trainer = MyDartsTrainer(model, F.cross_entropy, None, sgd(model), separable())
    exp = RetiariiExperiment(model, trainer)
    exp.run()  # the user's DartsLayerChoice does not keep the decisions: the space is rebuilt
    [sample] = exp.export_top_models()
    assert sample == trainer.export()
    assert set(exp.store.experiment().search_space) == {"op", "pick"}
    assert exp.export_top_models(formatter="instance")[0](torch.randn(1, 8)).shape == (1, 2)
