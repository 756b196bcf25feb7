"""Under a one-shot strategy the user's LightningModule behaves as under Lightning: its
configure_optimizers (schedulers with interval/frequency, ReduceLROnPlateau with monitor) is
parsed by Lightning, and its hooks run."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("lightning")

import retiarii.evaluator.pytorch.lightning as pl
import retiarii.strategy as strategy
from retiarii.experiment.pytorch import RetiariiExperiment

from .helpers import UsefulOrZero, separable

HOOKS = [
    "setup", "on_fit_start", "on_train_start", "on_train_epoch_start", "on_train_batch_start",
    "on_train_batch_end", "on_validation_epoch_start", "on_validation_epoch_end",
    "on_train_epoch_end", "on_train_end", "on_fit_end", "teardown",
]  # fmt: skip


class Recording(pl.LightningModule):
    calls: ClassVar[list[str]] = []
    lrs: ClassVar[list[float]] = []

    def __init__(self, scheduler: str) -> None:
        super().__init__()
        self.scheduler = scheduler

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("never_improves", 1.0)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.08)
        if self.scheduler == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "interval": "epoch", "frequency": 2}}  # fmt: skip
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": plateau, "monitor": "never_improves"}

    def on_train_epoch_end(self) -> None:
        self.calls.append("on_train_epoch_end")
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])


for _hook in HOOKS:
    if _hook not in Recording.__dict__:

        def _record(self: Recording, *args: Any, _name: str = _hook, **kwargs: Any) -> None:
            self.calls.append(_name)

        setattr(Recording, _hook, _record)


def evaluator(tmp_path, scheduler: str) -> pl.Lightning:
    data = separable(n=128)
    return pl.Lightning(
        Recording(scheduler),
        pl.Trainer(max_epochs=4, default_root_dir=str(tmp_path), enable_progress_bar=False,
                   logger=False, enable_checkpointing=False),
        train_dataloaders=pl.DataLoader(data, batch_size=32),
        val_dataloaders=pl.DataLoader(data, batch_size=64),
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path / "experiments"))
    Recording.calls.clear()
    Recording.lrs.clear()


@pytest.mark.parametrize("scheduler", ["step", "plateau"])
def test_schedulers_are_stepped_as_lightning_would(tmp_path, scheduler):
    exp = RetiariiExperiment(UsefulOrZero(), evaluator(tmp_path, scheduler), None, strategy.DARTS())
    exp.run()
    one_shot = list(Recording.lrs)
    Recording.lrs.clear()
    evaluator(tmp_path, scheduler).evaluate(_plain())
    assert one_shot == pytest.approx(Recording.lrs)  # the lr of every epoch, as under Lightning
    assert one_shot[-1] < 0.08


def _plain() -> torch.nn.Module:
    from retiarii import fixed_arch

    with fixed_arch({"op": "linear", "pick": [0]}, verbose=False):
        return UsefulOrZero()


def test_the_users_hooks_run_under_a_one_shot_strategy(tmp_path):
    exp = RetiariiExperiment(UsefulOrZero(), evaluator(tmp_path, "step"), None, strategy.ENAS())
    exp.run()
    under_strategy = set(Recording.calls)
    Recording.calls.clear()
    evaluator(tmp_path, "step").evaluate(_plain())
    assert under_strategy == set(Recording.calls) == set(HOOKS)
