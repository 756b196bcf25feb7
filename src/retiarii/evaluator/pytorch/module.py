"""``LightningModule``: a Lightning module that receives the candidate model through ``set_model``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning
import torch.nn as tnn

__all__ = ["LightningModule"]


class LightningModule(lightning.LightningModule):
    """Lightning's ``LightningModule``, plus the slot for the architecture being evaluated.

    Write the training code as for any Lightning module, and use ``self.model`` for the network
    that is searched for: the evaluator calls :meth:`set_model` after ``__init__`` (on a fresh copy
    of your module for every trial). Report with ``retiarii.report_intermediate_result`` in
    ``on_validation_epoch_end`` and ``retiarii.report_final_result`` in ``teardown(stage='fit')``.

    Example:
        >>> class AutoEncoder(LightningModule):  # doctest: +SKIP
        ...     def training_step(self, batch, batch_idx):
        ...         x, _ = batch
        ...         return F.mse_loss(self.decoder(self.model(x)), x)
    """

    def set_model(self, model: tnn.Module | Callable[[], tnn.Module]) -> None:
        """Make ``model`` (a module, or a callable that builds one) available as ``self.model``."""
        if not isinstance(model, tnn.Module):
            if not callable(model):
                raise TypeError(
                    f"set_model(model): model must be a torch.nn.Module or a callable that "
                    f"returns one, got {type(model).__name__}"
                )
            built: Any = model()
            if not isinstance(built, tnn.Module):
                raise TypeError(
                    f"set_model(model): calling {model!r} gave a {type(built).__name__}, "
                    "not a torch.nn.Module"
                )
            model = built
        self.model = model
