"""SPOS (Guo et al., 2020): uniform single-path training, then evolutionary search.

Training samples one path uniformly at random per step and trains it like a plain model. The
search then evaluates subnets of the trained supernet on validation data, each after
*BatchNorm recalibration* (the running statistics of a supernet mix every path; they are
recomputed for the subnet on a few training batches), and evolves the best ones
(:func:`~retiarii.oneshot.evolution.evolution_search`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as tnn
from torch.utils.data import DataLoader, Dataset

from ...mutable import SearchSpace
from ..evolution import EvolutionResult, evolution_search
from .sampling import PathSamplingSupernet
from .slicing import SlicedBatchNorm
from .trainer import Metrics, SupernetTrainer, _as_dict
from .utils import AverageMeterGroup, split_loaders, to_device

__all__ = ["SinglePathTrainer", "recalibrate_batchnorm"]


def _batchnorms(model: tnn.Module) -> list[Any]:
    return [
        m
        for m in model.modules()
        if isinstance(m, (tnn.modules.batchnorm._BatchNorm, SlicedBatchNorm))
        and m.track_running_stats
    ]


@torch.no_grad()
def recalibrate_batchnorm(model: tnn.Module, batches: Iterable[Any]) -> None:
    """Recompute the running statistics of every BatchNorm of ``model`` as the exact average over
    ``batches`` (inputs, on the model's device) of the current path; the model is left in eval
    mode."""
    norms = _batchnorms(model)
    if not norms:
        model.eval()
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for x in batches:
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()


class SinglePathTrainer(SupernetTrainer):
    """Single-path one-shot training with uniform sampling, then evolutionary search (SPOS).

    Args:
        model: the model space (``LayerChoice``, ``InputChoice``, ``Repeat`` depths and value
            choices in layer arguments are replaced in place; value-choice layers share weights
            by slicing).
        loss: ``loss(logits, target) -> tensor``.
        metrics: ``metrics(logits, target) -> dict`` of numbers (or None).
        optimizer: optimizer of the model's weights.
        num_epochs: training epochs.
        dataset_train: training data.
        dataset_valid: validation data for the search (the second half of ``dataset_train``
            if None, the first half then being used for training).
        batch_size, workers, device, log_frequency: as for the other trainers.
        grad_clip: clip the gradient norm (0 disables).
        population_size, evolution_cycles, topk, mutation_prob: the evolution (see
            :func:`~retiarii.oneshot.evolution.evolution_search`); ``evolution_cycles=0`` makes
            it a random search of ``population_size`` subnets.
        bn_recalibration_batches: training batches to recompute BatchNorm statistics on, per
            evaluated subnet (0 disables).
        eval_batches: validation batches per evaluated subnet (None: all).
        fitness: what the search maximises: a metric name, or ``fn(metrics dict) -> float``
            (default: the first metric, or minus the loss without metrics).
        constraint: ``fn(sample) -> bool``; the search skips samples failing it.
        seed: seed of the path sampling and of the search (default: drawn from torch's RNG).

    After :meth:`fit`, ``export()`` is the best subnet of the search (``search_result`` holds
    every evaluated subnet) and the supernet is left on that path, BatchNorm recalibrated.

    Runs in one process on one ``device``; to search on several devices use
    ``strategy.RandomOneShot()`` with a Lightning evaluator (see :mod:`.trainer`).
    """

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
        population_size: int = 20,
        evolution_cycles: int = 10,
        topk: int | None = None,
        mutation_prob: float = 0.1,
        bn_recalibration_batches: int = 10,
        eval_batches: int | None = None,
        fitness: str | Callable[[dict[str, float]], float] | None = None,
        constraint: Callable[[dict[str, Any]], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            model,
            loss,
            metrics,
            optimizer,
            num_epochs,
            batch_size=batch_size,
            workers=workers,
            device=device,
            log_frequency=log_frequency,
        )
        self.supernet = PathSamplingSupernet(model, trainer=type(self).__name__)
        self.nas_modules = self.supernet.modules
        self.model.to(self.device)
        self._weights = self._weight_parameters(())
        if dataset_valid is None:
            self.train_loader, self.valid_loader = split_loaders(dataset_train, batch_size, workers)
        else:
            self.train_loader = DataLoader(
                dataset_train, batch_size=batch_size, shuffle=True, num_workers=workers
            )
            self.valid_loader = DataLoader(
                dataset_valid, batch_size=batch_size, num_workers=workers
            )
        self.grad_clip = grad_clip
        self.population_size = population_size
        self.evolution_cycles = evolution_cycles
        self.topk = topk
        self.mutation_prob = mutation_prob
        self.bn_recalibration_batches = bn_recalibration_batches
        self.eval_batches = eval_batches
        self.fitness = fitness
        self.constraint = constraint
        seed = int(torch.randint(2**31 - 1, ())) if seed is None else seed
        self.rng = random.Random(seed)
        self.search_result: EvolutionResult | None = None
        self._calibration: list[Any] | None = None
        self._validation: list[Any] | None = None

    @property
    def search_space(self) -> SearchSpace:
        """The decisions of the supernet (what the search explores)."""
        board = self.supernet.board
        return SearchSpace((s.decision for s in board.values()), board.constraints)

    # -- training ------------------------------------------------------------------------------
    def search_step(self, batch: Any) -> tuple[Any, torch.Tensor]:
        """Sample a path uniformly and train it on ``batch``; return logits and loss."""
        x, y = batch
        self.supernet.random(self.rng)
        self.optimizer.zero_grad()
        logits = self.model(x)
        loss = self.loss(logits, y)
        loss.backward()
        if self.grad_clip > 0:
            tnn.utils.clip_grad_norm_(self._weights, self.grad_clip)
        self.optimizer.step()
        return logits, loss

    def train_epoch(self, epoch: int) -> AverageMeterGroup:
        return self.run_steps("SPOS", epoch, [self.train_loader], self.search_step)

    def after_fit(self) -> None:
        self.search()

    # -- search --------------------------------------------------------------------------------
    def _fitness(self, metrics: dict[str, float]) -> float:
        if callable(self.fitness):
            return float(self.fitness(metrics))
        if isinstance(self.fitness, str):
            return metrics[self.fitness]
        named = [v for k, v in metrics.items() if k != "loss"]
        return named[0] if named else -metrics["loss"]

    @torch.no_grad()
    def evaluate(self, sample: dict[str, Any]) -> dict[str, float]:
        """Validation metrics (and ``'loss'``) of the subnet ``sample``, after BatchNorm
        recalibration; leaves the supernet on that path."""
        if self._calibration is None or self._validation is None:
            self._load_search_data()
        assert self._calibration is not None and self._validation is not None
        self.supernet.set_sample(sample)
        recalibrate_batchnorm(self.model, self._calibration)
        meters = AverageMeterGroup()
        for x, y in self._validation:
            logits = self.model(x)
            values = _as_dict(self.metrics(logits, y)) if self.metrics is not None else {}
            values["loss"] = float(self.loss(logits, y))
            meters.update(values, n=len(y))  # weighted by batch size
        return meters.summary()

    def _load_search_data(self) -> None:
        self._calibration = [
            to_device(x, self.device)
            for x, _ in itertools.islice(self.train_loader, self.bn_recalibration_batches)
        ]
        self._validation = [
            to_device(batch, self.device)
            for batch in itertools.islice(self.valid_loader, self.eval_batches)
        ]
        if not self._validation:
            raise ValueError(f"{type(self).__name__}: the validation data is empty")

    def search(self) -> dict[str, Any]:
        """Run the evolutionary search on the trained supernet; return the best subnet."""
        self._load_search_data()
        self.search_result = evolution_search(
            self.search_space,
            lambda sample: self._fitness(self.evaluate(sample)),
            population_size=self.population_size,
            cycles=self.evolution_cycles,
            topk=self.topk,
            mutation_prob=self.mutation_prob,
            constraint=self.constraint,
            seed=self.rng,
        )
        self.evaluate(self.search_result.best)
        return dict(self.search_result.best)

    def export(self) -> dict[str, Any]:
        """The best subnet of the search (running the search first if :meth:`fit` did not)."""
        if self.search_result is None:
            self.search()
        assert self.search_result is not None
        return dict(self.search_result.best)
