"""Value choices in the arguments of Lightning evaluators: every place a user can put one."""

from __future__ import annotations

from typing import Any

import cloudpickle
import lightning
import pytest
import torch
import torch.nn.functional as F
from lightning_support import Recorder, digits, digits_loaders, tiny_classifier

import retiarii
import retiarii.evaluator.pytorch.lightning as pl
import retiarii.nn.pytorch as nn
from retiarii.reporting import trial_reporter

QUIET = {"logger": False, "enable_checkpointing": False}


def test_classification_takes_choices_in_every_argument() -> None:
    train, val = digits_loaders()
    evaluator = pl.Classification(
        learning_rate=retiarii.loguniform("lr", 1e-3, 1e-1),
        weight_decay=nn.ValueChoice([0.0, 1e-4], label="wd"),
        optimizer=nn.ValueChoice([torch.optim.Adam, torch.optim.SGD], label="opt"),
        train_dataloaders=train,
        val_dataloaders=val,
        max_epochs=nn.ValueChoice([1, 2], label="epochs"),
        **QUIET,
    )
    assert list(evaluator.search_space()) == ["lr", "wd", "opt", "epochs"]
    assert "loguniform('lr'" in repr(evaluator)
    frozen = evaluator.freeze({"lr": 0.02, "wd": 1e-4, "opt": 0, "epochs": 2})
    module = frozen.module
    assert (module.learning_rate, module.weight_decay) == (0.02, 1e-4)
    assert module.optimizer_class is torch.optim.Adam
    assert frozen.trainer.kwargs["max_epochs"] == 2
    recorder = Recorder()
    with trial_reporter(recorder):
        final = frozen.evaluate(tiny_classifier())
    assert len(recorder.intermediates) == 2 and final > 0.8
    # the template is unchanged, and refuses to run undecided
    with pytest.raises(TypeError, match="value choices in its arguments"):
        evaluator.evaluate(tiny_classifier())


def test_a_bad_value_is_refused_when_the_trial_decides_it() -> None:
    train, val = digits_loaders()
    evaluator = pl.Regression(
        learning_rate=nn.ValueChoice([0.01, -1.0], label="lr"),
        train_dataloaders=train,
        val_dataloaders=val,
    )
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        evaluator.freeze({"lr": -1.0})


def test_dataloader_batch_size_choice() -> None:
    loader = pl.DataLoader(digits(0, 300), batch_size=nn.ValueChoice([50, 100], label="bs"))
    assert loader.batch_size == 50  # usable before a trial decides
    evaluator = pl.Classification(
        train_dataloaders=loader, val_dataloaders=digits_loaders()[1], max_epochs=1, **QUIET
    )
    assert list(evaluator.search_space()) == ["bs"]
    frozen = evaluator.freeze({"bs": 100})
    assert frozen.train_dataloaders.batch_size == 100
    assert len(frozen.train_dataloaders) == 3
    assert evaluator.train_dataloaders is loader
    # it travels to workers with its choices
    shipped = cloudpickle.loads(cloudpickle.dumps(evaluator))
    assert shipped.freeze({"bs": 100}).train_dataloaders.batch_size == 100


class LitClassifier(pl.LightningModule):
    """A user module whose hyperparameters are constructor arguments."""

    def __init__(self, lr: Any, hidden_scale: Any = 1.0) -> None:
        super().__init__()
        self.lr = lr
        self.save_hyperparameters()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.model(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.acc = (self.model(x).argmax(1) == y).float().mean().item()

    def on_validation_epoch_end(self) -> None:
        retiarii.report_intermediate_result(self.acc)

    def teardown(self, stage: str) -> None:
        if stage == "fit":
            retiarii.report_final_result(self.acc)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


@pytest.mark.parametrize("how", ["attributes", "serialize"])
def test_user_lightning_module_arguments(how: str) -> None:
    lr = retiarii.loguniform("lr", 1e-3, 1e-1)
    module = (
        LitClassifier(lr, hidden_scale=2.0)
        if how == "attributes"
        else retiarii.serialize(LitClassifier, lr=lr, hidden_scale=2.0)
    )
    train, val = digits_loaders()
    evaluator = pl.Lightning(
        module, pl.Trainer(max_epochs=1, **QUIET), train_dataloaders=train, val_dataloaders=val
    )
    assert list(evaluator.search_space()) == ["lr"]
    frozen = evaluator.freeze({"lr": 0.03})
    assert frozen.module.lr == 0.03
    assert frozen.module.hparams["lr"] == 0.03
    assert frozen.module is not module and evaluator.module is module
    assert frozen.evaluate(tiny_classifier()) > 0.7


@retiarii.model_wrapper
class Hidden(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, nn.ValueChoice([16, 32], label="hidden"))
        self.fc2 = nn.Linear(nn.ValueChoice([16, 32], label="hidden"), 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


@pytest.mark.slow
def test_classification_choices_in_worker_processes(tmp_path) -> None:
    import retiarii.strategy as strategy
    from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

    evaluator = pl.Classification(
        learning_rate=retiarii.loguniform("lr", 1e-3, 1e-1),
        train_dataloaders=pl.DataLoader(
            digits(0, 1200), batch_size=nn.ValueChoice([100, 200], label="bs"), shuffle=True
        ),
        val_dataloaders=digits_loaders()[1],
        max_epochs=nn.ValueChoice([1, 2], label="epochs"),
    )
    exp = RetiariiExperiment(Hidden(), evaluator, None, strategy.Random(seed=1))
    config = RetiariiExeConfig("local")
    config.experiment_working_directory = str(tmp_path)
    config.trial_concurrency = 2
    config.max_trial_number = 3
    exp.run(config)
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 3, [t.error for t in trials]
    for trial in trials:
        assert set(trial.sample) == {"hidden", "lr", "bs", "epochs"}
        periodical = [
            r for r in exp.get_job_metrics(trial.id)[trial.id] if r["type"] == "PERIODICAL"
        ]
        assert len(periodical) == trial.sample["epochs"]  # the trial trained with its own value
    exp.close()


class Digits(lightning.LightningDataModule):
    def __init__(self, batch_size: Any) -> None:
        super().__init__()
        self.batch_size = batch_size

    def train_dataloader(self) -> Any:
        return torch.utils.data.DataLoader(digits(0, 1200), batch_size=self.batch_size)

    def val_dataloader(self) -> Any:
        return torch.utils.data.DataLoader(digits(1200), batch_size=200)


def test_datamodule_attributes() -> None:
    datamodule = Digits(nn.ValueChoice([64, 128], label="bs"))
    evaluator = pl.Lightning(
        LitClassifier(0.01), pl.Trainer(max_epochs=1, **QUIET), datamodule=datamodule
    )
    assert list(evaluator.search_space()) == ["bs"]
    frozen = evaluator.freeze({"bs": 128})
    assert frozen.datamodule.batch_size == 128
    assert frozen.datamodule.train_dataloader().batch_size == 128
    assert datamodule.batch_size is not frozen.datamodule.batch_size
