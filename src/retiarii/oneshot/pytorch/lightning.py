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

Data-parallel search: the evaluator's ``Trainer(accelerator=..., devices=N, strategy=...)`` may
use any DDP strategy: ``'ddp'``, ``'ddp_spawn'``, ``'ddp_fork'``/``'ddp_notebook'`` or a
``DDPStrategy(...)`` (gloo on CPU, NCCL on GPUs). Every rank trains on its share of the batches
(Lightning's ``DistributedSampler``); gradients, of the weights and of the architecture, are
averaged over the ranks before every optimizer step (:mod:`.distributed`), so all ranks hold the
same supernet and export the same architecture. Random choices of a path (SPOS, ProxylessNAS)
come from one seeded generator, the same on every rank; ENAS's controller and GumbelDARTS's noise
sample per rank (their gradients are averaged all the same). Only global rank 0 reports epochs to
the trainer's callbacks (the experiment's store). How the ranks are started matters:

* ``'ddp'`` (single node): this process is rank 0 and the other ranks are started with the search
  cloudpickled (:class:`~.distributed.RankProcesses`), not by running the script again; progress
  reaches the store live.
* ``'ddp_spawn'``, ``'ddp_fork'``, ``'ddp_notebook'``: Lightning trains in child processes and
  sends rank 0's state back (weights, architecture parameters and the epochs' logs, through
  ``state_dict``); the epochs are reported to the callbacks when the fit returns, so a store sees
  them at the end and a stop request takes effect then. ``spawn`` pickles the search with
  ``pickle`` (define classes at module level, guard the script with ``if __name__ == '__main__'``).
* Processes started by ``torchrun`` or a cluster (several nodes): every process runs the script;
  ``RetiariiExperiment.run`` records the experiment on global rank 0 (``RANK``) only, and the
  other ranks keep a throwaway copy (for ``export_top_models``) that ``close()`` removes.

Other strategies (FSDP, DeepSpeed, model-parallel) are refused: they shard or own the optimizers.

The algorithms are in :mod:`.lightning_modules`. What this does not do: second-order DARTS (use
:class:`~.darts.DartsTrainer`), evaluators built on a ``LightningDataModule``, or learning-rate
schedulers with ``interval='step'`` semantics other than being stepped once per batch.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

import lightning
import torch
import torch.nn as tnn
from lightning.pytorch.utilities import CombinedLoader

from ...evaluator.pytorch.lightning import Lightning, LightningModule
from ..base import BaseOneShotTrainer, EpochLogs
from ..experiment import StopSearch
from .distributed import (
    RankProcesses,
    any_rank,
    average_gradients,
    broadcast_buffers,
    launches_script,
    process_state,
)

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
        self.history: list[EpochLogs] = []
        self.reported = 0  # epochs of `history` the owner's callbacks have been told about
        self.stop_requested = False
        self._home = os.getpid()  # the process whose callbacks (and store) the owner holds
        self._n_user_optimizers = 0
        self._schedulers: list[tuple[Any, str]] = []
        self._weights: list[tnn.Parameter] = []

    def __getstate__(self) -> dict[str, Any]:
        # The owner holds the callbacks (an open store, thread events): a rank started in another
        # process reports through `history` instead, which travels back in `state_dict`.
        state = super().__getstate__()
        state["owner"] = None
        return state

    def get_extra_state(self) -> dict[str, Any]:
        """The search's progress as plain data: part of ``state_dict``, so that a spawn-based
        strategy, which sends rank 0's ``state_dict`` back, brings it to the parent process."""
        return {
            "history": [dataclasses.asdict(logs) for logs in self.history],
            "stop_requested": self.stop_requested,
        }

    def set_extra_state(self, state: Any) -> None:
        self.history = [EpochLogs(**logs) for logs in state["history"]]
        self.stop_requested = bool(state["stop_requested"])

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

    # -- data parallelism (no-ops in one process) ----------------------------------------------
    @property
    def distributed(self) -> bool:
        """Whether this search runs on several processes."""
        return self._trainer is not None and self.trainer.world_size > 1

    def sync_gradients(self, params: Iterable[torch.Tensor]) -> None:
        """Average the gradients of ``params`` over the ranks (before an optimizer step)."""
        if self.distributed:
            average_gradients(params)

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        # DDP's reducer expects one backward into every parameter per forward; gradients are
        # averaged by sync_gradients instead, so keep it out of the way.
        strategy = self.trainer.strategy
        block = getattr(strategy, "block_backward_sync", None)
        if block is None:
            super().manual_backward(loss, *args, **kwargs)
            return
        with block():
            super().manual_backward(loss, *args, **kwargs)

    def _reports_here(self) -> bool:
        """Whether this process tells the owner's callbacks about epochs: global rank 0, in the
        process that made the module (a spawned rank 0 reports through ``history``)."""
        return self.owner is not None and self.global_rank == 0 and os.getpid() == self._home

    def report(self) -> None:
        """Tell the owner's callbacks about the epochs not reported yet; a :class:`StopSearch`
        from one of them is remembered in :attr:`stop_requested` rather than raised."""
        while self.owner is not None and self.reported < len(self.history):
            epoch, logs = self.reported, self.history[self.reported]
            self.reported += 1
            try:
                self.owner.notify("on_epoch_end", epoch, logs)
            except StopSearch:
                self.stop_requested = True

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
        if self.distributed:  # validate with rank 0's BatchNorm statistics, as DDP would
            broadcast_buffers(self.user)
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
        self.sync_gradients(self._weights)
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
        if self.trainer.sanity_checking:
            return
        metrics: dict[str, float] = {}
        for name, value in self.trainer.callback_metrics.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                metrics[name] = float(value)
        loss = metrics.pop("train_loss", None)
        self.history.append(EpochLogs(loss, metrics, self.export_probs()))
        if self._reports_here():
            self.report()
        # A stop requested on rank 0 (the store's process) stops every rank after this epoch.
        if self.distributed:  # every rank takes part, whatever its own flag
            self.stop_requested = any_rank(self.stop_requested)
        if self.stop_requested:
            self.trainer.should_stop = True

    def on_train_end(self) -> None:
        if self.distributed:
            broadcast_buffers(self.user)


