"""NNI 2.x result scripts run unchanged: ``exp.id`` before ``run``, NNI's record shapes.

The calls are written as NNI's ``Experiment`` documentation shows them
(``nni/experiment/experiment.py``: ``get_job_metrics``, ``list_trial_jobs``, ...).
"""

from __future__ import annotations

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store.nni_data import TrialHyperParameters, TrialMetricData

from .helpers import make_config
from .spaces import TinyNet, score_tiny


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(score_tiny), None, strategy.GridSearch(shuffle=False)
    )
    exp_id = exp.id  # NNI users keep the id before run
    exp.run(make_config(tmp_path_factory.mktemp("nni"), max_trial_number=3, execution="inprocess"))
    yield exp, exp_id
    exp.close()


def test_id_exists_at_construction_and_is_kept(finished) -> None:
    exp, exp_id = finished
    assert isinstance(exp_id, str) and exp_id
    assert exp.id == exp_id == exp.store.experiment().id
    assert exp.experiment_dir.name == exp_id


def test_get_job_metrics_in_nni_shape(finished) -> None:
    exp, _ = finished
    metrics = exp.get_job_metrics()
    for trial in exp.list_trial_jobs():
        records = metrics[trial.trialJobId]  # NNI's string id
        assert records is metrics[trial.id]  # ours
        assert all(isinstance(r, TrialMetricData) for r in records)
        assert [r.type for r in records] == ["PERIODICAL", "PERIODICAL", "FINAL"]
        assert [r.sequence for r in records] == [0, 1, 2]
        assert {r.trialJobId for r in records} == {trial.trialJobId}
        assert {r.parameterId for r in records} == {str(trial.id)}
        assert records[-1].data == trial.final == records[-1]["data"]
        assert records[0].data == trial.final / 4
        assert all(isinstance(r.timestamp, int) for r in records)  # milliseconds, as NNI's
        assert records[-1].timestamp == trial.endTime
    assert "1" in metrics and 1 in metrics and "9" not in metrics
    only = exp.get_job_metrics("2")
    assert list(only) == [2] and only["2"] == metrics[2]


def test_trial_records_have_nni_names(finished) -> None:
    exp, _ = finished
    jobs = exp.list_trial_jobs()
    assert [job.trialJobId for job in jobs] == ["1", "2", "3"]
    for job in jobs:
        assert job.status == "SUCCEEDED"
        (params,) = job.hyperParameters
        assert isinstance(params, TrialHyperParameters)
        assert params.parameters == job.sample and params["parameters"] == job.sample
        assert job.startTime == round(job.started_at * 1000)
        assert job.endTime >= job.startTime
        (final,) = job.finalMetricData
        assert final.type == "FINAL" and final.data == job.final
        assert job.logPath == job.log_path == job.stderrPath
        assert job.sequenceId == job.id - 1


def test_statistics_and_status(finished) -> None:
    exp, _ = finished
    assert exp.get_job_statistics() == [{"trialJobStatus": "SUCCEEDED", "trialJobNumber": 3}]
    assert exp.get_status() == "DONE"


def test_resume_and_view_find_the_id(finished) -> None:
    exp, exp_id = finished
    exp.close()  # release the store, as NNI users stop an experiment before resuming it
    again = RetiariiExperiment.resume(exp_id, wait_completion=False)
    try:
        assert again.id == exp_id and again.experiment_dir == exp.experiment_dir
        assert len(again.list_trial_jobs()) == 3
    finally:
        again.close()
    server = RetiariiExperiment.view(exp_id, port=0, non_blocking=True)
    try:
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.close()


def test_status_before_run_is_initialized() -> None:
    exp = RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny))
    assert exp.get_status() == "INITIALIZED"
    assert exp.id
