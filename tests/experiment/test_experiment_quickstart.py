"""Seed 002's quick start, on sklearn's digits: run with a dashboard, then every result API."""

from __future__ import annotations

import json
import logging
import time

import pytest
import torch

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

from .helpers import Background, dashboard_url, get_json, http, wait_for
from .spaces import DigitsNet, fit_digits, load_digits_tensors

EPOCHS = 5


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """The seed's script, run in a thread so the dashboard can be watched while it runs."""
    working_dir = tmp_path_factory.mktemp("quick")
    handler_records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handler_records.append(record)

    logger = logging.getLogger("retiarii.experiment")
    handler, old_level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    base_model = DigitsNet()
    trainer = FunctionalEvaluator(fit_digits, epochs=EPOCHS, delay=0.4)
    simple_strategy = strategy.Random(dedup=True)
    exp = RetiariiExperiment(base_model, trainer, None, simple_strategy)
    exp_config = RetiariiExeConfig("local")
    exp_config.experiment_name = "mnasnet_search"
    exp_config.trial_concurrency = 2
    exp_config.max_trial_number = 4
    exp_config.training_service.use_active_gpu = False
    exp_config.experiment_working_directory = str(working_dir)

    seen_while_running: dict[str, object] = {}
    try:
        run = Background(exp.run, exp_config, 0)
        url = wait_for(lambda: dashboard_url(handler_records), 60, "the dashboard URL")
        while run.alive:
            status, headers, page = http(url + "/")
            seen_while_running.setdefault("page", (status, headers, page))
            overview = get_json(url + "/api/experiment")
            if overview["status"] == "running":
                seen_while_running["overview"] = overview
                seen_while_running["trials"] = get_json(url + "/api/trials")
                if any(t["status"] == "RUNNING" for t in seen_while_running["trials"]):
                    break
            time.sleep(0.05)
        run.join(180)
        yield exp, url, seen_while_running, handler_records
    finally:
        exp.stop()  # also closes the dashboard
        logger.removeHandler(handler)
        logger.setLevel(old_level)


pytestmark = pytest.mark.slow


def test_dashboard_serves_while_running(quickstart) -> None:
    _, url, seen, _ = quickstart
    assert url.startswith("http://127.0.0.1:")
    status, headers, page = seen["page"]
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"<title>" in page
    assert seen["overview"]["status"] == "running"
    assert seen["overview"]["name"] == "mnasnet_search"
    assert any(t["status"] == "RUNNING" for t in seen["trials"])


def test_dashboard_after_the_run(quickstart) -> None:
    exp, url, _, _ = quickstart
    overview = get_json(url + "/api/experiment")
    assert overview["status"] == "done"
    assert overview["counts"]["SUCCEEDED"] == 4
    assert overview["config"]["max_trial_number"] == 4
    assert set(overview["search_space"]) == {"hidden", "act"}
    best = exp.list_trial_jobs()
    best = max(best, key=lambda t: t.final_value)
    assert overview["best"]["id"] == best.id
    trials = get_json(url + "/api/trials")
    assert [t["id"] for t in trials] == [1, 2, 3, 4]
    assert all(t["status"] == "SUCCEEDED" and t["duration"] > 0 for t in trials)
    one = get_json(url + "/api/trials/1")
    assert [r["sequence"] for r in one["intermediates"]] == list(range(EPOCHS))
    assert "accuracy" in one["log_tail"]
    assert one["sample"] == exp.list_trial_jobs()[0].sample


def test_status_trials_and_statistics(quickstart) -> None:
    exp, *_ = quickstart
    assert exp.get_status() == "DONE"
    trials = exp.list_trial_jobs()
    assert len(trials) == 4
    assert len({json.dumps(t.sample, sort_keys=True) for t in trials}) == 4
    assert all(t.status == "SUCCEEDED" and 0 < t.final <= 1 for t in trials)
    assert exp.get_job_statistics() == [{"trialJobStatus": "SUCCEEDED", "trialJobNumber": 4}]
    assert (exp.experiment_dir / "experiment.db").is_file()
    assert (exp.experiment_dir / "trials" / "1" / "trial.log").is_file()


def test_job_metrics(quickstart) -> None:
    exp, *_ = quickstart
    metrics = exp.get_job_metrics()
    assert sorted(metrics) == [1, 2, 3, 4]
    for trial in exp.list_trial_jobs():
        records = metrics[trial.id]
        assert [r["type"] for r in records] == ["PERIODICAL"] * EPOCHS + ["FINAL"]
        assert [r["sequence"] for r in records] == list(range(EPOCHS + 1))
        assert records[-1]["data"] == trial.final
        losses = [r["data"] for r in records[:-1]]
        assert losses[-1] < losses[0]  # the training loss went down
        assert all(isinstance(r["timestamp"], int) for r in records)  # NNI: milliseconds
    assert exp.get_job_metrics(2) == {2: metrics[2]}
    assert exp.get_job_metrics("2") == {2: metrics[2]}


def test_export_dict(quickstart) -> None:
    exp, *_ = quickstart
    ranked = sorted(exp.list_trial_jobs(), key=lambda t: (-t.final_value, t.id))
    assert exp.export_top_models(formatter="dict") == [ranked[0].sample]
    assert exp.export_top_models(top_k=3) == [t.sample for t in ranked[:3]]
    worst = exp.export_top_models(optimize_mode="minimize")
    assert worst == [min(ranked, key=lambda t: (t.final_value, t.id)).sample]
    with pytest.raises(ValueError, match="formatter"):
        exp.export_top_models(formatter="onnx")


def test_export_instance_is_a_plain_torch_model(quickstart) -> None:
    exp, *_ = quickstart
    [sample] = exp.export_top_models(formatter="dict")
    [model] = exp.export_top_models(formatter="instance")
    assert isinstance(model, torch.nn.Module)
    assert not [
        type(m).__name__ for m in model.modules() if type(m).__module__.startswith("retiarii")
    ]
    assert model.fc1.out_features == sample["hidden"] == model.fc2.in_features
    assert isinstance(model.act, (torch.nn.ReLU, torch.nn.Tanh)[sample["act"]])
    X, _ = load_digits_tensors()
    assert model(X[:5]).shape == (5, 10)


def test_export_code_rebuilds_the_model(quickstart) -> None:
    exp, *_ = quickstart
    [code] = exp.export_top_models(formatter="code")
    [instance] = exp.export_top_models(formatter="instance")
    assert "fixed_arch" in code and "DigitsNet" in code
    namespace: dict[str, object] = {}
    exec(compile(code, "<exported>", "exec"), namespace)
    model = namespace["model"]
    assert isinstance(model, torch.nn.Module)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in instance.state_dict().items()}
    X, _ = load_digits_tensors()
    assert model(X[:3]).shape == (3, 10)


def test_one_log_line_per_trial(quickstart) -> None:
    *_, records = quickstart
    lines = [r.getMessage() for r in records]
    for trial_id in range(1, 5):
        assert any(line.startswith(f"trial {trial_id} SUCCEEDED in ") for line in lines), lines
    assert any(" done (" in line and "4 succeeded" in line for line in lines), lines
