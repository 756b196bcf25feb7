"""Lightning evaluators inside ``RetiariiExperiment``: seed 000 and seed 002, end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from lightning_support import (
    AutoEncoder,
    DigitsNet,
    DigitsRegressor,
    Encoder,
    digits_loaders,
    digits_regression_loaders,
)

import retiarii.strategy as strategy
import retiarii.trainer.pytorch.lightning as pl
from retiarii.experiment import Pruner
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment


def _config(tmp_path: Path, **fields) -> RetiariiExeConfig:
    config = RetiariiExeConfig("local")
    config.experiment_working_directory = str(tmp_path / "experiments")
    for name, value in fields.items():
        setattr(config, name, value)
    return config


def _records(exp: RetiariiExperiment, trial_id: int) -> tuple[list[float], list[float]]:
    records = exp.get_job_metrics(trial_id)[trial_id]
    periodical = [r["data"] for r in records if r["type"] == "PERIODICAL"]
    final = [r["data"] for r in records if r["type"] == "FINAL"]
    return periodical, final


def test_seed000_autoencoder_in_worker_processes(tmp_path, monkeypatch) -> None:
    cwd = tmp_path / "cwd"  # the user's working directory: nothing may be written there
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    train, val = digits_loaders()
    lightning = pl.Lightning(
        AutoEncoder(),
        pl.Trainer(max_epochs=2),
        train_dataloader=pl.DataLoader(train.dataset, batch_size=100),
        val_dataloaders=pl.DataLoader(val.dataset, batch_size=100),
    )
    exp = RetiariiExperiment(Encoder(), lightning, None, strategy.GridSearch(shuffle=False))
    exp.run(_config(tmp_path, trial_concurrency=2, max_trial_number=2))

    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"], [t.error for t in trials]
    assert sorted(t.sample["hidden"] for t in trials) == [8, 32]
    assert exp.experiment_dir is not None
    for trial in trials:
        periodical, final = _records(exp, trial.id)
        assert len(periodical) == 2, periodical  # one per epoch, none from a sanity check
        assert final == [periodical[-1]] == [trial.final]  # teardown read the last val_loss
        run = exp.experiment_dir / "trials" / str(trial.id) / "lightning_logs" / "version_0"
        rows = list(csv.DictReader((run / "metrics.csv").open()))
        logged = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
        assert logged == pytest.approx(periodical)
        assert list((run / "checkpoints").glob("*.ckpt"))
    assert list(cwd.iterdir()) == []


def test_seed002_classification_a_failing_trial_does_not_stop_the_others(tmp_path) -> None:
    train, val = digits_loaders()
    evaluator = pl.Classification(
        train_dataloaders=train, val_dataloaders=val, max_epochs=2, learning_rate=1e-2
    )
    exp = RetiariiExperiment(DigitsNet(), evaluator, None, strategy.GridSearch(shuffle=False))
    exp.run(_config(tmp_path, trial_concurrency=2, max_trial_number=3))

    by_act = {t.sample["act"]: t for t in exp.list_trial_jobs()}
    assert sorted(by_act) == ["exploding", "relu", "tanh"]
    broken = by_act["exploding"]
    assert broken.status == "FAILED"
    assert "Traceback" in broken.error
    assert "RuntimeError: Exploding activation: this candidate is broken on purpose" in broken.error
    assert "lightning/pytorch" in broken.error  # it failed inside Lightning's fit loop
    for act in ("relu", "tanh"):
        trial = by_act[act]
        assert trial.status == "SUCCEEDED", trial.error
        periodical, final = _records(exp, trial.id)
        assert len(periodical) == 2
        assert final == [periodical[-1]]
        assert 0.5 < trial.final <= 1.0
    assert exp.get_status() == "DONE"


def test_regression_minimizes_mse(tmp_path) -> None:
    train, val = digits_regression_loaders()
    evaluator = pl.Regression(
        train_dataloaders=train,
        val_dataloaders=val,
        max_epochs=3,
        learning_rate=1e-2,
        logger=False,
        enable_checkpointing=False,
    )
    exp = RetiariiExperiment(DigitsRegressor(), evaluator, None, strategy.GridSearch(shuffle=False))
    exp.run(
        _config(tmp_path, execution="inprocess", optimize_mode=evaluator.optimize_mode)
    )  # 'minimize'
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED"]
    finals = {t.sample["width"]: t.final for t in trials}
    assert all(value > 0 for value in finals.values())
    best = exp.export_top_models(formatter="dict")[0]
    assert finals[best["width"]] == min(finals.values())
    assert exp.store.best_trials(1)[0].final == min(finals.values())


class _StopAtStep(Pruner):
    """Stops every trial once it reported ``step`` results."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def decide(self, trial_id: int, step: int) -> str | None:
        return f"reached step {self.step}" if step >= self.step else None


@pytest.mark.parametrize("execution", ["inprocess", "process"])
def test_a_pruned_trial_stops_the_trainer_at_the_end_of_an_epoch(tmp_path, execution) -> None:
    train, val = digits_regression_loaders()
    evaluator = pl.Regression(train_dataloaders=train, val_dataloaders=val, max_epochs=8)
    exp = RetiariiExperiment(
        DigitsRegressor(),
        evaluator,
        None,
        strategy.GridSearch(shuffle=False),
        pruner=_StopAtStep(2),
    )
    exp.run(_config(tmp_path, execution=execution, max_trial_number=1))

    [trial] = exp.list_trial_jobs()
    assert trial.status == "EARLY_STOPPED", trial.error
    assert trial.error == "_StopAtStep: reached step 2"
    periodical, final = _records(exp, trial.id)
    # in-process the decision reaches the epoch it was made on; a worker sees it asynchronously:
    # at that epoch's end when the message is quick, usually one epoch later (later still on a
    # busy machine), never before the step that decided it and never all 8 epochs
    if execution == "inprocess":
        assert len(periodical) == 2, periodical
    else:
        assert 2 <= len(periodical) < 8, periodical
    assert trial.final == periodical[-1]  # the last intermediate is what the strategy is told
    assert final == [periodical[-1]]  # teardown still ran: Lightning stopped cleanly, no kill
    assert exp.experiment_dir is not None
    if execution == "process":
        log = (exp.experiment_dir / "trials" / str(trial.id) / "trial.log").read_text()
        epoch = len(periodical) - 1  # Lightning counts epochs from 0
        assert f"early-stopping at the end of epoch {epoch}: _StopAtStep: reached step 2" in log
