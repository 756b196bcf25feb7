"""A one-shot experiment's answer is its newest export, in ``export_top_models()``,
``retiarii export``/``list``/``resume`` and the dashboard's views alike: after a resume (here:
``run()`` again on the same experiment) the continued search's export wins over an older one with
a better metric, the older stays recorded, and a run that finished no epoch records its export
with no metric (never an invented 0) and is still the answer.

A scripted trainer reports the metrics it is given, so each run's metric is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retiarii.cli.main import main as cli
from retiarii.dashboard.views import experiment_view, export_view, list_entry
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.oneshot import BaseOneShotTrainer
from retiarii.oneshot.base import EpochLogs

from .helpers import UsefulOrZero

OLD = {"op": "linear", "pick": [0]}
NEW = {"op": "zero", "pick": [1]}


class Scripted(BaseOneShotTrainer):
    """One epoch per accuracy in ``accuracies`` (none: stopped before an epoch finished), then
    ``sample`` as its export."""

    def __init__(self, sample: dict[str, Any], accuracies: list[float]) -> None:
        self.sample, self.accuracies = sample, accuracies

    def fit(self) -> None:
        for epoch, acc in enumerate(self.accuracies):
            self.notify("on_epoch_end", epoch, EpochLogs(1.0 - acc, {"acc": acc}))

    def export(self) -> dict[str, Any]:
        return dict(self.sample)


def two_runs(tmp_path: Path, second: list[float]) -> RetiariiExperiment:
    """A search whose first run exports ``OLD`` at accuracy 0.9; the second run (as a resume
    does) goes on with the ``second`` epochs and exports ``NEW``."""
    trainer = Scripted(OLD, [0.8, 0.9])
    exp = RetiariiExperiment(UsefulOrZero(), trainer)
    exp.run(RetiariiExeConfig(experiment_working_directory=str(tmp_path)))
    trainer.sample, trainer.accuracies = NEW, second
    exp.run(exp.config)
    return exp


def cli_export(capsys: pytest.CaptureFixture[str], directory: Path, *args: str) -> str:
    capsys.readouterr()
    assert cli(["export", str(directory), *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("second", [[0.5], []], ids=["worse-metric", "no-epoch"])
def test_the_newest_export_is_the_answer_everywhere(tmp_path, capsys, second) -> None:
    exp = two_runs(tmp_path, second)
    old, new = exp.list_trial_jobs()  # nothing recorded is lost
    assert (old.sample, old.final_value) == (OLD, 0.9)
    assert new.sample == NEW and new.status == "SUCCEEDED"
    assert new.final_value == (second[-1] if second else None)
    if not second:
        assert new.final is None  # no metric, not an invented 0

    assert exp.export_top_models() == [NEW]
    assert exp.export_top_models(optimize_mode="minimize") == [NEW]  # no ranking by metric
    assert exp.export_top_models(top_k=5) == [NEW, OLD]  # newest first
    assert "'op': 'zero'" in exp.export_top_models(formatter="code")[0]
    with pytest.raises(ValueError, match="not a Pareto front"):
        exp.export_top_models(pareto=True)

    store, directory = exp.store, exp.experiment_dir
    assert directory is not None
    overview = experiment_view(store)
    assert overview["best"]["id"] == new.id
    assert overview["oneshot_progress"]["exported"] == {
        "trial_id": new.id,
        "sample": NEW,
        "value": new.final_value,
    }
    assert [e["trial_id"] for e in export_view(store, 2)["top"]] == [new.id, old.id]
    entry = list_entry(directory, store)
    assert (entry["best_trial"], entry["best"]) == (new.id, new.final_value)
    exp.close()

    data = json.loads(cli_export(capsys, directory))
    assert [(e["trial_id"], e["metric"], e["sample"]) for e in data["top"]] == [
        (new.id, new.final_value, NEW)
    ]
    code = cli_export(capsys, directory, "-f", "code", "-k", "2")
    first, earlier = code.split("\n# ")
    assert first.startswith("# the architecture exported by Scripted: ")
    assert "'op': 'zero'" in first and "'op': 'linear'" in earlier
    assert earlier.startswith(f"an earlier architecture (trial {old.id}) exported by Scripted: ")
    if second:
        assert "acc 0.5 (maximize)" in first
    else:
        assert "no metric (stopped before an epoch finished)" in first
    capsys.readouterr()
    assert cli(["list", str(tmp_path)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert " 0.9 " not in row  # the older export's better metric is not the answer
    assert (" 0.5 acc (max) " if second else " - ") in row


def test_a_run_that_finished_no_epoch_exports_without_a_metric(tmp_path, capsys) -> None:
    exp = RetiariiExperiment(UsefulOrZero(), Scripted(NEW, []))
    exp.run(RetiariiExeConfig(experiment_working_directory=str(tmp_path)))
    [trial] = exp.list_trial_jobs()
    assert trial.status == "SUCCEEDED" and trial.final is None and trial.final_value is None
    assert exp.export_top_models() == [NEW]
    assert exp.get_job_metrics()[trial.id] == []  # no FINAL record made up
    directory = exp.experiment_dir
    assert directory is not None
    progress = experiment_view(exp.store)["oneshot_progress"]
    assert progress["metric"] is None and progress["exported"]["value"] is None
    exp.close()
    [top] = json.loads(cli_export(capsys, directory))["top"]
    assert top["sample"] == NEW and top["metric"] is None and top["final"] is None
