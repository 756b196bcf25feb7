"""``evaluator.evaluate(model)`` in the current process, and the trainer each evaluation gets."""

from __future__ import annotations

import csv
import signal
import tempfile
from pathlib import Path

import cloudpickle
import lightning
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger
from lightning_support import (
    AutoEncoder,
    Interrupted,
    Recorder,
    digits_loaders,
    digits_regression_loaders,
    tiny_classifier,
)

import retiarii.evaluator.pytorch.lightning as pl
from retiarii.execution import FinalMetric, IntermediateMetric, TrialSucceeded, run_trial
from retiarii.reporting import trial_reporter

QUIET = {"logger": False, "enable_checkpointing": False}


def _accuracy(model: torch.nn.Module, loader) -> float:
    model.eval()
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / len(loader.dataset)


def _mse(model: torch.nn.Module, loader) -> float:
    model.eval()
    with torch.no_grad():
        total = sum(((model(x).squeeze(-1) - y) ** 2).sum().item() for x, y in loader)
    return total / len(loader.dataset)


@pytest.mark.parametrize("spelling", ["train_dataloader", "train_dataloaders"])
def test_classification_reports_validation_accuracy_every_epoch_and_at_the_end(spelling) -> None:
    train, val = digits_loaders()
    evaluator = pl.Classification(
        **{spelling: train}, val_dataloaders=val, max_epochs=3, learning_rate=1e-2, **QUIET
    )
    assert evaluator.train_dataloaders is train
    model = tiny_classifier()
    recorder = Recorder()
    with trial_reporter(recorder):
        final = evaluator.evaluate(model)
    assert len(recorder.intermediates) == 3
    assert recorder.finals == [final] == [recorder.intermediates[-1]]
    # the trained model (the one passed in, trained in place) has exactly that accuracy
    assert final == pytest.approx(_accuracy(model, val), abs=1e-6)
    assert final > 0.8


def test_regression_reports_validation_mse() -> None:
    train, val = digits_regression_loaders()
    evaluator = pl.Regression(
        train_dataloaders=train, val_dataloaders=val, max_epochs=2, learning_rate=1e-2, **QUIET
    )
    assert evaluator.optimize_mode == "minimize"
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    recorder = Recorder()
    with trial_reporter(recorder):
        final = evaluator.evaluate(model)
    assert len(recorder.intermediates) == 2
    assert final == recorder.intermediates[-1]
    assert final == pytest.approx(_mse(model, val), rel=1e-5)


def test_sanity_check_validation_is_not_reported() -> None:
    train, val = digits_loaders()
    evaluator = pl.Classification(
        train_dataloaders=train, val_dataloaders=val, max_epochs=1, num_sanity_val_steps=2, **QUIET
    )
    recorder = Recorder()
    with trial_reporter(recorder):
        evaluator.evaluate(tiny_classifier())
    assert len(recorder.intermediates) == 1


def test_seed000_module_evaluates_in_process_and_leaves_its_template_untouched() -> None:
    train, val = digits_loaders()
    template = AutoEncoder()
    evaluator = pl.Lightning(
        template, pl.Trainer(max_epochs=2, **QUIET), train_dataloader=train, val_dataloaders=val
    )
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    before = encoder[0].weight.detach().clone()
    recorder = Recorder()
    with trial_reporter(recorder):
        final = evaluator.evaluate(encoder)
    assert len(recorder.intermediates) == 2
    assert final == recorder.finals[0] == recorder.intermediates[-1]
    assert not torch.equal(before, encoder[0].weight)  # the candidate itself was trained
    assert not hasattr(template, "model")  # each evaluation used a copy of the template


def test_evaluate_outside_a_trial_returns_the_final_result_and_logs_it(caplog) -> None:
    train, val = digits_loaders()
    evaluator = pl.Classification(
        train_dataloaders=train, val_dataloaders=val, max_epochs=1, **QUIET
    )
    with caplog.at_level("INFO", logger="retiarii.evaluator"):
        final = evaluator.evaluate(tiny_classifier())
    assert isinstance(final, float)
    assert f"final result: {final}" in caplog.text


