"""The loop's contract with a strategy: what it is told, when it ends, optimize_mode."""

from __future__ import annotations

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.strategy import BaseStrategy, TrialResult

from .helpers import make_config
from .spaces import ModeNet, TinyNet, misbehave, score_tiny


class RecordingGrid(strategy.GridSearch):
    def __init__(self) -> None:
        super().__init__(shuffle=False)
        self.told: list[TrialResult] = []
        self.attached_with: tuple | None = None

    def on_attach(self) -> None:
        super().on_attach()
        self.attached_with = (sorted(self.space), self.optimize_mode)

    def tell(self, result: TrialResult) -> None:
        self.told.append(result)


def test_the_strategy_is_told_every_result(tmp_path) -> None:
    search = RecordingGrid()
    exp = RetiariiExperiment(
        ModeNet(), FunctionalEvaluator(misbehave, behaviours={2: "raise"}), None, search
    )
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=4))
    assert search.attached_with == (["mode"], "maximize")
    assert [(r.trial_id, r.sample, r.status, r.value) for r in search.told] == [
        (1, {"mode": 1}, "SUCCEEDED", 1.0),
        (2, {"mode": 2}, "FAILED", None),
        (3, {"mode": 3}, "SUCCEEDED", 3.0),
        (4, {"mode": 4}, "SUCCEEDED", 4.0),
    ]
    assert exp.store.strategy_state() == {"position": 4}


def test_a_strategy_that_proposes_nothing_ends_the_experiment(tmp_path) -> None:
    class Idle(BaseStrategy):
        def propose(self):
            return None

    exp = RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny), None, Idle())
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=5))
    assert exp.list_trial_jobs() == []
    assert exp.get_status() == "DONE"
    assert exp.store.experiment().info["end_reason"] == "strategy proposed nothing"


def test_minimize(tmp_path) -> None:
    search = RecordingGrid()
    exp = RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny), None, search)
    exp.run(make_config(tmp_path, execution="inprocess", optimize_mode="minimize"))
    assert search.attached_with == (["act", "width"], "minimize")
    assert exp.store.experiment().optimize_mode == "minimize"
    assert exp.export_top_models() == [{"width": 1, "act": 0}]
    assert exp.export_top_models(optimize_mode="maximize") == [{"width": 3, "act": 1}]
    assert exp.export_top_models(top_k=2, formatter="dict") == [
        {"width": 1, "act": 0},
        {"width": 1, "act": 1},
    ]


def test_experiment_directory_layout(tmp_path) -> None:
    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(score_tiny), None, strategy.GridSearch(shuffle=False)
    )
    exp.run(make_config(tmp_path, execution="inprocess", experiment_name="layout"))
    assert exp.experiment_dir.parent == tmp_path
    assert exp.experiment_dir.name == exp.id
    assert (exp.experiment_dir / "experiment.db").is_file()
    assert (exp.experiment_dir / "experiment.pkl").is_file()
    assert sorted(p.name for p in (exp.experiment_dir / "trials").iterdir()) == [
        str(i) for i in range(1, 7)
    ]
    record = exp.store.experiment()
    assert record.name == "layout"
    assert record.config["execution"] == "inprocess"
    assert record.info["space_size"] == "6"
    assert record.info["strategy"] == "GridSearch(shuffle=False)"
    assert record.info["model_import"] == "from experiment.spaces import TinyNet"
    assert record.info["model_call"] == "TinyNet()"


def test_trial_logs_are_found_when_the_experiment_directory_is_relative(
    tmp_path, monkeypatch
) -> None:
    # the demo's default: a directory relative to the driver's working directory
    from retiarii.dashboard.views import log_tail

    monkeypatch.chdir(tmp_path)
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(misbehave, behaviours={}),
        None,
        strategy.GridSearch(shuffle=False),
    )
    config = make_config(tmp_path, max_trial_number=2, trial_concurrency=1)
    config.experiment_working_directory = "relative-experiments"  # worker processes log to files
    exp.run(config)
    trials = exp.store.trials()
    assert [t.log_path for t in trials] == ["trials/1/trial.log", "trials/2/trial.log"]
    monkeypatch.chdir("/")  # the dashboard may run anywhere
    directory = tmp_path / "relative-experiments" / exp.id
    assert log_tail(directory, trials[0])[0] == "mode 1: ok\n"
