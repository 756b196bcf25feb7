"""The plain PyTorch driver and the seed-004 trainers built on it.

:class:`SupernetTrainer` runs any algorithm of :mod:`.algorithms` with a loss function, a metrics
function, the user's optimizer and data loaders, in one process on one ``device``. The trainers
(``DartsTrainer``, ``GumbelDartsTrainer``, ``EnasTrainer``, ``ProxylessTrainer``,
``SinglePathTrainer``) only add seed 004's constructor: the data and loop arguments are theirs, the
algorithm's arguments are those of the strategy of the same algorithm
(:mod:`retiarii.strategy.oneshot`), passed as keyword arguments.

They are not data-parallel: the trainer replaces the model's choices after you built the model
(DDP would not know the new parameters) and runs several backward passes per step. To search on
several devices use the strategies (``strategy.DARTS()`` ...) with a Lightning evaluator whose
``Trainer`` uses DDP (:mod:`.lightning`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as tnn
from torch.utils.data import DataLoader, Dataset

from ...strategy import oneshot as strategies
from ..base import EpochLogs
from .algorithms import Algorithm, AlgorithmTrainer, Enas, Proxyless, RandomOneShot
from .utils import (
    AverageMeterGroup,
    default_device,
    set_random_state,
    split_loaders,
    to_device,
)

__all__ = [
    "DartsTrainer",
    "EnasTrainer",
    "GumbelDartsTrainer",
    "ProxylessTrainer",
    "SinglePathTrainer",
    "SupernetTrainer",
]

_logger = logging.getLogger("retiarii.oneshot")

Metrics = Callable[[Any, Any], Any]


def _as_dict(metrics: Any) -> dict[str, float]:
    if isinstance(metrics, dict):
        return {str(k): float(v) for k, v in metrics.items()}
    return {"metric": float(metrics)}


class SupernetTrainer(AlgorithmTrainer):
    """Runs ``algorithm`` on ``model`` with plain PyTorch: the :class:`~.algorithms.Driver` of
    the seed trainers.

    Args:
        algorithm: what searches (e.g. ``strategy.DARTS().make_algorithm()``).
        model: the model space (its choices are replaced in place).
        loss: ``loss(output, target) -> tensor``.
        metrics: ``metrics(output, target) -> dict`` of numbers (or None).
        optimizer: optimizer of the model's weights, created before the trainer.
        num_epochs: epochs.
        train_loader, valid_loader: ``(x, y)`` batches; each step takes one of each (zipped)
            when the algorithm learns on validation batches.
        device: where to train (CUDA if available when None).
        grad_clip: clip the gradient norm of the weights (and of ENAS's controller); 0: no.
        log_frequency: log every this many steps (None: once per epoch).

    With :attr:`checkpoint_dir` set (a ``RetiariiExperiment`` sets it), the search is saved at the
    end of every epoch to ``checkpoint_dir / 'last.ckpt'`` (weights, architecture parameters,
    optimizers, the algorithm's state, random generators) and ``fit()`` continues from there.
    """

    #: Where to checkpoint the search at the end of every epoch (and resume from), if set.
    checkpoint_dir: Path | None = None

    def __init__(
        self,
        algorithm: Algorithm,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        train_loader: Iterable[Any],
        valid_loader: Iterable[Any],
        *,
        device: torch.device | str | None = None,
        grad_clip: float | None = None,
        log_frequency: int | None = None,
    ) -> None:
        if not isinstance(model, tnn.Module):
            raise TypeError(f"model must be a torch.nn.Module (a model space), got {model!r}")
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise ValueError(f"num_epochs must be a non-negative int, got {num_epochs!r}")
        self.algorithm = algorithm
        self.model = model
        self.loss_fn = loss
        self.metrics = metrics
        self.optimizer = optimizer
        self.num_epochs = self.max_epochs = num_epochs
        self.train_loader, self.valid_loader = train_loader, valid_loader
        self.device = default_device(device)
        self.grad_clip = grad_clip
        self.log_frequency = log_frequency
        self.history: list[EpochLogs] = []
        self.current_epoch = 0
        self.global_step = 0
        self.distributed = False
        if type(self) is not SupernetTrainer:  # errors and logs name the class the user wrote
            algorithm.name = type(self).__name__
        algorithm.attach(model)
        self.supernet = algorithm.supernet  # type: ignore[attr-defined]
        self.nas_modules = self.supernet.modules
        model.to(self.device)
        for module in algorithm.modules().values():
            module.to(self.device)
        arch = {id(p) for p in algorithm.arch_parameters()}
        self._weights = [p for p in model.parameters() if id(p) not in arch and p.requires_grad]
        self._arch_optimizers = algorithm.configure_arch_optimizers()
        self.ctrl_optim = self._arch_optimizers[0] if self._arch_optimizers else None
        self._meters = AverageMeterGroup()

    # -- the Driver ----------------------------------------------------------------------------
    def loss(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return self.loss_fn(self.model(x), y)

    def weight_step(self, batch: Any) -> torch.Tensor:
        x, y = batch
        self.optimizer.zero_grad()
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        torch.autograd.backward(loss, inputs=self._weights)
        self.clip(self._weights)
        self.optimizer.step()
        if self.metrics is not None:
            self._meters.update(_as_dict(self.metrics(logits.detach(), y)))
        self._meters.update({"loss": loss.item()})
        return loss

    def backward_to(self, loss: torch.Tensor, inputs: Sequence[torch.Tensor]) -> None:
        torch.autograd.backward(loss, inputs=list(inputs))

    def sync(self, params: Iterable[torch.Tensor]) -> None:
        pass

    def clip(self, params: Iterable[torch.Tensor]) -> None:
        if self.grad_clip:
            tnn.utils.clip_grad_norm_(list(params), self.grad_clip)

    def arch_optimizers(self) -> list[Any]:
        return self._arch_optimizers

    def weight_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def weights(self) -> list[tnn.Parameter]:
        return list(self._weights)

    def weight_parameters(self) -> list[tnn.Parameter]:
        """The model's weights (every parameter but the architecture parameters)."""
        return self.weights()

    @torch.no_grad()
    def reward(self, batch: Any, metric: str | None, function: Any) -> float:
        x, y = batch
        was_training = self.model.training
        self.model.eval()
        logits = self.model(x)
        self.model.train(was_training)
        if function is not None:
            return float(function(logits, y))
        if metric is not None and self.metrics is not None:
            return _as_dict(self.metrics(logits, y))[metric]
        return -float(self.loss_fn(logits, y))

    @torch.no_grad()
    def score(self, batches: Sequence[Any]) -> float:
        meters = AverageMeterGroup()
        for x, y in batches:
            logits = self.model(x)
            values = _as_dict(self.metrics(logits, y)) if self.metrics is not None else {}
            values["loss"] = float(self.loss_fn(logits, y))
            meters.update(values, n=len(y))
        summary = meters.summary()
        fitness = getattr(self, "fitness", None)
        if callable(fitness):
            return float(fitness(summary))
        if isinstance(fitness, str):
            return summary[fitness]
        named = [v for k, v in summary.items() if k != "loss"]
        return named[0] if named else -summary["loss"]

    def log(self, name: str, value: float) -> None:
        self._meters.update({name: value})

    def search_step(self, batch: Any, val_batch: Any = None) -> torch.Tensor:
        """One step of the algorithm on ``batch`` (and ``val_batch``), on the device; returns the
        weight step's loss."""
        return self.algorithm.training_step(self, batch, val_batch)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> None:
        """Train and search for ``num_epochs`` epochs, then the algorithm's search phase."""
        self.notify("on_fit_start")
        start = self._load_checkpoint()
        self.algorithm.on_fit_start(self)
        for epoch in range(start, self.num_epochs):
            self.current_epoch = epoch
            started = time.perf_counter()
            self.algorithm.on_epoch_start(self)
            self.train_epoch(epoch)
            summary = self._meters.summary()
            summary.update(self.algorithm.epoch_metrics())
            loss = summary.pop("loss", None)
            logs = EpochLogs(loss, summary, self.export_probs())
            self.history.append(logs)
            _logger.info(
                "%s epoch %d/%d (%.1fs): %s",
                self.algorithm.name,
                epoch + 1,
                self.num_epochs,
                time.perf_counter() - started,
                self._meters,
            )
            try:  # the store records the epoch, then the checkpoint (also if told to stop)
                self.notify("on_epoch_end", epoch, logs)
            finally:
                self._save_checkpoint(epoch + 1)
        self.algorithm.after_fit(self, self.train_loader, self.valid_loader)
        self.notify("on_fit_end")

    # -- resume --------------------------------------------------------------------------------
    def _state(self, epochs: int) -> dict[str, Any]:
        return {
            "epochs": epochs,
            "global_step": self.global_step,
            "model": self.model.state_dict(),
            "modules": {k: m.state_dict() for k, m in self.algorithm.modules().items()},
            "optimizer": self.optimizer.state_dict(),
            "arch_optimizers": [o.state_dict() for o in self._arch_optimizers],
            "algorithm": self.algorithm.state_dict(),
            "history": [dataclasses.asdict(logs) for logs in self.history],
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        }

    def _save_checkpoint(self, epochs: int) -> None:
        if self.checkpoint_dir is None:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        partial = self.checkpoint_dir / "last.partial"
        torch.save(self._state(epochs), partial)
        os.replace(partial, self.checkpoint_dir / "last.ckpt")  # atomic: never half written

    def _load_checkpoint(self) -> int:
        """Restore the last checkpoint, if any; returns the number of epochs it had done."""
        path = None if self.checkpoint_dir is None else self.checkpoint_dir / "last.ckpt"
        if path is None or not path.is_file():
            return 0
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        for name, module in self.algorithm.modules().items():
            module.load_state_dict(state["modules"][name])
        self.optimizer.load_state_dict(state["optimizer"])
        for optimizer, saved in zip(self._arch_optimizers, state["arch_optimizers"]):
            optimizer.load_state_dict(saved)
        self.algorithm.load_state_dict(state["algorithm"])
        self.history = [EpochLogs(**logs) for logs in state["history"]]
        self.global_step = int(state["global_step"])
        torch.set_rng_state(state["torch_rng"])
        set_random_state(random, state["python_rng"])
        _logger.info("%s: resumed after epoch %d", self.algorithm.name, state["epochs"])
        return int(state["epochs"])

    def train_epoch(self, epoch: int) -> AverageMeterGroup:
        """One epoch of search steps; returns the epoch's meters."""
        self.model.train()
        self._meters = AverageMeterGroup()
        loaders: list[Iterable[Any]] = [self.train_loader]
        if self.algorithm.needs_validation_batches:
            loaders.append(self.valid_loader)
        total = min(len(loader) for loader in loaders)  # type: ignore[arg-type]
        for step, batches in enumerate(zip(*loaders)):
            batch, *val = (to_device(b, self.device) for b in batches)
            loss = self.algorithm.training_step(self, batch, val[0] if val else None)
            self.global_step += 1
            self.notify_step(self.global_step, loss.detach())
            if self.log_frequency is not None and step % self.log_frequency == 0:
                _logger.info(
                    "%s epoch [%d/%d] step [%d/%d]  %s",
                    self.algorithm.name,
                    epoch + 1,
                    self.num_epochs,
                    step + 1,
                    total,
                    self._meters,
                )
        return self._meters

    def arch_parameters(self) -> dict[str, tnn.Parameter]:
        """``{label: alpha}`` (DARTS, GumbelDARTS, ProxylessNAS)."""
        return dict(getattr(self.supernet, "alphas", {}))


# -- seed 004's trainers ---------------------------------------------------------------------------
class DartsTrainer(SupernetTrainer):
    """DARTS (first order, or second order with ``unrolled=True``).

    Args:
        model: the model space (its choices are replaced in place).
        loss: ``loss(logits, target) -> tensor``.
        metrics: ``metrics(logits, target) -> dict`` of numbers (or None).
        optimizer: optimizer of the model's weights (create it *before* the trainer).
        num_epochs: number of epochs.
        dataset: the training data; its first half trains the weights, its second half the
            architecture (as in DARTS).
        grad_clip: clip the weights' gradient norm to this (0 disables).
        learning_rate: ``xi`` of the unrolled virtual step for optimizers without ``'lr'``.
        batch_size, workers, device, log_frequency: the data loaders, the device, logging.
        **search: the algorithm's arguments, as for :class:`retiarii.strategy.DARTS`
            (``arc_learning_rate``, ``unrolled``).
    """

    strategy_class: type[strategies.OneShotStrategy] = strategies.DARTS

    def __init__(
        self,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset: Dataset[Any],
        grad_clip: float = 5.0,
        learning_rate: float = 2.5e-3,
        batch_size: int = 64,
        workers: int = 0,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        **search: Any,
    ) -> None:
        config = self.strategy_class(**search)
        loaders = split_loaders(dataset, batch_size, workers)
        super().__init__(
            config.make_algorithm(), model, loss, metrics, optimizer, num_epochs, *loaders,
            device=device, grad_clip=grad_clip, log_frequency=log_frequency,
        )  # fmt: skip
        self.algorithm.fallback_lr = learning_rate  # type: ignore[attr-defined]
        self.dataset = dataset


class GumbelDartsTrainer(DartsTrainer):
    """GumbelDARTS: as :class:`DartsTrainer`; ``**search`` as for
    :class:`retiarii.strategy.GumbelDARTS` (``gumbel_temperature``, ``use_temp_anneal``,
    ``min_temp``, ``arc_learning_rate``)."""

    strategy_class = strategies.GumbelDARTS

    @property
    def temperature(self) -> float:
        """The current Gumbel-softmax temperature."""
        return float(self.algorithm.temperature)  # type: ignore[attr-defined]


class EnasTrainer(SupernetTrainer):
    """ENAS: per step, a weight step on a path the controller samples and a controller sample
    rewarded by ``reward_function`` on a batch of the second half of ``dataset``.

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset, batch_size, workers, device,
        log_frequency: as for :class:`DartsTrainer`.
        reward_function: ``reward(logits, target) -> number`` (e.g. accuracy), to maximise.
        grad_clip: clip the gradient norms of the weights and of the controller (0 disables).
        **search: as for :class:`retiarii.strategy.ENAS` (``entropy_weight``, ``skip_weight``,
            ``baseline_decay``, ``ctrl_lr``, ``ctrl_steps_aggregate``, ``ctrl_kwargs``).

    ``export()`` decodes the controller greedily; ``reward_history`` holds every epoch's mean
    reward.
    """

    algorithm: Enas

    def __init__(
        self,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        reward_function: Callable[[Any, Any], Any],
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset: Dataset[Any],
        batch_size: int = 64,
        workers: int = 0,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        grad_clip: float = 5.0,
        **search: Any,
    ) -> None:
        config = strategies.ENAS(reward_function=reward_function, **search)
        loaders = split_loaders(dataset, batch_size, workers)
        super().__init__(
            config.make_algorithm(), model, loss, metrics, optimizer, num_epochs, *loaders,
            device=device, grad_clip=grad_clip, log_frequency=log_frequency,
        )  # fmt: skip
        self.controller = self.algorithm.controller
        self.dataset = dataset

    @property
    def reward_history(self) -> list[float]:
        """The mean reward of every epoch."""
        return [logs.metrics["reward"] for logs in self.history if "reward" in logs.metrics]


class ProxylessTrainer(SupernetTrainer):
    """ProxylessNAS with binary gates and an optional, measured, latency loss.

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset, batch_size, workers, device,
        log_frequency: as for :class:`DartsTrainer`.
        applied_hardware: ``None`` or the training device (latency is measured there).
        dummy_input: the input to measure latency on: a tensor, or a shape (random normal);
            default: the first example of ``dataset`` as a batch of one.
        grad_clip: clip the weights' gradient norm (0 disables).
        **search: as for :class:`retiarii.strategy.Proxyless` (``warmup_epochs``,
            ``arc_learning_rate``, ``grad_reg_loss_type``, ``grad_reg_loss_params``,
            ``ref_latency``, ``latency_profiler``).
    """

    algorithm: Proxyless

    def __init__(
        self,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset: Dataset[Any],
        batch_size: int = 64,
        workers: int = 0,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        applied_hardware: str | torch.device | None = None,
        dummy_input: Any = None,
        grad_clip: float = 0.0,
        **search: Any,
    ) -> None:
        config = strategies.Proxyless(**search)
        if applied_hardware is not None and torch.device(applied_hardware) != default_device(
            device
        ):
            raise ValueError(
                f"applied_hardware={applied_hardware!r}: latency is measured on the training "
                f"device ({default_device(device)}); train on the hardware you target, or pass None"
            )
        loaders = split_loaders(dataset, batch_size, workers)
        super().__init__(
            config.make_algorithm(), model, loss, metrics, optimizer, num_epochs, *loaders,
            device=device, grad_clip=grad_clip, log_frequency=log_frequency,
        )  # fmt: skip
        self.dataset = dataset
        self.algorithm.example_input = self._dummy_input(dummy_input)
        if config.grad_reg_loss_type is not None:  # measure now: errors at construction
            self.algorithm.on_fit_start(self)
        self.latency_table = self.algorithm.latency_table

    def _dummy_input(self, dummy_input: Any) -> Any:
        if dummy_input is None:
            x = self.dataset[0][0]
            return to_device(x.unsqueeze(0) if isinstance(x, torch.Tensor) else x, self.device)
        if isinstance(dummy_input, torch.Tensor):
            return dummy_input.to(self.device)
        return torch.randn(tuple(dummy_input), device=self.device)

    def expected_latency(self) -> float:
        """The expected latency (ms) under the current ``softmax(alpha)``."""
        return self.algorithm.expected_latency()


class SinglePathTrainer(SupernetTrainer):
    """Single-path one-shot training with uniform sampling, then a search of the trained
    supernet by an ask/tell strategy (SPOS).

    Args:
        model, loss, metrics, optimizer, num_epochs, batch_size, workers, device, log_frequency:
            as for :class:`DartsTrainer`.
        dataset_train: training data.
        dataset_valid: validation data for the search (the second half of ``dataset_train``
            if None, the first half then being used for training).
        grad_clip: clip the gradient norm (0 disables).
        fitness: what the search maximises: a metric name, or ``fn(metrics dict) -> float``
            (default: the first metric, or minus the loss without metrics).
        constraint: ``fn(sample) -> bool``; the search skips samples failing it.
        **search: as for :class:`retiarii.strategy.RandomOneShot` (``population_size``,
            ``evolution_cycles``, ``mutation_prob``, ``search_strategy``,
            ``bn_recalibration_batches``, ``eval_batches`` (default here: all), ``seed``).

    After :meth:`fit`, ``export()`` is the best subnet of the search (``search_history`` holds
    ``(sample, fitness)`` of every evaluated subnet) and the supernet is left on that path,
    BatchNorm recalibrated.
    """

    algorithm: RandomOneShot

    def __init__(
        self,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset_train: Dataset[Any],
        dataset_valid: Dataset[Any] | None = None,
        batch_size: int = 64,
        workers: int = 0,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        grad_clip: float = 0.0,
        fitness: str | Callable[[dict[str, float]], float] | None = None,
        constraint: Callable[[dict[str, Any]], bool] | None = None,
        **search: Any,
    ) -> None:
        search.setdefault("eval_batches", None)
        config = strategies.RandomOneShot(**search)
        loaders: tuple[Any, Any]
        if dataset_valid is None:
            loaders = split_loaders(dataset_train, batch_size, workers)
        else:
            loaders = (
                DataLoader(dataset_train, batch_size=batch_size, shuffle=True, num_workers=workers),
                DataLoader(dataset_valid, batch_size=batch_size, num_workers=workers),
            )
        super().__init__(
            config.make_algorithm(), model, loss, metrics, optimizer, num_epochs, *loaders,
            device=device, grad_clip=grad_clip, log_frequency=log_frequency,
        )  # fmt: skip
        self.algorithm.constraint = constraint
        self.fitness = fitness

    @property
    def search_history(self) -> list[tuple[dict[str, Any], float]]:
        """``(sample, fitness)`` of every subnet the search evaluated, in order."""
        return self.algorithm.history

    def search(self) -> dict[str, Any]:
        """Search the trained supernet; return the best subnet."""
        return self.algorithm.search(self, self.train_loader, self.valid_loader)

    def export(self) -> dict[str, Any]:
        """The best subnet of the search (running the search first if :meth:`fit` did not)."""
        if self.algorithm.best is None:
            self.search()
        return self.algorithm.export()
