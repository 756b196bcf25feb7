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
  reaches the store live, and a stop (time limit, ``exp.stop()``, Ctrl-C) ends every rank after
  the same step (the ranks ignore SIGINT: rank 0 stops them).
* ``'ddp_spawn'``, ``'ddp_fork'``, ``'ddp_notebook'``: Lightning trains in child processes and
  sends rank 0's state back (weights, architecture parameters and the epochs' logs, through
  ``state_dict``); the epochs are reported to the callbacks when the fit returns, so a store sees
  them at the end and a stop request takes effect then. ``spawn`` pickles the search with
  ``pickle`` (define classes at module level, guard the script with ``if __name__ == '__main__'``).
  These ranks end soon after the experiment's process if it is killed
  (:func:`~retiarii.execution.process.exit_when_orphaned`) and close their process group when
  training ends.
* Processes started by ``torchrun`` or a cluster (several nodes): every process runs the script;
  ``RetiariiExperiment.run`` records the experiment on global rank 0 (``RANK``) only, and the
  other ranks keep a throwaway copy (for ``export_top_models``) that ``close()`` removes.

Other strategies (FSDP, DeepSpeed, model-parallel) are refused: they shard or own the optimizers.

The algorithms are in :mod:`.algorithms`. What this does not do: evaluators built on a
``LightningDataModule``, or learning-rate
schedulers with ``interval='step'`` semantics other than being stepped once per batch.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import multiprocessing
import os
import random
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import lightning
import torch
import torch.nn as tnn
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities import CombinedLoader
from lightning.pytorch.utilities.exceptions import _TunerExitException

from ...evaluator.pytorch.lightning import LightningModule
from ...execution.process import exit_when_orphaned
from ...reporting import trial_reporter
from ..base import BaseOneShotTrainer, EpochLogs, StopSearch
from .algorithms import Algorithm, AlgorithmTrainer
from .distributed import (
    RankProcesses,
    any_rank,
    average_gradients,
    broadcast_buffers,
    close_process_group,
    launches_script,
    process_state,
)
from .utils import set_random_state

_logger = logging.getLogger("retiarii.oneshot")

__all__ = ["LightningOneShotTrainer", "OneShotModule"]


def _split_optimizers(config: Any) -> tuple[list[torch.optim.Optimizer], list[Any]]:
    """``configure_optimizers()``'s result (any form Lightning accepts) as its optimizers and its
    schedulers (each as given: a scheduler, or a dict with ``scheduler``, ``interval``,
    ``frequency``, ``monitor`` ...), for Lightning to parse once the algorithm's optimizers are
    appended."""
    if config is None:
        raise ValueError("the evaluator's configure_optimizers() returned no optimizer")
    if isinstance(config, torch.optim.Optimizer):
        return [config], []
    if isinstance(config, Mapping):
        scheduler = config.get("lr_scheduler")
        if isinstance(scheduler, Mapping) and "monitor" not in scheduler and "monitor" in config:
            scheduler = {**scheduler, "monitor": config["monitor"]}
        elif scheduler is not None and not isinstance(scheduler, Mapping) and "monitor" in config:
            scheduler = {"scheduler": scheduler, "monitor": config["monitor"]}
        return [config["optimizer"]], [] if scheduler is None else [scheduler]
    if (
        isinstance(config, (list, tuple))
        and len(config) == 2
        and isinstance(config[0], (list, tuple))
    ):
        optimizers, _ = _split_optimizers(list(config[0]))
        return optimizers, list(config[1])
    if isinstance(config, (list, tuple)):
        optimizers, schedulers = [], []
        for item in config:
            o, s = _split_optimizers(item)
            optimizers += o
            schedulers += s
        return optimizers, schedulers
    raise TypeError(f"cannot read the optimizers of configure_optimizers() = {config!r}")