# -- as a one-shot trainer -----------------------------------------------------------------------
class _Search:
    """Fitting ``module`` with a trainer built from ``recipe``, then its search phase: what every
    rank of a search runs (cloudpickled to the ranks :class:`RankProcesses` starts)."""

    def __init__(
        self, module: OneShotModule, recipe: Any, root_dir: str, train: Any, valid: Any
    ) -> None:
        self.module, self.recipe, self.root_dir = module, recipe, root_dir
        self.train, self.valid = train, valid

    def run(self, trainer: lightning.Trainer | None = None) -> lightning.Trainer:
        trainer = trainer if trainer is not None else self.recipe.build(self.root_dir)
        loaders = (
            CombinedLoader({"train": self.train, "val": self.valid}, mode="max_size_cycle")
            if self.module.needs_validation_batches
            else self.train
        )
        trainer.fit(self.module, train_dataloaders=loaders, val_dataloaders=self.valid)
        self.module.after_fit(self.train, self.valid)
        return trainer


def check_strategy(trainer: lightning.Trainer, name: str) -> None:
    """Refuse a multi-process Lightning strategy other than DDP, naming the one-shot ``name``."""
    from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy

    strategy = trainer.strategy
    if trainer.world_size > 1 and (
        not isinstance(strategy, DDPStrategy) or isinstance(strategy, DeepSpeedStrategy)
    ):
        raise ValueError(
            f"{name}(): one-shot search runs on one device or data-parallel with a DDP strategy "
            "('ddp', 'ddp_spawn', 'ddp_fork', 'ddp_notebook' or DDPStrategy(...)); the "
            f"evaluator's Trainer uses {type(strategy).__name__}, which it does not support"
        )


class LightningOneShotTrainer(BaseOneShotTrainer):
    """A model space, a Lightning evaluator and a one-shot strategy, as a one-shot trainer.

    ``fit()`` fits the strategy's :class:`OneShotModule` with a ``lightning.Trainer`` built from the
    evaluator's ``Trainer(...)`` (logs under its ``default_root_dir``, else a new temporary
    directory); ``export()`` returns the architecture found. With a DDP strategy the fit is
    data-parallel (see the module's documentation); this object's callbacks hear from rank 0 only,
    and a :class:`~retiarii.oneshot.experiment.StopSearch` raised by one stops every rank at the
    end of the epoch (``fit()`` raises it once the search phase is over).
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
        self.trainer: lightning.Trainer | None = None

    def _root_dir(self) -> str:
        given = self.evaluator.trainer.kwargs.get("default_root_dir")
        return str(given) if given is not None else tempfile.mkdtemp(prefix="retiarii-oneshot-")

    @property
    def history(self) -> list[EpochLogs]:
        """The epochs' logs (global rank 0's)."""
        return self.module.history

    def fit(self) -> None:
        self.evaluator.check_ready()  # the dataloaders may have been given after construction
        self.notify("on_fit_start")
        name = type(self.strategy).__name__
        search = _Search(
            self.module,
            self.evaluator.trainer,
            self._root_dir(),
            self.evaluator.train_dataloaders,
            self.evaluator.val_dataloaders,
        )
        self.trainer = search.recipe.build(search.root_dir)
        check_strategy(self.trainer, name)
        with process_state():
            if launches_script(self.trainer):
                strategy: Any = self.trainer.strategy  # a DDPStrategy (launches_script)
                port = strategy.cluster_environment.main_port
                with RankProcesses(search, self.trainer.world_size, port):
                    search.run(self.trainer)
            else:
                search.run(self.trainer)
        if self.trainer.global_rank == 0:  # epochs trained in child processes (spawn, fork)
            self.module.report()
        if self.module.stop_requested:
            raise StopSearch
        self.notify("on_fit_end")

    def export(self) -> dict[str, Any]:
        return self.module.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: probability}}`` of the search state."""
        return self.module.export_probs()