def test_logs_and_checkpoints_go_to_default_root_dir_outside_a_trial(tmp_path, monkeypatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    train, val = digits_loaders()
    root = tmp_path / "root"
    evaluator = pl.Classification(
        train_dataloaders=train, val_dataloaders=val, max_epochs=2, default_root_dir=str(root)
    )
    evaluator.evaluate(tiny_classifier())
    evaluator.evaluate(tiny_classifier())
    for version in ("version_0", "version_1"):  # a second evaluation does not overwrite the first
        run = root / "lightning_logs" / version
        rows = list(csv.DictReader((run / "metrics.csv").open()))
        assert [float(r["val_acc"]) for r in rows if r.get("val_acc")]
        assert list((run / "checkpoints").glob("*.ckpt"))
    assert list(cwd.iterdir()) == []


def test_without_default_root_dir_outside_a_trial_a_temporary_dir_is_used(
    tmp_path, monkeypatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert tempfile.gettempdir() == str(tmp_path / "tmp")  # conftest.py
    train, val = digits_loaders()
    pl.Classification(train_dataloaders=train, val_dataloaders=val, max_epochs=1).evaluate(
        tiny_classifier()
    )
    assert list(cwd.iterdir()) == []
    (root,) = (tmp_path / "tmp").glob("retiarii-lightning-*")
    assert (root / "lightning_logs" / "version_0" / "metrics.csv").exists()


class _Runner:
    """The smallest trial runner: evaluates a fresh classifier."""

    def __init__(self, evaluator) -> None:
        self.evaluator = evaluator

    def setup(self) -> None:
        pass

    def run(self, sample, trial_dir):
        return self.evaluator.evaluate(tiny_classifier())


def test_in_a_trial_logs_go_to_the_trial_dir_and_reports_become_events(
    tmp_path, monkeypatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    train, val = digits_loaders()
    evaluator = pl.Classification(
        train_dataloaders=train,
        val_dataloaders=val,
        max_epochs=2,
        default_root_dir=str(tmp_path / "ignored"),  # each trial needs its own directory
    )
    # what a worker does: unpickle the evaluator it was sent, then run trials with it
    runner = _Runner(cloudpickle.loads(cloudpickle.dumps(evaluator)))
    events: list = []
    trial_dir = tmp_path / "trials" / "7"
    run_trial(runner, 7, {}, str(trial_dir), events.append, worker="test", redirect=False)
    assert isinstance(events[-1], TrialSucceeded), events[-1]
    intermediates = [e.metric for e in events if isinstance(e, IntermediateMetric)]
    finals = [e.metric for e in events if isinstance(e, FinalMetric)]
    assert len(intermediates) == 2
    assert finals == [intermediates[-1]]
    run = trial_dir / "lightning_logs" / "version_0"
    assert (run / "metrics.csv").exists()
    assert list((run / "checkpoints").glob("*.ckpt"))
    assert not (tmp_path / "ignored").exists()
    assert list(cwd.iterdir()) == []


def test_ctrl_c_stays_a_keyboard_interrupt() -> None:
    # Lightning answers Ctrl-C with sys.exit(1) and ignores SIGINT from then on; an in-process
    # experiment must still stop on Ctrl-C, and Ctrl-C must work afterwards.
    train, val = digits_loaders()
    evaluator = pl.Lightning(Interrupted(), pl.Trainer(max_epochs=1, **QUIET), train, val)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        evaluator.evaluate(tiny_classifier())
    assert signal.getsignal(signal.SIGINT) is handler


# -- the Trainer recipe ----------------------------------------------------------------------------


def test_trainer_builds_a_fresh_lightning_trainer_with_trial_defaults(tmp_path) -> None:
    stop = EarlyStopping(monitor="val_acc", mode="max", patience=1)
    recipe = pl.Trainer(max_epochs=4, callbacks=[stop])
    first, second = recipe.build(str(tmp_path / "a")), recipe.build(str(tmp_path / "b"))
    assert isinstance(first, lightning.Trainer) and first is not second
    assert first.max_epochs == 4
    assert type(first.accelerator).__name__ == "CPUAccelerator"  # 'auto' on this CPU machine
    assert first.num_sanity_val_steps == 0
    assert not first.progress_bar_callback
    assert first.default_root_dir == str(tmp_path / "a")
    assert isinstance(first.logger, CSVLogger)
    assert Path(first.logger.log_dir).is_relative_to(tmp_path / "a")
    # stateful callbacks are copied per build: no early-stopping state leaks between trials
    copies = [c for t in (first, second) for c in t.callbacks if isinstance(c, EarlyStopping)]
    assert len(copies) == 2 and stop not in copies and copies[0] is not copies[1]


def test_trainer_arguments_override_the_defaults(tmp_path) -> None:
    built = pl.Trainer(enable_progress_bar=True, logger=False, num_sanity_val_steps=1).build(
        str(tmp_path)
    )
    assert built.progress_bar_callback is not None
    assert built.logger is None
    assert built.num_sanity_val_steps == 1


def test_trainer_and_evaluators_have_readable_reprs() -> None:
    assert repr(pl.Trainer(max_epochs=10)) == "Trainer(max_epochs=10)"
    train, val = digits_loaders()
    evaluator = pl.Lightning(AutoEncoder(), pl.Trainer(max_epochs=10), train, val)
    assert repr(evaluator) == "Lightning(AutoEncoder, Trainer(max_epochs=10))"
    classification = pl.Classification(train_dataloaders=train, val_dataloaders=val, max_epochs=2)
    assert repr(classification) == "Classification(learning_rate=0.001, max_epochs=2)"


def test_dataloaders_given_after_construction_and_nni_fit() -> None:
    # NNI 2.x: construct the evaluator first, give it data later, then ``evaluator.fit(model)``.
    evaluator = pl.Classification(max_epochs=1, **QUIET)
    train, val = digits_loaders()
    evaluator.train_dataloaders = train
    evaluator.val_dataloaders = val
    accuracy = evaluator.fit(tiny_classifier())
    assert isinstance(accuracy, float) and 0.0 < accuracy <= 1.0


def test_execute_a_model_space_class_as_seed_002_says() -> None:
    import retiarii.nn.pytorch as nn
    from retiarii import model_wrapper

    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(64, nn.ValueChoice([16, 32], label="hidden"))
            self.fc2 = nn.Linear(nn.ValueChoice([16, 32], label="hidden"), 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(torch.relu(self.fc1(x)))

    train, val = digits_loaders()
    evaluator = pl.Classification(
        train_dataloaders=train, val_dataloaders=val, max_epochs=1, **QUIET
    )
    assert 0.0 < evaluator._execute(Net) <= 1.0  # Net, not Net(): built on the first candidates
    with pytest.raises(TypeError, match=r"not Net\(\).*evaluator.evaluate\(model\)"):
        evaluator._execute(Net())


class NniStyleModule(pl.ClassificationModule):
    """Written as NNI 2.10's DARTS tutorial subclasses ClassificationModule."""

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, export_onnx=False)

    def configure_optimizers(self):
        params = self.parameters()
        return torch.optim.SGD(
            params, lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        loss = self.criterion(y_hat, y)
        for name, metric in self.metrics.items():
            self.log("train_" + name, metric(y_hat, y))
        return loss


def test_a_module_written_for_nni_trains_and_validates() -> None:
    torch.manual_seed(0)  # the same data order and initial weights whatever ran before
    train, val = digits_loaders()
    module = NniStyleModule(0.1, 1e-4)
    assert dict(module.hparams) == {"learning_rate": 0.1, "weight_decay": 1e-4}
    assert isinstance(module.criterion, torch.nn.CrossEntropyLoss) and list(module.metrics) == [
        "acc"
    ]
    evaluator = pl.Lightning(module, pl.Trainer(max_epochs=5, **QUIET), train, val)
    model = tiny_classifier()
    final = evaluator.evaluate(model)
    assert final == pytest.approx(_accuracy(model, val), abs=1e-6)  # train_acc did not leak in
    assert final > 0.5  # it learnt (10 classes; 0.65-0.76 over seeds 0-5)
    assert isinstance(pl.RegressionModule().criterion, torch.nn.MSELoss)


@pytest.mark.parametrize("make", [lambda: pl.ClassificationModule(export_onnx=True),
                                  lambda: pl.Classification(export_onnx="model.onnx").module])  # fmt: skip
def test_asking_for_an_onnx_export_is_refused_saying_what_to_do(make) -> None:
    with pytest.raises(TypeError, match=r"\(export_onnx=.*retiarii does not export ONNX; pass "):
        make()
    assert pl.Classification(export_onnx=False).module.learning_rate == 1e-3
