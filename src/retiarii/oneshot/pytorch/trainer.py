"""What the built-in one-shot trainers share: arguments, the epoch loop, logging, progress.

One process, one device
-----------------------
:class:`~.darts.DartsTrainer`, :class:`~.darts.GumbelDartsTrainer`, :class:`~.enas.EnasTrainer`,
:class:`~.proxyless.ProxylessTrainer` and :class:`~.spos.SinglePathTrainer` (seed 004's API) train
in the calling process on one ``device``. They are not data-parallel, and wrapping them does not
make them so:

* ``torch.nn.parallel.DistributedDataParallel(model)`` does not work: the trainer replaces the
  model's choices and adds architecture parameters *after* you built the model (DDP would not
  know them), and every step runs several backward passes into subsets of the parameters, which
  DDP's gradient reducer refuses.
* ``torchrun`` running a script that uses a trainer starts independent searches, one per process,
  each on the whole dataset (the trainers make their own data loaders, without a
  ``DistributedSampler``, and do not average gradients), each exporting its own architecture.
* ``torch.nn.DataParallel`` is neither tested nor supported with them.

To search on several devices, use the same algorithms as strategies with a Lightning evaluator,
whose ``Trainer`` runs them data-parallel (any DDP strategy; gradients of the weights and of the
architecture are averaged over the processes, rank 0 records the experiment):

.. code-block:: python

    import retiarii.evaluator.pytorch.lightning as pl
    import retiarii.strategy as strategy
    from retiarii.experiment.pytorch import RetiariiExperiment

    # DartsTrainer(model, loss, metrics, optimizer, num_epochs=50, dataset=train, batch_size=64)
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(train_half, batch_size=64, shuffle=True),
        val_dataloaders=pl.DataLoader(valid_half, batch_size=64),
        max_epochs=50, accelerator="gpu", devices=4, strategy="ddp",
    )
    exp = RetiariiExperiment(model, evaluator, None, strategy.DARTS())
    exp.run()

``DartsTrainer`` → ``strategy.DARTS()`` (first order only), ``GumbelDartsTrainer`` →
``strategy.GumbelDARTS()``, ``EnasTrainer`` → ``strategy.ENAS()``, ``ProxylessTrainer`` →
``strategy.Proxyless()``, ``SinglePathTrainer`` → ``strategy.RandomOneShot()``. Second-order
(``unrolled=True``) DARTS exists only as :class:`~.darts.DartsTrainer`, on one device. See
:mod:`retiarii.oneshot.pytorch.lightning` for what each DDP launch mode does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn as tnn

from ..base import BaseOneShotTrainer, EpochLogs
from .utils import AverageMeterGroup, default_device, to_device

__all__ = ["SupernetTrainer"]

_logger = logging.getLogger("retiarii.oneshot")

Metrics = Callable[[Any, Any], Any]


def _as_dict(metrics: Any) -> dict[str, float]:
    if isinstance(metrics, dict):
        return {str(k): float(v) for k, v in metrics.items()}
    return {"metric": float(metrics)}


class SupernetTrainer(BaseOneShotTrainer):
    """Base of the built-in trainers: one epoch loop, meters, callbacks. One process, one device
    (see the module's documentation for searching on several devices).

    Subclasses implement :meth:`train_epoch` (returning the epoch's meters), :meth:`export`, and
    optionally :meth:`export_probs` and :meth:`after_fit` (a search phase after training).
    """

    def __init__(
        self,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        *,
        batch_size: int,
        workers: int,
        device: torch.device | str | None,
        log_frequency: int | None,
    ) -> None:
        if not isinstance(model, tnn.Module):
            raise TypeError(f"model must be a torch.nn.Module (a model space), got {model!r}")
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise ValueError(f"num_epochs must be a non-negative int, got {num_epochs!r}")
        self.model = model
        self.loss = loss
        self.metrics = metrics
        self.optimizer = optimizer
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.workers = workers
        self.device = default_device(device)
        self.log_frequency = log_frequency
        self.history: list[EpochLogs] = []

    # -- hooks for subclasses --------------------------------------------------------------
    def train_epoch(self, epoch: int) -> AverageMeterGroup:
        """Train (and search) for one epoch; return the meters of its steps."""
        raise NotImplementedError

    def after_fit(self) -> None:
        """A search phase after training (e.g. evolution); nothing by default."""

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: probability}}`` of the current search state (if it has one)."""
        return {}

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> None:
        """Train and search for ``num_epochs`` epochs (then :meth:`after_fit`)."""
        self.notify("on_fit_start")
        for epoch in range(self.num_epochs):
            started = time.perf_counter()
            meters = self.train_epoch(epoch)
            summary = meters.summary()
            loss = summary.pop("loss", None)
            logs = EpochLogs(loss, summary, self.export_probs())
            self.history.append(logs)
            _logger.info(
                "%s epoch %d/%d (%.1fs): %s",
                type(self).__name__,
                epoch + 1,
                self.num_epochs,
                time.perf_counter() - started,
                meters,
            )
            self.notify("on_epoch_end", epoch, logs)
        self.after_fit()
        self.notify("on_fit_end")

    # -- helpers -------------------------------------------------------------------------------
    def run_steps(
        self,
        phase: str,
        epoch: int,
        loaders: Sequence[Iterable[Any]],
        step: Callable[..., tuple[Any, torch.Tensor]],
    ) -> AverageMeterGroup:
        """Train mode, then ``step(*batches)`` for the batches of ``loaders`` taken together (moved
        to the device); the first loader's ``(x, y)`` batch and the step's ``(logits, loss)``
        give the metrics of the step."""
        self.model.train()
        meters = AverageMeterGroup()
        total = min(len(loader) for loader in loaders)  # type: ignore[arg-type]
        for index, batches in enumerate(zip(*loaders)):
            batches = tuple(to_device(batch, self.device) for batch in batches)
            logits, loss = step(*batches)
            meters.update(self._step_metrics(logits, batches[0][1], loss))
            self._log_step(phase, epoch, index, total, meters)
        return meters

    def _step_metrics(self, logits: Any, target: Any, loss: torch.Tensor) -> dict[str, float]:
        out = _as_dict(self.metrics(logits, target)) if self.metrics is not None else {}
        out["loss"] = loss.item()
        return out

    def _log_step(
        self, phase: str, epoch: int, step: int, total: int, meters: AverageMeterGroup
    ) -> None:
        if self.log_frequency is not None and step % self.log_frequency == 0:
            _logger.info(
                "%s epoch [%d/%d] step [%d/%d]  %s",
                phase,
                epoch + 1,
                self.num_epochs,
                step + 1,
                total,
                meters,
            )

    def _weight_parameters(self, arch_parameters: Iterable[torch.Tensor]) -> list[tnn.Parameter]:
        """The model's trainable weights: its parameters minus the architecture parameters.

        The optimizer was made before the trainer added the architecture parameters, so it does
        not hold them.
        """
        arch = {id(p) for p in arch_parameters}
        return [p for p in self.model.parameters() if id(p) not in arch and p.requires_grad]
