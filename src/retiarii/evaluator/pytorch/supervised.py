"""``Classification`` and ``Regression``: built-in Lightning evaluators for supervised learning.

Each trains ``model(x)`` against ``y`` on ``(x, y)`` batches with a criterion and an optimizer,
computes one validation metric over the whole validation set after every epoch, reports it as an
intermediate result, and reports the last epoch's value as the final result.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn
import torchmetrics

from ...reporting import report_final_result, report_intermediate_result
from ..choices import build_recorded, recorded_call
from .evaluator import Lightning, pick_train_dataloaders
from .module import LightningModule
from .trainer import Trainer, check_trainer_kwargs

__all__ = ["Classification", "ClassificationModule", "Regression", "RegressionModule"]


class _Accuracy(torchmetrics.Metric):
    """Exact accuracy over an epoch, from logits ``[N, C, ...]`` and class indices ``[N, ...]``
    (or, for one logit per example, ``preds > 0`` against 0/1 targets of the same shape)."""

    full_state_update = False
    correct: torch.Tensor
    total: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("correct", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        if preds.ndim == target.ndim + 1:
            predicted = preds.argmax(dim=1)
        elif preds.shape == target.shape:
            predicted = (preds > 0).to(target.dtype)
        else:
            raise ValueError(
                f"Classification: cannot compare model outputs of shape {tuple(preds.shape)} with "
                f"targets of shape {tuple(target.shape)}; expected logits [N, C] and class "
                "indices [N]"
            )
        self.correct += (predicted == target).sum()
        self.total += target.numel()

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.total.clamp(min=1)


def _check_number(value: Any, name: str, strict: bool) -> float:
    relation = "positive" if strict else "non-negative"
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a {relation} number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not (number > 0 if strict else number >= 0):
        raise ValueError(f"{name} must be a {relation} number, got {value!r}")
    return number


class _SupervisedModule(LightningModule):
    """Trains ``self.model`` with ``criterion``; validates ``metric_name`` once per epoch.

    NNI's attributes and arguments, for subclasses written for NNI (its DARTS tutorial's):
    ``self.hparams.learning_rate`` / ``.weight_decay``, ``self.metrics`` (``{metric_name: a
    metric called as metric(outputs, targets)}``, apart from the validation one) and
    ``export_onnx=False`` (None or False only: no ONNX export here).
    """

    metric_name = ""
    default_criterion: Any = None

    def __init__(
        self,
        criterion: Any = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: Callable[..., torch.optim.Optimizer] = torch.optim.Adam,
        export_onnx: Any = None,
    ) -> None:
        super().__init__()
        if export_onnx not in (None, False):
            raise TypeError(
                f"{type(self).__name__}(export_onnx={export_onnx!r}): retiarii does not export "
                "ONNX; pass export_onnx=False (or nothing) and call torch.onnx.export yourself"
            )
        criterion = self.default_criterion if criterion is None else criterion
        if isinstance(criterion, type):
            criterion = criterion()
        if not callable(criterion):
            raise TypeError(
                f"criterion must be a loss class (e.g. nn.CrossEntropyLoss), a loss module or a "
                f"function(outputs, targets), got {criterion!r}"
            )
        if not callable(optimizer):
            raise TypeError(
                f"optimizer must be an optimizer class such as torch.optim.Adam, got {optimizer!r}"
            )
        self.criterion = criterion
        self.learning_rate = _check_number(learning_rate, "learning_rate", strict=True)
        self.weight_decay = _check_number(weight_decay, "weight_decay", strict=False)
        self.optimizer_class = optimizer
        self.hparams.update(learning_rate=self.learning_rate, weight_decay=self.weight_decay)
        self.val_metric = self.make_metric()
        self.metrics = tnn.ModuleDict({self.metric_name: self.make_metric()})
        self.last_value: float | None = None

    def make_metric(self) -> torchmetrics.Metric:
        raise NotImplementedError

    def outputs(self, x: Any, y: torch.Tensor) -> torch.Tensor:
        """The model's outputs for ``x``, shaped to be compared with ``y``."""
        out: torch.Tensor = self.model(x)
        return out

    def forward(self, x: Any) -> Any:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss: torch.Tensor = self.criterion(self.outputs(x, y), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = self.outputs(x, y)
        self.log("val_loss", self.criterion(out, y), sync_dist=True)  # the mean over all ranks
        self.val_metric.update(out, y)

    def on_validation_epoch_end(self) -> None:
        value = float(self.val_metric.compute())
        self.val_metric.reset()
        # `value` already covers every rank (torchmetrics syncs); sync_dist only says so
        self.log(f"val_{self.metric_name}", value, sync_dist=True)
        if not self.trainer.sanity_checking:
            self.last_value = value
            report_intermediate_result(value)

    def teardown(self, stage: str) -> None:
        if stage == "fit" and self.last_value is not None:
            report_final_result(self.last_value)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_class(
            self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )


class ClassificationModule(_SupervisedModule):
    """Cross-entropy training (by default); ``val_acc`` is the validation accuracy."""

    metric_name = "acc"
    default_criterion = tnn.CrossEntropyLoss

    def make_metric(self) -> torchmetrics.Metric:
        return _Accuracy()


class RegressionModule(_SupervisedModule):
    """MSE training (by default); ``val_mse`` is the validation mean squared error."""

    metric_name = "mse"
    default_criterion = tnn.MSELoss

    def make_metric(self) -> torchmetrics.Metric:
        return torchmetrics.MeanSquaredError()

    def outputs(self, x: Any, y: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        if out.shape == (*y.shape, 1):  # one output per example: [N, 1] against targets [N]
            out = out.squeeze(-1)
        return out


_OWN_ARGUMENTS = (
    "criterion",
    "learning_rate",
    "weight_decay",
    "optimizer",
    "train_dataloaders",
    "train_dataloader",
    "val_dataloaders",
    "datamodule",
    "export_onnx",
)


class _Supervised(Lightning):
    """The constructor of :class:`Classification` and :class:`Regression` (see its arguments
    there); ``criterion=None`` is the module's ``default_criterion``."""

    module_class: type[_SupervisedModule]

    def __init__(
        self,
        criterion: Any = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: Callable[..., torch.optim.Optimizer] = torch.optim.Adam,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: Any = None,
        *,
        train_dataloader: Any = None,
        export_onnx: Any = None,
        **trainer_kwargs: Any,
    ) -> None:
        name = type(self).__name__
        trainer_kwargs = check_trainer_kwargs(trainer_kwargs, name, _OWN_ARGUMENTS)
        train = pick_train_dataloaders(train_dataloaders, train_dataloader)
        # Value choices (learning_rate=loguniform(...)) are recorded, and the module is rebuilt
        # with each trial's values (which are checked then).
        module = build_recorded(
            self.module_class,
            (criterion, learning_rate, weight_decay, optimizer),
            {"export_onnx": export_onnx} if export_onnx is not None else {},
        )
        super().__init__(module, Trainer(**trainer_kwargs), train, val_dataloaders, datamodule)

    def __repr__(self) -> str:
        module = self.module
        assert isinstance(module, _SupervisedModule)
        recorded = recorded_call(module)
        lr = recorded[1][1] if recorded is not None else module.learning_rate
        args = [
            f"learning_rate={lr:g}" if isinstance(lr, (int, float)) else f"learning_rate={lr!r}"
        ]
        args += [f"{k}={v!r}" for k, v in self.trainer.kwargs.items()]
        return f"{type(self).__name__}({', '.join(args)})"


class Classification(_Supervised):
    """Train a classifier; report validation accuracy after each epoch and at the end.

    Args:
        criterion: Loss class (instantiated), loss module or function; default (None)
            ``nn.CrossEntropyLoss``.
        learning_rate: Of the optimizer.
        weight_decay: Of the optimizer.
        optimizer: Optimizer class, called as ``optimizer(params, lr=..., weight_decay=...)``.
        train_dataloaders: ``(x, y)`` batches to train on (``train_dataloader``: seed 002's name).
        val_dataloaders: ``(x, y)`` batches the accuracy is computed on (required, now or later).
        datamodule: A ``LightningDataModule`` instead of the dataloaders.
        export_onnx: NNI's; only None or False (retiarii exports no ONNX).
        **trainer_kwargs: ``lightning.Trainer`` arguments, e.g. ``max_epochs=10``.

    The model maps ``x`` to logits ``[N, C]``; the accuracy is exact over the validation set.
    Every argument may be a value choice or distribution (``learning_rate=loguniform('lr', 1e-4,
    1e-1)``, ``max_epochs=ValueChoice([5, 10])``): it is searched with the architecture.

    Example:
        >>> evaluator = Classification(  # doctest: +SKIP
        ...     train_dataloader=DataLoader(train, batch_size=100),
        ...     val_dataloaders=DataLoader(test, batch_size=100), max_epochs=10)
    """

    module_class = ClassificationModule
    optimize_mode = "maximize"


class Regression(_Supervised):
    """Train a regressor; report validation MSE (lower is better: use ``optimize_mode='minimize'``).

    The arguments are those of :class:`Classification`; the default (None) ``criterion`` is
    ``nn.MSELoss``. Outputs ``[N, 1]`` are compared with targets ``[N]`` element by element.
    """

    module_class = RegressionModule
    optimize_mode = "minimize"
