"""One-shot search inside Lightning: ``strategy.DARTS()`` and friends with a Lightning evaluator.

``RetiariiExperiment(space, pl.Classification(...), None, strategy.DARTS())`` turns the space, the
evaluator and the strategy into a :class:`LightningOneShotTrainer`: the evaluator's
``LightningModule`` (a deep copy) gets the supernet as ``self.model`` and is wrapped in a
:class:`OneShotModule`, which a ``lightning.Trainer`` built from the evaluator's ``Trainer(...)``
fits. So one-shot search gets Lightning's loops, logging, callbacks, precision and devices.

The wrapper optimises by hand (``automatic_optimization = False``): the user's
``configure_optimizers`` gives the weight optimizers (architecture parameters are removed from
them), the algorithm adds its own; the loss of a batch is the user's ``training_step``. Algorithms
that learn the architecture on held-out data (DARTS, GumbelDARTS, ENAS, ProxylessNAS) train on
``{"train": train batch, "val": validation batch}`` (the evaluator's two dataloaders combined,
the shorter one cycled); the validation loop runs the user's ``validation_step`` on the current
best architecture. Lightning's ``gradient_clip_val`` does not apply to manual optimisation: pass
``gradient_clip_val`` to the strategy instead.

The algorithms are in :mod:`.lightning_modules`. What this does not do: second-order DARTS (use
:class:`~.darts.DartsTrainer`), evaluators built on a ``LightningDataModule``, or learning-rate
schedulers with ``interval='step'`` semantics other than being stepped once per batch.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping
from typing import Any

import lightning
import torch
import torch.nn as tnn
from lightning.pytorch.utilities import CombinedLoader

from ...evaluator.pytorch.lightning import Lightning, LightningModule
from ..base import BaseOneShotTrainer, EpochLogs

__all__ = ["LightningOneShotTrainer", "OneShotModule"]


def _split_optimizers(config: Any) -> tuple[list[torch.optim.Optimizer], list[tuple[Any, str]]]:
    """``configure_optimizers()``'s result as (optimizers, [(scheduler, interval)])."""
    if config is None:
        raise ValueError("the evaluator's configure_optimizers() returned no optimizer")
    if isinstance(config, torch.optim.Optimizer):
        return [config], []
    if isinstance(config, Mapping):
        scheduler = config.get("lr_scheduler")
        schedulers = []
        if scheduler is not None:
            if isinstance(scheduler, Mapping):
                schedulers.append((scheduler["scheduler"], scheduler.get("interval", "epoch")))
            else:
                schedulers.append((scheduler, "epoch"))
        return [config["optimizer"]], schedulers
    if (
        isinstance(config, (list, tuple))
        and len(config) == 2
        and isinstance(config[0], (list, tuple))
    ):
        optimizers, _ = _split_optimizers(list(config[0]))
        schedulers = [
            (s["scheduler"], s.get("interval", "epoch")) if isinstance(s, Mapping) else (s, "epoch")
            for s in config[1]
        ]
        return optimizers, schedulers
    if isinstance(config, (list, tuple)):
        optimizers, schedulers = [], []
        for item in config:
            o, s = _split_optimizers(item)
            optimizers += o
            schedulers += s
        return optimizers, schedulers
    raise TypeError(f"cannot read the optimizers of configure_optimizers() = {config!r}")


