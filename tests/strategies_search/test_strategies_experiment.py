"""Every strategy end to end: RetiariiExperiment, in-process trials, the SQLite store, resume."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.strategy import sample_key

from .helpers import FACTORIES, WITH_ON_FAILURE
from .spaces import ScoredNet, report_score

NAMES = list(FACTORIES)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="retiarii")


def config(tmp_path: Path, trials: int, **fields: Any) -> RetiariiExeConfig:
    cfg = RetiariiExeConfig("local")
    cfg.execution = "inprocess"
    cfg.max_trial_number = trials
    cfg.experiment_working_directory = str(tmp_path)
    for name, value in fields.items():
        setattr(cfg, name, value)
    return cfg


def run(tmp_path: Path, search: Any, trials: int, **fields: Any) -> RetiariiExperiment:
    evaluator = FunctionalEvaluator(report_score, fail_width=fields.pop("fail_width", None))
    exp = RetiariiExperiment(ScoredNet(), evaluator, None, search)
    exp.run(config(tmp_path, trials, **fields))
    return exp


def samples(exp: RetiariiExperiment) -> list[str]:
    return [sample_key(t.sample) for t in exp.list_trial_jobs()]


@pytest.mark.parametrize("name", NAMES)
def test_experiment_runs_the_strategy_and_exports_its_best(name: str, tmp_path: Path) -> None:
    exp = run(tmp_path, FACTORIES[name](seed=0), 30)
    trials = exp.list_trial_jobs()
    assert len(trials) == 30 and len(set(samples(exp))) == 30
    assert all(t.status == "SUCCEEDED" for t in trials)
    best = max(trials, key=lambda t: (t.final_value, -t.id))
    assert exp.export_top_models(1) == [best.sample]
    assert best.final_value >= 42  # width 4 (of 4), found within 30 of 72 samples


@pytest.mark.parametrize("name", NAMES)
def test_experiment_is_deterministic_and_resumes_identically(name: str, tmp_path: Path) -> None:
    full = samples(run(tmp_path / "full", FACTORIES[name](seed=1), 24))
    assert samples(run(tmp_path / "again", FACTORIES[name](seed=1), 24)) == full

    half = run(tmp_path / "half", FACTORIES[name](seed=1), 10)
    assert half.experiment_dir is not None
    half.store.close()  # one writer: hand the store over to the resumed experiment
    resumed = RetiariiExperiment.resume(half.experiment_dir, config=config(tmp_path / "half", 24))
    assert samples(resumed) == full


@pytest.mark.parametrize("name", NAMES)
def test_dedup_exhausts_the_space(name: str, tmp_path: Path) -> None:
    exp = run(tmp_path, FACTORIES[name](seed=2), 100)
    assert len(exp.list_trial_jobs()) == 72 == len(set(samples(exp)))
    assert "exhausted" in exp.store.experiment().info["end_reason"]


@pytest.mark.parametrize("name", NAMES)
def test_failed_trials_and_model_filter(name: str, tmp_path: Path) -> None:
    def no_identity(sample: dict) -> bool:
        return sample["act"] != "id"

    exp = run(tmp_path, FACTORIES[name](seed=3, model_filter=no_identity), 100, fail_width=2)
    trials = exp.list_trial_jobs()
    assert len(trials) == 48  # 72 samples, a third filtered out
    assert all(t.sample["act"] != "id" for t in trials)
    failed = [t for t in trials if t.status == "FAILED"]
    assert len(failed) == 12 and all(t.sample["width"] == 2 for t in failed)


@pytest.mark.parametrize("name", WITH_ON_FAILURE)
def test_worst_failures_run_end_to_end(name: str, tmp_path: Path) -> None:
    exp = run(tmp_path, FACTORIES[name](seed=4, on_failure="worst"), 30, fail_width=4)
    trials = exp.list_trial_jobs()
    assert len(trials) == 30
    assert exp.export_top_models(1)[0]["width"] == 3  # the best width that does not fail


@pytest.mark.parametrize("name", NAMES)
def test_minimize_experiment(name: str, tmp_path: Path) -> None:
    exp = run(tmp_path, FACTORIES[name](seed=5), 30, optimize_mode="minimize")
    assert exp.export_top_models(1)[0]["width"] == 1
    assert exp.store.best_trials(1)[0].final_value < 13
    with pytest.raises(ValueError, match="optimize_mode"):
        run(
            tmp_path / "conflict",
            FACTORIES[name](optimize_mode="maximize"),
            5,
            optimize_mode="minimize",
        )
