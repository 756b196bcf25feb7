"""Lightning evaluators: ``retiarii.evaluator.pytorch.lightning`` (seed 002's path).

Importing this module imports ``lightning`` (the ``retiarii[lightning]`` extra). Seed 000's path,
``retiarii.trainer.pytorch.lightning``, gives the same objects.

* :class:`LightningModule` — subclass it; ``self.model`` is the architecture being evaluated.
* :class:`Lightning` — ``Lightning(module, Trainer(...), train_dataloaders=..., val_dataloaders=...)``.
* :class:`Trainer` — ``lightning.Trainer``'s arguments, built into a fresh trainer per trial.
* :class:`DataLoader` — ``torch.utils.data.DataLoader`` (it travels to workers with cloudpickle)
  whose arguments may be value choices (``batch_size=ValueChoice([32, 64])``).
* :class:`Classification` / :class:`Regression` — built-in evaluators reporting validation
  accuracy / MSE.

What this deliberately does not do: ship a live ``lightning.Trainer`` (its arguments travel and a
new one is built per trial); wrap ``DataLoader`` or datasets in tracing classes (cloudpickle ships
them as they are; NNI's ``nni.trace`` wrappers are not needed); run multi-device strategies inside a
trial worker (``devices=1`` by default: DDP would relaunch the worker's command line); export ONNX
or save hyperparameters. Lightning's own exceptions are not caught: they fail the trial, with the
traceback, like any other exception.
"""

from __future__ import annotations

from .dataloader import DataLoader
from .evaluator import Lightning
from .module import LightningModule
from .supervised import Classification, ClassificationModule, Regression, RegressionModule
from .trainer import Trainer

__all__ = [
    "Classification",
    "ClassificationModule",
    "DataLoader",
    "Lightning",
    "LightningModule",
    "Regression",
    "RegressionModule",
    "Trainer",
]