class OneShotModule(lightning.LightningModule):
    """Wraps the evaluator's module (whose ``model`` is the supernet) for one-shot search.

    Subclasses implement :meth:`training_step`, :meth:`arch_parameters`,
    :meth:`configure_arch_optimizers`, :meth:`export` and optionally :meth:`export_probs` and
    :meth:`prepare_eval` (the path to validate).
    """

    needs_validation_batches = True

    def __init__(self, user: LightningModule, gradient_clip_val: float | None = None) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.user = user
        self.gradient_clip_val = gradient_clip_val
        self.owner: BaseOneShotTrainer | None = None
        self._n_user_optimizers = 0
        self._schedulers: list[tuple[Any, str]] = []
        self._weights: list[tnn.Parameter] = []

    # -- the algorithm -------------------------------------------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        """Parameters the algorithm optimises (kept out of the user's optimizers)."""
        return []

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        """The algorithm's optimizers (after the user's)."""
        return []

    def export(self) -> dict[str, Any]:
        """The architecture found, as a sample."""
        raise NotImplementedError

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: probability}}`` of the search state (if any)."""
        return {}

    def prepare_eval(self) -> None:
        """Set the supernet to the architecture to validate (nothing by default)."""

    def after_fit(self, train: Any, valid: Any) -> None:
        """A search phase after fitting, on the evaluator's dataloaders (nothing by default)."""

    # -- the user's module ---------------------------------------------------------------------
    def _user_call(self, hook: str, *args: Any) -> Any:
        self.user._current_fx_name = self._current_fx_name
        return getattr(self.user, hook)(*args)

    def user_loss(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """The loss of ``batch``: what the user's ``training_step`` returns."""
        out = self._user_call("training_step", batch, batch_idx)
        loss: torch.Tensor = out["loss"] if isinstance(out, Mapping) else out
        return loss

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.user(*args, **kwargs)

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self._user_call("validation_step", batch, batch_idx)

    def on_validation_epoch_start(self) -> None:
        self.prepare_eval()
        self._user_call("on_validation_epoch_start")

    def on_validation_epoch_end(self) -> None:
        self._user_call("on_validation_epoch_end")

    def on_train_epoch_start(self) -> None:
        self._user_call("on_train_epoch_start")

    def teardown(self, stage: str) -> None:
        self.user.teardown(stage)

    def configure_optimizers(self) -> Any:
        optimizers, self._schedulers = _split_optimizers(self.user.configure_optimizers())
        arch = {id(p) for p in self.arch_parameters()}
        for optimizer in optimizers:  # the user's optimizers see self.parameters(): drop alpha
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in arch]
        self._n_user_optimizers = len(optimizers)
        self._weights = [p for p in self.user.parameters() if id(p) not in arch and p.requires_grad]
        return optimizers + self.configure_arch_optimizers()

    def _optimizers(self) -> list[Any]:
        found = self.optimizers()
        return list(found) if isinstance(found, (list, tuple)) else [found]

    def weight_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One step of the user's optimizers on ``batch`` (backward into the weights only)."""
        optimizers = self._optimizers()[: self._n_user_optimizers]
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss = self.user_loss(batch, batch_idx)
        self.manual_backward(loss, inputs=self._weights)
        for optimizer in optimizers:
            if self.gradient_clip_val:
                self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val)
            optimizer.step()
        for scheduler, interval in self._schedulers:
            if interval == "step":
                scheduler.step()
        return loss

    def on_train_epoch_end(self) -> None:
        for scheduler, interval in self._schedulers:
            if interval != "step":
                scheduler.step()
        self._user_call("on_train_epoch_end")
        if self.owner is None or self.trainer.sanity_checking:
            return
        metrics: dict[str, float] = {}
        for name, value in self.trainer.callback_metrics.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                metrics[name] = float(value)
        loss = metrics.pop("train_loss", None)
        logs = EpochLogs(loss, metrics, self.export_probs())
        if isinstance(self.owner, LightningOneShotTrainer):
            self.owner.history.append(logs)
        self.owner.notify("on_epoch_end", self.current_epoch, logs)


# -- as a one-shot trainer -----------------------------------------------------------------------
class LightningOneShotTrainer(BaseOneShotTrainer):
    """A model space, a Lightning evaluator and a one-shot strategy, as a one-shot trainer.

    ``fit()`` fits the strategy's :class:`OneShotModule` with a ``lightning.Trainer`` built from the
    evaluator's ``Trainer(...)`` (logs under its ``default_root_dir``, else a new temporary
    directory); ``export()`` returns the architecture found.
    """

    def __init__(self, base_model: tnn.Module, evaluator: Any, strategy: Any) -> None:
        if not isinstance(evaluator, Lightning):
            raise TypeError(
                f"{type(strategy).__name__}() needs a Lightning evaluator (Lightning, "
                f"Classification, Regression), got {type(evaluator).__name__}; with other "
                "evaluators use a one-shot trainer (retiarii.oneshot.pytorch)"
            )
        if evaluator.datamodule is not None:
            raise ValueError(
                f"{type(strategy).__name__}(): evaluators built on a LightningDataModule are not "
                "supported by one-shot strategies; pass train_dataloaders and val_dataloaders"
            )
        self.model = base_model
        self.evaluator = evaluator
        self.strategy = strategy
        user = copy.deepcopy(evaluator.module)
        user.set_model(base_model)
        self.module: OneShotModule = strategy.make_module(user, evaluator)
        self.module.owner = self
        self.history: list[EpochLogs] = []
        self.trainer: lightning.Trainer | None = None

    def _root_dir(self) -> str:
        given = self.evaluator.trainer.kwargs.get("default_root_dir")
        return str(given) if given is not None else tempfile.mkdtemp(prefix="retiarii-oneshot-")

    def fit(self) -> None:
        self.notify("on_fit_start")
        train, valid = self.evaluator.train_dataloaders, self.evaluator.val_dataloaders
        loaders = (
            CombinedLoader({"train": train, "val": valid}, mode="max_size_cycle")
            if self.module.needs_validation_batches
            else train
        )
        self.trainer = self.evaluator.trainer.build(self._root_dir())
        self.trainer.fit(self.module, train_dataloaders=loaders, val_dataloaders=valid)
        self.module.after_fit(train, valid)
        self.notify("on_fit_end")

    def export(self) -> dict[str, Any]:
        return self.module.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: probability}}`` of the search state."""
        return self.module.export_probs()
