"""The in-process execution mode (debugging) gives the same results as worker processes."""

from __future__ import annotations

import time

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.strategy import sample_key

from .helpers import make_config
from .spaces import TinyNet, WideNet, report_width, score_tiny


def _results(tmp_path, **fields) -> dict[str, tuple]:
    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(score_tiny), None, strategy.Random(dedup=True, seed=3)
    )
    exp.run(make_config(tmp_path, **fields))
    assert exp.get_status() == "DONE"
    metrics = exp.get_job_metrics()
    return {
        sample_key(t.sample): (t.status, t.final, [r["data"] for r in metrics[t.id]])
        for t in exp.list_trial_jobs()
    }


def test_inprocess_matches_process(tmp_path) -> None:
    inprocess = _results(tmp_path / "a", execution="inprocess")
    process = _results(tmp_path / "b", execution="process", trial_concurrency=2)
    assert len(inprocess) == 6
    assert inprocess == process


def test_debug_flag_runs_in_process(tmp_path) -> None:
    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(score_tiny), None, strategy.GridSearch(shuffle=False)
    )
    exp.run(make_config(tmp_path, max_trial_number=2), debug=True)
    assert all(t.worker.startswith("inprocess:") for t in exp.list_trial_jobs())


def test_inprocess_ctrl_c_stops_quickly(tmp_path) -> None:
    def interrupt_on_third(model) -> None:
        if model.fc.out_features == 3:
            raise KeyboardInterrupt
        report_width(model)

    exp = RetiariiExperiment(
        WideNet(), FunctionalEvaluator(interrupt_on_third), None, strategy.GridSearch(shuffle=False)
    )
    start = time.monotonic()
    exp.run(make_config(tmp_path, execution="inprocess"))
    assert time.monotonic() - start < 4  # the drain used to spin for 5 s
    assert exp.get_status() == "STOPPED"
    assert [t.status for t in exp.list_trial_jobs()] == ["SUCCEEDED", "SUCCEEDED", "INTERRUPTED"]
