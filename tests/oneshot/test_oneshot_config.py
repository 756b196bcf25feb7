"""A one-shot search refuses the settings of trials it cannot honour (it trains one supernet in
this process and runs no trial): each is a ``ConfigError`` naming the field and what to do, raised
before anything is created, as ``max_trial_number`` is. Configurations that leave them at their
defaults (NNI's usual ones) run, and an experiment recorded with them (before they were refused)
still resumes."""

from __future__ import annotations

import json
import logging
import re
import sqlite3

import pytest

import retiarii.strategy as strategy
from retiarii.experiment import ConfigError, ExperimentCallback, MedianStop
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.store import ExperimentStore

from . import resume_search
from .helpers import UsefulOrZero
from .test_oneshot_result import NEW, Scripted

REFUSED = [
    ("max_trial_number", 3, "counts trials", "max_epochs"),
    ("trial_concurrency", 2, "runs that many trials at once", "strategy='ddp'"),
    ("trial_timeout", "1h", "kills a trial", "max_experiment_duration"),
    ("trial_gpu_number", 1, "GPUs", "accelerator='gpu'"),
    ("trial_cpu_number", 2, "CPUs", "torch.set_num_threads"),
    ("max_trial_retries", 1, "again", "resume the experiment"),
    ("trial_seed", 7, "seeds each trial", "torch.manual_seed"),
    ("trial_log_limit", "1GB", "log", "console"),
    ("trial_memory_limit", "4GB", "memory", "this process"),
    ("max_trials_per_worker", 1, "workers", "this process"),
    ("objectives", {"default": "maximize", "flops": "minimize"}, "Pareto", "penalty"),
    ("training_service_platform", "ray", "where trials run", "this process"),
    ("training_service.gpu_indices", [0], "GPUs", "devices=[0]"),
]


def refused_config(tmp_path, name, value) -> RetiariiExeConfig:
    config = RetiariiExeConfig(experiment_working_directory=str(tmp_path))
    if name == "training_service_platform":
        return RetiariiExeConfig("ray", experiment_working_directory=str(tmp_path))
    owner = config.training_service if name.startswith("training_service.") else config
    setattr(owner, name.rpartition(".")[2], value)
    return config


@pytest.mark.parametrize("name, value, does, instead", REFUSED, ids=[r[0] for r in REFUSED])
def test_each_trial_setting_is_refused_before_anything_runs(tmp_path, name, value, does, instead):
    pytest.importorskip("lightning")
    evaluator = resume_search.experiment().evaluator
    exp = RetiariiExperiment(resume_search.Space(), evaluator, None, strategy.DARTS())
    with pytest.raises(ConfigError) as raised:
        exp.run(refused_config(tmp_path, name, value))
    message = str(raised.value)
    assert message.startswith(f"{name}={value!r} ")
    assert "a one-shot search trains one supernet and runs no trial: leave it unset" in message
    assert does in message and instead in message
    assert exp.experiment_dir is None and not list(tmp_path.iterdir())  # nothing created


def test_a_one_shot_trainer_is_refused_the_same_way(tmp_path):
    exp = RetiariiExperiment(UsefulOrZero(), Scripted(NEW, [0.5]))
    with pytest.raises(ConfigError, match=re.escape("trial_timeout=30 kills a trial")):
        exp.run(RetiariiExeConfig(experiment_working_directory=str(tmp_path), trial_timeout=30))
    assert exp.experiment_dir is None


def test_nni_style_configs_that_leave_the_defaults_run(tmp_path):
    config = RetiariiExeConfig(
        "local",
        experiment_name="darts",
        experiment_working_directory=str(tmp_path),
        execution_engine="oneshot",
        max_experiment_duration="1h",
        trial_concurrency=1,
        trial_gpu_number=0,
        trial_seed=None,  # "no seeding": what a one-shot search does anyway
        trial_log_limit=None,
        use_active_gpu=True,  # NNI's flag, accepted everywhere for compatibility
    )
    config.training_service.max_trial_number_per_gpu = 1
    exp = RetiariiExperiment(UsefulOrZero(), Scripted(NEW, [0.5]))
    exp.run(config)
    assert exp.get_status() == "DONE" and exp.export_top_models() == [NEW]


def test_multi_trial_searches_keep_their_trial_settings():
    config = RetiariiExeConfig(trial_concurrency=4, trial_timeout="1h", trial_seed=7)
    assert set(config.multi_trial_settings()) == {
        "trial_concurrency",
        "trial_timeout",
        "trial_seed",
    }
    config.validate()  # nothing refused outside a one-shot search


@pytest.fixture
def resumable(tmp_path):
    """A finished one-shot search that resumes (a DartsTrainer, pickled with the experiment)."""
    exp = resume_search.experiment(trainer=True)
    exp.run(RetiariiExeConfig(experiment_working_directory=str(tmp_path)))
    directory = exp.experiment_dir
    exp.close()
    return directory


def test_resume_with_a_trial_setting_is_refused_before_the_store_is_touched(resumable):
    with ExperimentStore(resumable / "experiment.db", readonly=True) as store:
        before = (store.experiment(), store.trials())
    with pytest.raises(ConfigError, match=re.escape("trial_concurrency=3 runs that many trials")):
        RetiariiExperiment.resume(resumable, config=RetiariiExeConfig(trial_concurrency=3))
    with ExperimentStore(resumable / "experiment.db") as store:  # not left locked
        assert (store.experiment(), store.trials()) == before


def test_an_experiment_recorded_with_trial_settings_still_resumes(resumable, caplog):
    """Before they were refused, a one-shot search ignored them: it resumes as it ran."""
    recorded = RetiariiExeConfig(
        experiment_working_directory=str(resumable.parent), trial_concurrency=4, trial_timeout=60
    )
    with sqlite3.connect(resumable / "experiment.db") as db:
        db.execute("UPDATE experiment SET config = ?", (json.dumps(recorded.to_dict()),))
    db.close()
    with caplog.at_level(logging.WARNING, logger="retiarii.experiment"):
        exp = RetiariiExperiment.resume(resumable)
    assert "ignores trial_concurrency, trial_timeout; resuming with their defaults" in caplog.text
    assert exp.get_status() == "DONE" and exp.config is not None
    assert exp.config.multi_trial_settings() == {}
    assert len(exp.list_trial_jobs()) == 2 and len(exp.export_top_models()) == 1
    exp.close()


@pytest.mark.parametrize(
    "name, value",
    [
        ("callbacks", [ExperimentCallback()]),
        ("profilers", {"params": lambda sample: 1.0}),
        ("pruner", MedianStop()),
    ],
)
def test_what_acts_on_trials_is_refused_when_the_experiment_is_made(name, value):
    with pytest.raises(TypeError, match=f"a one-shot search has no trials to .*: pass no {name}"):
        RetiariiExperiment(UsefulOrZero(), Scripted(NEW, []), **{name: value})
