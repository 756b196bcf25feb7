"""When an experiment ends: space exhausted, grid done, max_trial_number, max_experiment_duration."""

from __future__ import annotations

import time

import pytest

import retiarii.strategy as strategy
from retiarii import ModelSpace
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.strategy import sample_key

from .helpers import make_config
from .spaces import TinyNet, WideNet, score_tiny, sleepy_width, tiny_score

MODES = ["inprocess", "process"]  # a process run takes ~2 s with a warm cache


def _run(tmp_path, search, execution="inprocess", evaluator=None, model=None, **fields):
    exp = RetiariiExperiment(
        model or TinyNet(), evaluator or FunctionalEvaluator(score_tiny), None, search
    )
    exp.run(make_config(tmp_path, execution=execution, **fields))
    return exp


@pytest.mark.parametrize("execution", MODES)
def test_random_dedup_ends_when_the_space_is_exhausted(tmp_path, execution) -> None:
    exp = _run(
        tmp_path,
        strategy.Random(dedup=True, seed=1),
        execution,
        max_trial_number=20,
        trial_concurrency=2,
    )
    trials = exp.list_trial_jobs()
    assert len(trials) == 6
    assert {sample_key(t.sample) for t in trials} == {
        sample_key(s) for s in ModelSpace(TinyNet()).grid()
    }
    assert all(t.status == "SUCCEEDED" for t in trials)
    assert exp.get_status() == "DONE"
    assert "exhausted" in exp.store.experiment().info["end_reason"]


def test_grid_search_runs_every_sample_once_in_grid_order(tmp_path) -> None:
    exp = _run(tmp_path, strategy.GridSearch(shuffle=False))
    trials = exp.list_trial_jobs()
    grid = list(ModelSpace(TinyNet()).grid())
    assert [t.sample for t in trials] == grid
    assert [t.final for t in trials] == [
        tiny_score(ModelSpace(TinyNet()).build(sample)) for sample in grid
    ]
    assert "grid" in exp.store.experiment().info["end_reason"]


def test_grid_search_shuffle_is_seeded(tmp_path) -> None:
    orders = [
        [
            t.sample
            for t in _run(tmp_path / str(n), strategy.GridSearch(True, seed=7)).list_trial_jobs()
        ]
        for n in range(2)
    ]
    other = [
        t.sample
        for t in _run(tmp_path / "other", strategy.GridSearch(True, seed=8)).list_trial_jobs()
    ]
    grid = list(ModelSpace(TinyNet()).grid())
    assert orders[0] == orders[1]
    assert sorted(map(sample_key, orders[0])) == sorted(map(sample_key, grid))
    assert sorted(map(sample_key, other)) == sorted(map(sample_key, grid))
    assert orders[0] != grid or other != grid


def test_max_trial_number_is_exact(tmp_path) -> None:
    exp = _run(tmp_path, strategy.Random(dedup=False, seed=0), max_trial_number=3)
    assert len(exp.list_trial_jobs()) == 3
    assert exp.store.experiment().info["end_reason"] == "max_trial_number reached"
    assert exp.get_job_statistics() == [{"trialJobStatus": "SUCCEEDED", "trialJobNumber": 3}]


def test_max_trial_number_larger_than_a_grid(tmp_path) -> None:
    exp = _run(tmp_path, strategy.GridSearch(shuffle=False), max_trial_number=100)
    assert len(exp.list_trial_jobs()) == 6


def test_max_experiment_duration_stops_the_experiment(tmp_path) -> None:
    start = time.monotonic()
    exp = _run(
        tmp_path,
        strategy.Random(dedup=False, seed=0),  # no dedup: never exhausted
        model=WideNet(),
        evaluator=FunctionalEvaluator(sleepy_width, seconds=0.2),
        max_experiment_duration=1.0,
    )
    took = time.monotonic() - start
    trials = exp.list_trial_jobs()
    assert 1 <= len(trials) <= 8
    assert took < 10
    assert exp.store.experiment().info["end_reason"] == "max_experiment_duration reached"
    assert exp.get_status() == "DONE"
    assert exp.store.experiment().info["duration"] >= 1.0


@pytest.mark.slow
def test_max_experiment_duration_cancels_running_trials(tmp_path) -> None:
    start = time.monotonic()
    exp = _run(
        tmp_path,
        strategy.Random(dedup=False, seed=0),
        "process",
        model=WideNet(),
        evaluator=FunctionalEvaluator(sleepy_width, seconds=120),
        max_experiment_duration="10s",
        trial_concurrency=2,
    )
    assert time.monotonic() - start < 45
    trials = exp.list_trial_jobs()
    assert exp.store.experiment().info["end_reason"] == "max_experiment_duration reached"
    assert trials, "the workers took longer than the whole duration to start"
    assert {t.status for t in trials} == {"CANCELED"}
    assert all("max_experiment_duration" in (t.error or "") for t in trials)
    assert exp.get_status() == "DONE"
