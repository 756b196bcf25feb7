"""Model spaces, modules and data shared by the Lightning evaluator tests.

Module-level, so that worker processes import them by name (this directory is on ``sys.path`` in
the tests and is passed on to the workers). The directory has no ``__init__.py`` on purpose: a
``tests/lightning`` package would shadow the real ``lightning`` package.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import retiarii
import retiarii.nn.pytorch as nn
import retiarii.trainer.pytorch.lightning as pl
from retiarii import blackbox_module, model_wrapper


@functools.cache
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)


def digits(start: int = 0, stop: int | None = None) -> TensorDataset:
    """scikit-learn's 8x8 digits (1,797 images, 64 features in [0, 1], 10 classes)."""
    x, y = _digits()
    return TensorDataset(x[start:stop], y[start:stop])


def digits_loaders(batch_size: int = 100) -> tuple[Any, Any]:
    """``(train, val)`` loaders: the first 1,200 digits and the remaining 597."""
    return (
        pl.DataLoader(digits(0, 1200), batch_size=batch_size, shuffle=True),
        pl.DataLoader(digits(1200), batch_size=200),
    )


# -- seed 000: an autoencoder whose encoder is searched for --------------------------------------


@model_wrapper
class Encoder(nn.Module):
    """64 -> hidden -> 3; ``hidden`` is the only decision (2 architectures)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, nn.ValueChoice([8, 32], label="hidden")),
            nn.ReLU(),
            nn.Linear(nn.ValueChoice([8, 32], label="hidden"), 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@blackbox_module
class AutoEncoder(pl.LightningModule):
    """Seed 000's module, verbatim but for the input size (64 digit pixels instead of 28*28) and
    the unused labels (``_y``)."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedding = self.model(x)  # let's search for encoder
        return embedding

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, _y = batch
        x = x.view(x.size(0), -1)
        z = self.model(x)  # model is the one that is searched for
        x_hat = self.decoder(z)
        loss = F.mse_loss(x_hat, x)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, _y = batch
        x = x.view(x.size(0), -1)
        z = self.model(x)
        x_hat = self.decoder(z)
        loss = F.mse_loss(x_hat, x)
        self.log("val_loss", loss)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
        return optimizer

    def on_validation_epoch_end(self) -> None:
        retiarii.report_intermediate_result(self.trainer.callback_metrics["val_loss"].item())

    def teardown(self, stage: str) -> None:
        if stage == "fit":
            retiarii.report_final_result(self.trainer.callback_metrics["val_loss"].item())


# -- seed 002: a classifier space; one candidate breaks inside Lightning's fit ---------------------


class Exploding(nn.Module):
    """An activation that raises: its trial must fail with the traceback, the others not."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("Exploding activation: this candidate is broken on purpose")


@model_wrapper
class DigitsNet(nn.Module):
    """64 -> 32 -> {ReLU | Tanh | Exploding} -> 10 (3 architectures)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.act = nn.LayerChoice(
            {"relu": nn.ReLU(), "tanh": nn.Tanh(), "exploding": Exploding()}, label="act"
        )
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


@model_wrapper
class DigitsRegressor(nn.Module):
    """Predicts the digit's value as a number: width 1 (nearly linear) or 64 (2 architectures)."""

    def __init__(self) -> None:
        super().__init__()
        width = nn.ValueChoice([1, 64], label="width")
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def digits_regression_loaders() -> tuple[Any, Any]:
    """Digits with the label as a float target: ``(x [N, 64], y [N])``."""
    x, y = _digits()
    train = TensorDataset(x[:1200], y[:1200].float())
    val = TensorDataset(x[1200:], y[1200:].float())
    return pl.DataLoader(train, batch_size=100, shuffle=True), pl.DataLoader(val, batch_size=300)


class NonNumericReporter(pl.LightningModule):
    """Reports a string as its intermediate result."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.model(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        pass

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def on_validation_epoch_end(self) -> None:
        retiarii.report_intermediate_result("excellent")


def tiny_classifier() -> torch.nn.Module:
    """A plain (already frozen) model for the digits."""
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


class Recorder:
    """A reporter that keeps what it is given (install with ``retiarii.reporting.trial_reporter``)."""

    def __init__(self) -> None:
        self.intermediates: list[Any] = []
        self.finals: list[Any] = []

    def intermediate(self, metric: Any) -> None:
        self.intermediates.append(metric)

    def final(self, metric: Any) -> None:
        self.finals.append(metric)


class Interrupted(pl.LightningModule):
    """Training is interrupted by Ctrl-C (what Lightning turns into ``sys.exit(1)``)."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        raise KeyboardInterrupt

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        pass

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)