class OneShotModule(lightning.LightningModule):
    """The Lightning driver: wraps the evaluator's module (whose ``model`` becomes the supernet)
    and runs an algorithm of :mod:`.algorithms` with it (the :class:`~.algorithms.Driver`).

    The loss of a batch is the user's ``training_step``; the weights' optimizers are the user's
    ``configure_optimizers`` (architecture parameters removed), the algorithm's come after them.
    """

    def __init__(
        self, user: LightningModule, algorithm: Algorithm, gradient_clip_val: float | None = None
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.user = user
        self.algorithm = algorithm
        algorithm.attach(user.model)
        self.supernet = algorithm.supernet  # type: ignore[attr-defined]
        self.algorithm_modules = tnn.ModuleDict(algorithm.modules())
        self.gradient_clip_val = gradient_clip_val
        self.owner: BaseOneShotTrainer | None = None
        self.history: list[EpochLogs] = []
        self.reported = 0  # epochs of `history` the owner's callbacks have been told about
        self.stop_requested = False
        self._home = os.getpid()  # the process whose callbacks (and store) the owner holds
        self._n_user_optimizers = 0
        self._weights: list[tnn.Parameter] = []
        self._monitors: dict[int, dict[str, Any]] = {}
        self._batch_idx = 0
        self._epoch_loss: tuple[Any, int] = (0.0, 0)  # sum and count of this epoch's step losses
        # The user's self.log / self.log_dict log through this module (the one Lightning runs).
        # (Lightning's own log, not this module's Driver.log, whose defaults are the algorithm's)
        user.log = functools.partial(lightning.LightningModule.log, self)  # type: ignore[method-assign]
        user.log_dict = self.log_dict  # type: ignore[method-assign]

    @property
    def needs_validation_batches(self) -> bool:
        return self.algorithm.needs_validation_batches

    def __getstate__(self) -> dict[str, Any]:
        # The owner holds the callbacks (an open store, thread events): a rank started in another
        # process reports through `history` instead, which travels back in `state_dict`.
        state = super().__getstate__()
        state["owner"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._settle_in_started_rank()  # as early as a spawned rank can

    def _in_started_rank(self) -> bool:
        """Whether this is a rank process Lightning started (``ddp_spawn``, ``ddp_fork``)."""
        return os.getpid() != self._home and multiprocessing.parent_process() is not None

    def _settle_in_started_rank(self) -> None:
        """In a rank Lightning started (spawn, fork): end with the experiment's process (killed,
        it leaves the rank training on to the end of the fit), and ignore SIGINT: a terminal's
        Ctrl-C reaches it too and would end it silently (torch's spawn), leaving the
        experiment's process, which handles Ctrl-C, waiting for its result forever."""
        if not self._in_started_rank():
            return
        exit_when_orphaned(os.getppid())
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

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

    # -- resume ---------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Besides Lightning's (weights, architecture parameters, optimizers, loops): the random
        generators, the algorithm's own state and the schedulers, so a resumed search continues
        exactly (same data order, same paths)."""
        checkpoint["retiarii"] = {
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
            "algorithm": self.algorithm.state_dict(),
            "epochs": len(self.history),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("retiarii")
        if state is None:
            return
        # Before Lightning makes the first resumed epoch's data iterator (its sanity check, in
        # between, restores the generators it uses).
        torch.set_rng_state(state["torch_rng"])
        set_random_state(random, state["python_rng"])
        self.algorithm.load_state_dict(state["algorithm"])
        self.reported = int(state["epochs"])  # the store has these epochs already

    # -- the algorithm -------------------------------------------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        """Parameters the algorithm optimises (kept out of the user's optimizers)."""
        return self.algorithm.arch_parameters()

    def on_fit_start(self) -> None:
        self.stop_requested = False  # a stop of the run that wrote the checkpoint is not this one's
        self.algorithm.on_fit_start(self)
        self.user.on_fit_start()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._batch_idx = batch_idx
        if self.algorithm.needs_validation_batches:
            loss = self.algorithm.training_step(self, batch["train"], batch["val"])
        else:
            loss = self.algorithm.training_step(self, batch, None)
        self._epoch_loss = (self._epoch_loss[0] + loss.detach(), self._epoch_loss[1] + 1)
        stop = False
        if self._reports_here():  # progress from the first step, not only after an epoch
            assert self.owner is not None
            per_epoch = self.trainer.num_training_batches
            step = batch_idx + 1 + self.current_epoch * int(per_epoch if per_epoch < 1e12 else 0)
            try:
                self.owner.notify_step(step, loss.detach())
            except StopSearch:
                stop = True
        if self.distributed:  # the ranks train in step: all stop after this step, or none
            stop = any_rank(stop)
        if stop:
            # Lightning's own way out of a fit that is done (its tuners'): the fit returns and
            # its loggers end with "success"; any other exception ends them with "failed".
            self.stop_requested = True
            raise _TunerExitException
        return loss

    # -- the Driver ------------------------------------------------------------------------------
    @property
    def max_epochs(self) -> int:
        return int(self.trainer.max_epochs or 1)

    def loss(self, batch: Any) -> torch.Tensor:
        return self.user_loss(batch, self._batch_idx)

    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        """The algorithm's numbers (the Driver's ``log``): the epoch's mean of the steps'."""
        kwargs = {"on_step": False, "on_epoch": True, "batch_size": 1, **kwargs}
        super().log(name, value, *args, **kwargs)

    def backward_to(self, loss: torch.Tensor, inputs: Any) -> None:
        self.manual_backward(loss, inputs=list(inputs))

    def clip(self, params: Iterable[torch.Tensor]) -> None:
        if self.gradient_clip_val:
            tnn.utils.clip_grad_norm_(list(params), self.gradient_clip_val)

    def arch_optimizers(self) -> list[Any]:
        return self._optimizers()[self._n_user_optimizers :]

    def weight_optimizers(self) -> list[torch.optim.Optimizer]:
        return [o.optimizer for o in self._optimizers()[: self._n_user_optimizers]]

    def weights(self) -> list[tnn.Parameter]:
        return list(self._weights)

    def _logged_by(self, call: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
        """``call()`` (of the user's module), capturing what it logs instead of logging it."""
        logged: dict[str, float] = {}

        def capture(name: str, value: Any, *args: Any, **kwargs: Any) -> None:
            logged[name] = float(value)

        def capture_dict(values: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
            logged.update({name: float(value) for name, value in values.items()})

        saved = self.user.log, self.user.log_dict
        self.user.log = capture  # type: ignore[method-assign]
        self.user.log_dict = capture_dict  # type: ignore[method-assign,assignment]
        try:
            out = call()  # what it reports is dropped (see _Search.run)
        finally:
            self.user.log, self.user.log_dict = saved  # type: ignore[method-assign]
        return out, logged

    @torch.no_grad()
    def reward(self, batch: Any, metric: str | None, function: Any) -> float:
        was_training = self.user.training
        self.user.eval()
        try:
            if function is not None:
                x, y = batch
                return float(function(self.user(x), y))
            if metric is None:
                return self.score([batch])
            out, logged = self._logged_by(lambda: self.user.validation_step(batch, 0))
            if metric not in logged and not (isinstance(out, Mapping) and metric in out):
                # e.g. Classification's val_acc: accumulated by validation_step, logged at the
                # end of the validation epoch (here: of this one batch)
                logged.update(self._logged_by(self.user.on_validation_epoch_end)[1])
            if metric not in logged and not (isinstance(out, Mapping) and metric in out):
                raise KeyError(
                    f"ENAS(reward_metric_name={metric!r}): the evaluator's validation_step and "
                    f"on_validation_epoch_end logged {sorted(logged)}; log {metric!r}"
                )
            return float(logged[metric] if metric in logged else out[metric])
        finally:
            self.user.train(was_training)

    @torch.no_grad()
    def score(self, batches: Any) -> float:
        was_training = self.user.training
        self.user.eval()
        losses = []
        for batch in batches:
            out, _ = self._logged_by(functools.partial(self.user.training_step, batch, 0))
            losses.append(float(out["loss"] if isinstance(out, Mapping) else out))
        self.user.train(was_training)
        return -sum(losses) / len(losses)

    # -- data parallelism (no-ops in one process) ----------------------------------------------
    @property
    def distributed(self) -> bool:
        """Whether this search runs on several processes."""
        try:
            return self.trainer.world_size > 1
        except RuntimeError:  # not attached to a Trainer (yet)
            return False

    def sync(self, params: Iterable[torch.Tensor]) -> None:
        """Average the gradients of ``params`` over the ranks (before an optimizer step)."""
        if self.distributed:
            average_gradients(params)

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        # DDP's reducer expects one backward into every parameter per forward; gradients are
        # averaged by sync() instead, so keep it out of the way.
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
    def user_loss(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """The loss of ``batch``: what the user's ``training_step`` returns."""
        out: Any = self.user.training_step(batch, batch_idx)
        loss: torch.Tensor = out["loss"] if isinstance(out, Mapping) else out
        return loss

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.user(*args, **kwargs)

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self.user.validation_step(batch, batch_idx)

    def on_validation_epoch_start(self) -> None:
        if self.distributed:  # validate with rank 0's BatchNorm statistics, as DDP would
            broadcast_buffers(self.user)
        self.algorithm.prepare_eval()
        self.user.on_validation_epoch_start()

    def on_train_epoch_start(self) -> None:
        self._epoch_loss = (0.0, 0)
        self.algorithm.on_epoch_start(self)
        self.user.on_train_epoch_start()

    def _user_batch(self, batch: Any) -> Any:
        return batch["train"] if self.algorithm.needs_validation_batches else batch

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> Any:
        return self.user.on_train_batch_start(self._user_batch(batch), batch_idx)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.user.on_train_batch_end(outputs, self._user_batch(batch), batch_idx)

    def configure_optimizers(self) -> Any:
        """The user's ``configure_optimizers`` (any form Lightning accepts; architecture parameters
        removed from its optimizers), then the algorithm's optimizers; Lightning parses it."""
        optimizers, schedulers = _split_optimizers(self.user.configure_optimizers())
        arch = {id(p) for p in self.arch_parameters()}
        for optimizer in optimizers:  # the user's optimizers see self.parameters(): drop alpha
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in arch]
        self._n_user_optimizers = len(optimizers)
        self._weights = [p for p in self.user.parameters() if id(p) not in arch and p.requires_grad]
        # Lightning ignores `monitor` and `strict` under manual optimisation: keep them here.
        self._monitors = {}
        given = []
        for config in schedulers:
            if isinstance(config, Mapping):
                own = {k: config[k] for k in ("monitor", "strict") if k in config}
                self._monitors[id(config["scheduler"])] = own
                config = {k: v for k, v in config.items() if k not in ("monitor", "strict")}
            given.append(config)
        return optimizers + self.algorithm.configure_arch_optimizers(), given

    def _optimizers(self) -> list[Any]:
        found = self.optimizers()
        return list(found) if isinstance(found, (list, tuple)) else [found]

    def _step_schedulers(self, interval: str, count: int, plateau: bool = False) -> None:
        """Step the user's schedulers of ``interval`` due at the ``count``-th batch or epoch,
        as Lightning's automatic optimisation would: ``ReduceLROnPlateau`` (with its monitor)
        only when ``plateau``, the others only when not."""
        for config in self.trainer.lr_scheduler_configs:
            scheduler: Any = config.scheduler
            is_plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
            if config.interval != interval or count % config.frequency or is_plateau != plateau:
                continue
            if not is_plateau:
                scheduler.step()
                continue
            own = self._monitors.get(id(scheduler), {})
            monitor = own.get("monitor")
            if monitor is None:
                raise ValueError(
                    "configure_optimizers: ReduceLROnPlateau needs a 'monitor' (return "
                    "{'optimizer': ..., 'lr_scheduler': ..., 'monitor': 'val_loss'})"
                )
            value = self.trainer.callback_metrics.get(monitor)
            if value is None:
                if own.get("strict", True):
                    raise KeyError(
                        f"ReduceLROnPlateau conditioned on {monitor!r}, which is not logged; "
                        f"logged: {sorted(self.trainer.callback_metrics)}"
                    )
                continue
            scheduler.step(value)

    def weight_step(self, batch: Any) -> torch.Tensor:
        """One step of the user's optimizers on ``batch`` (backward into the weights only)."""
        optimizers = self._optimizers()[: self._n_user_optimizers]
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss = self.user_loss(batch, self._batch_idx)
        self.manual_backward(loss, inputs=self._weights)
        self.sync(self._weights)
        self.clip(self._weights)
        for optimizer in optimizers:
            optimizer.step()
        self._step_schedulers("step", self._batch_idx + 1)
        self._step_schedulers("step", self._batch_idx + 1, plateau=True)
        return loss

    def on_train_epoch_end(self) -> None:
        # As Lightning: epoch schedulers step before this hook, plateau schedulers after it.
        self._step_schedulers("epoch", self.current_epoch + 1)
        self.user.on_train_epoch_end()
        self._step_schedulers("epoch", self.current_epoch + 1, plateau=True)
        if self.trainer.sanity_checking:
            return
        metrics: dict[str, float] = {}
        for name, value in self.trainer.callback_metrics.items():
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                metrics[name] = float(value)
        metrics.pop("train_loss", None)  # the user's module logs its last step's
        total, steps = self._epoch_loss
        loss = float(total) / steps if steps else None
        metrics.update(self.algorithm.epoch_metrics())
        self.history.append(EpochLogs(loss, metrics, self.algorithm.export_probs()))
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
        self.user.on_train_end()

    def setup(self, stage: str) -> None:
        self._settle_in_started_rank()  # a forked rank
        self.user.setup(stage)

    def teardown(self, stage: str) -> None:
        self.user.teardown(stage)
        if self._in_started_rank():
            # The rank's last collective is behind it and Lightning has unwrapped the model: a
            # spawned rank ends with sys.exit, whose finalization could abort it and so fail a
            # fit that trained to the end (see close_process_group)
            close_process_group()

    def on_fit_end(self) -> None:
        self.user.on_fit_end()

    def on_train_start(self) -> None:
        self.user.on_train_start()

    def on_validation_epoch_end(self) -> None:
        self.user.on_validation_epoch_end()

    def on_validation_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self.user.on_validation_batch_end(outputs, batch, batch_idx, dataloader_idx)


# -- as a one-shot trainer -----------------------------------------------------------------------
class _Discard:
    """A reporter that drops what the user's hooks report (``Classification`` reports its
    accuracy): the search records the metrics they log, and there is no trial to report to."""

    def intermediate(self, metric: Any) -> None:
        """Dropped."""

    def final(self, metric: Any) -> None:
        """Dropped."""


class _EpochCheckpoint(Checkpoint):
    """Saves the whole search at the end of every training epoch, atomically, to ``path`` (a
    ``Checkpoint``, so Lightning calls it after the module's ``on_train_epoch_end``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_epoch_end(self, trainer: lightning.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        partial = self.path.with_suffix(".partial")
        trainer.save_checkpoint(partial, weights_only=False)  # every rank; rank 0 writes
        if trainer.global_rank == 0:
            os.replace(partial, self.path)


class _Search:
    """Fitting ``module`` with a trainer built from ``recipe``, then its search phase: what every
    rank of a search runs (cloudpickled to the ranks :class:`RankProcesses` starts)."""

    def __init__(
        self,
        module: OneShotModule,
        recipe: Any,
        root_dir: str,
        train: Any,
        valid: Any,
        ckpt_path: str | None = None,
    ) -> None:
        self.module, self.recipe, self.root_dir = module, recipe, root_dir
        self.train, self.valid = train, valid
        self.ckpt_path = ckpt_path

    def run(self, trainer: lightning.Trainer | None = None) -> lightning.Trainer:
        trainer = trainer if trainer is not None else self.recipe.build(self.root_dir)
        loaders = (
            CombinedLoader({"train": self.train, "val": self.valid}, mode="max_size_cycle")
            if self.module.needs_validation_batches
            else self.train
        )
        with trial_reporter(_Discard()):
            trainer.fit(
                self.module,
                train_dataloaders=loaders,
                val_dataloaders=self.valid,
                ckpt_path=self.ckpt_path,
            )
            self.module.algorithm.after_fit(self.module, self.train, self.valid)
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


class LightningOneShotTrainer(AlgorithmTrainer):
    """A model space, a Lightning evaluator and a one-shot strategy, as a one-shot trainer.

    ``fit()`` fits the strategy's :class:`OneShotModule` with a ``lightning.Trainer`` built from the
    evaluator's ``Trainer(...)`` (logs under its ``default_root_dir``, else a new temporary
    directory); ``export()`` returns the architecture found. With a DDP strategy the fit is
    data-parallel (see the module's documentation); this object's callbacks hear from rank 0 only.
    A :class:`~retiarii.oneshot.StopSearch` raised by one (``on_step_end``, ``on_epoch_end``)
    stops every rank after that step or epoch, as a finished fit for Lightning (its loggers end
    with "success"); ``fit()`` raises it once the search phase is over.
    """

    def __init__(self, base_model: tnn.Module, evaluator: Any, strategy: Any) -> None:
        self.model = base_model
        self.evaluator = evaluator
        self.strategy = strategy
        user = copy.deepcopy(evaluator.module)
        user.set_model(base_model)
        self.algorithm = algorithm = strategy.make_algorithm()
        algorithm.name = f"strategy.{type(strategy).__name__}"
        if getattr(strategy, "grad_reg_loss_type", None) is not None:  # latency measured on it
            algorithm.example_input = next(iter(evaluator.train_dataloaders))[0][:1]
        self.module = OneShotModule(user, algorithm, strategy.gradient_clip_val)
        self.module.owner = self
        self.trainer: lightning.Trainer | None = None
        #: Where to checkpoint the search at the end of every epoch (and resume from), if set.
        self.checkpoint_dir: Path | None = None

    def _take_back_finished_epochs(self, checkpoint: Path | None) -> None:
        """After ranks in child processes (spawn, fork) were killed before sending their state
        back: take the supernet, architecture parameters and epochs of the last epoch they
        finished from its checkpoint, and report those epochs, so the export is what they had
        found (not the untrained supernet's)."""
        if checkpoint is None or not checkpoint.is_file():
            return
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
            self.module.load_state_dict(state, strict=False)
        except Exception as error:  # the export is then this process's untrained supernet
            _logger.warning("could not read the search's checkpoint %s: %s", checkpoint, error)
            return
        self.module.report()

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
        last = self.checkpoint_dir / "last.ckpt" if self.checkpoint_dir is not None else None
        recipe = self.evaluator.trainer
        if self.checkpoint_dir is not None:  # the evaluator's Trainer(...) plus our checkpoints
            kwargs = dict(recipe.kwargs)
            callbacks = kwargs.get("callbacks") or []
            callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
            kwargs["callbacks"] = [*callbacks, _EpochCheckpoint(self.checkpoint_dir / "last.ckpt")]
            kwargs["enable_checkpointing"] = True  # ours; Lightning adds no default one then
            recipe = type(recipe)(**kwargs)
        search = _Search(
            self.module,
            recipe,
            self._root_dir(),
            self.evaluator.train_dataloaders,
            self.evaluator.val_dataloaders,
            str(last) if last is not None and last.is_file() else None,
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
                try:
                    search.run(self.trainer)
                except BaseException:  # e.g. a second Ctrl-C: Lightning leaves its ranks running
                    if (launcher := self.trainer.strategy.launcher) is not None:
                        launcher.kill(signal.SIGKILL)
                        self._take_back_finished_epochs(last)
                    raise
        if self.trainer.global_rank == 0:  # epochs trained in child processes (spawn, fork)
            self.module.report()
        if self.module.stop_requested:
            raise StopSearch
        self.notify("on_fit_end")
