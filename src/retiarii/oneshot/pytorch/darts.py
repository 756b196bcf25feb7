"""DARTS (Liu et al., 2019) and GumbelDARTS: differentiable architecture search.

Each step alternates an architecture step on a validation batch (Adam on the architecture
parameters ``alpha``) and a weight step on a training batch (the user's optimizer). With
``unrolled=True`` the architecture gradient is the second-order one of the paper (eq. 7-8):

    grad_alpha L_val(w', alpha) - xi * H v,   w' = w - xi * (mu * m + grad_w L_train + lambda * w)

where ``v = grad_w' L_val(w', alpha)`` and the Hessian-vector product ``H v`` (H the mixed second
derivative of ``L_train`` in alpha and w) is the central finite difference
``(grad_alpha L_train(w + eps v) - grad_alpha L_train(w - eps v)) / (2 eps)``,
``eps = 0.01 / ||v||``. ``xi``, ``mu`` (momentum) and ``lambda`` (weight decay) are taken per
parameter from the optimizer's parameter groups, so the virtual step is the step the optimizer
(SGD) would take; weights the optimizer does not hold are not moved.

Each backward pass computes only the gradients that the step uses (``inputs=`` the architecture
parameters, resp. the weights).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn
from torch.utils.data import Dataset

from .differentiable import DifferentiableSupernet
from .trainer import Metrics, SupernetTrainer
from .utils import AverageMeterGroup, split_loaders

__all__ = ["DartsTrainer", "GumbelDartsTrainer"]


class DartsTrainer(SupernetTrainer):
    """DARTS: every candidate runs, mixed by ``softmax(alpha)``; ``alpha`` is learned on held-out
    data.

    Args:
        model: the model space (its ``LayerChoice``/``InputChoice`` are replaced in place).
        loss: ``loss(logits, target) -> tensor``.
        metrics: ``metrics(logits, target) -> dict`` of numbers (or None).
        optimizer: optimizer of the model's weights (create it *before* the trainer).
        num_epochs: number of epochs.
        dataset: the training data; its first half trains the weights, its second half the
            architecture (as in DARTS).
        grad_clip: clip the weights' gradient norm to this (0 disables).
        learning_rate: ``xi`` of the unrolled virtual step for optimizers without ``'lr'``
            (otherwise the optimizer's current learning rate is used, as in the paper).
        batch_size: batch size of both halves.
        workers: data-loading worker processes.
        device: where to train (CUDA if available when None).
        log_frequency: log every this many steps (None: once per epoch).
        arc_learning_rate: learning rate of the architecture optimizer (Adam, betas (0.5, 0.999),
            weight decay 1e-3).
        unrolled: second-order DARTS.

    ``export()`` gives, for every label, the candidate with the largest ``alpha``;
    ``export_probs()`` the softmax of ``alpha``.

    Runs in one process on one ``device``; to search on several devices use
    ``strategy.DARTS()`` with a Lightning evaluator (see :mod:`.trainer`).
    """

    _gumbel = False

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
        arc_learning_rate: float = 3e-4,
        unrolled: bool = False,
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
        self.supernet = DifferentiableSupernet(
            model, gumbel=self._gumbel, trainer=type(self).__name__
        )
        self.nas_modules = self.supernet.modules
        self.model.to(self.device)
        self._alphas = self.supernet.arch_parameters()
        self._weights = self._weight_parameters(self._alphas)
        self.ctrl_optim = (
            torch.optim.Adam(
                self._alphas, arc_learning_rate, betas=(0.5, 0.999), weight_decay=1.0e-3
            )
            if self._alphas
            else None
        )
        self.grad_clip = grad_clip
        self.learning_rate = learning_rate
        self.unrolled = unrolled
        self.dataset = dataset
        self.train_loader, self.valid_loader = split_loaders(dataset, batch_size, workers)

    # -- public state ------------------------------------------------------------------------
    def arch_parameters(self) -> dict[str, tnn.Parameter]:
        """``{label: alpha}``: the architecture parameters (logits over the candidates)."""
        return dict(self.supernet.alphas)

    def weight_parameters(self) -> list[tnn.Parameter]:
        """The model's weights (every parameter but the architecture parameters)."""
        return list(self._weights)

    def export(self) -> dict[str, Any]:
        """The candidate with the largest ``alpha`` for every label."""
        return self.supernet.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: softmax(alpha)}}``."""
        return self.supernet.export_probs()

    # -- one step ----------------------------------------------------------------------------
    def _logits_and_loss(self, x: Any, y: Any) -> tuple[Any, torch.Tensor]:
        logits = self.model(x)
        return logits, self.loss(logits, y)

    def search_step(self, train_batch: Any, valid_batch: Any) -> tuple[Any, torch.Tensor]:
        """One architecture step on ``valid_batch`` and one weight step on ``train_batch``
        (both ``(x, y)`` on the trainer's device); returns the weight step's logits and loss."""
        trn_x, trn_y = train_batch
        if self.ctrl_optim is not None:
            val_x, val_y = valid_batch
            self.ctrl_optim.zero_grad()
            if self.unrolled:
                self._unrolled_backward(trn_x, trn_y, val_x, val_y)
            else:
                _, loss = self._logits_and_loss(val_x, val_y)
                torch.autograd.backward(loss, inputs=self._alphas)
            self.ctrl_optim.step()
        self.optimizer.zero_grad()
        logits, loss = self._logits_and_loss(trn_x, trn_y)
        torch.autograd.backward(loss, inputs=self._weights)
        if self.grad_clip > 0:
            tnn.utils.clip_grad_norm_(self._weights, self.grad_clip)
        self.optimizer.step()
        return logits, loss

    def train_epoch(self, epoch: int) -> AverageMeterGroup:
        loaders = [self.train_loader, self.valid_loader]
        return self.run_steps("DARTS", epoch, loaders, self.search_step)

    # -- second order ------------------------------------------------------------------------
    def _virtual_lrs(self) -> list[tuple[float, float, float]]:
        """``(xi, momentum, weight decay)`` of every weight, from the optimizer's groups."""
        found: dict[int, tuple[float, float, float]] = {}
        for group in self.optimizer.param_groups:
            hparams = (
                float(group.get("lr", self.learning_rate)),
                float(group.get("momentum", 0.0)),
                float(group.get("weight_decay", 0.0)),
            )
            for p in group["params"]:
                found[id(p)] = hparams
        return [found.get(id(w), (0.0, 0.0, 0.0)) for w in self._weights]

    def _unrolled_backward(self, trn_x: Any, trn_y: Any, val_x: Any, val_y: Any) -> None:
        """Set ``alpha.grad`` to the second-order DARTS gradient (see the module docstring)."""
        weights, alphas = self._weights, self._alphas
        hparams = self._virtual_lrs()
        backup = [w.detach().clone() for w in weights]
        # The virtual step w' = w - xi * (mu * m + g + lambda * w) on the training batch.
        _, loss = self._logits_and_loss(trn_x, trn_y)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        with torch.no_grad():
            for w, g, (xi, mu, decay) in zip(weights, grads, hparams):
                if g is None or xi == 0.0:
                    continue
                d = g + decay * w if decay else g
                buf = self.optimizer.state.get(w, {}).get("momentum_buffer") if mu else None
                if buf is not None:
                    d = d + mu * buf
                w.sub_(xi * d)
        # The validation loss at w', differentiated in w' and alpha.
        _, loss = self._logits_and_loss(val_x, val_y)
        grads = torch.autograd.grad(loss, [*weights, *alphas], allow_unused=True)
        dw, dalpha = grads[: len(weights)], grads[len(weights) :]
        vector = [None if g is None or xi == 0.0 else xi * g for g, (xi, _, _) in zip(dw, hparams)]
        hessian = self._hessian_vector(vector, backup, trn_x, trn_y)
        for a, da, h in zip(alphas, dalpha, hessian):
            grad = -h if da is None else da - h
            a.grad = grad if a.grad is None else a.grad + grad

    def _hessian_vector(
        self, vector: list[torch.Tensor | None], backup: list[torch.Tensor], x: Any, y: Any
    ) -> list[torch.Tensor]:
        """``(grad_alpha L(w + eps v) - grad_alpha L(w - eps v)) / (2 eps)``, restoring ``w``
        (from ``backup``) before and after."""
        weights, alphas = self._weights, self._alphas
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        present = [v.reshape(-1) for v in vector if v is not None]
        norm = float(torch.cat(present).norm()) if present else 0.0
        if norm < 1e-12:
            return [torch.zeros_like(a) for a in alphas]
        eps = 0.01 / norm
        sides: list[tuple[torch.Tensor | None, ...]] = []
        for coef in (eps, -2.0 * eps):  # w + eps v, then w - eps v
            with torch.no_grad():
                for w, v in zip(weights, vector):
                    if v is not None:
                        w.add_(v, alpha=coef)
            _, loss = self._logits_and_loss(x, y)
            sides.append(torch.autograd.grad(loss, alphas, allow_unused=True))
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        return [
            torch.zeros_like(a) if p is None or n is None else (p - n) / (2.0 * eps)
            for a, p, n in zip(alphas, *sides)
        ]


class GumbelDartsTrainer(DartsTrainer):
    """GumbelDARTS: like DARTS, but candidates are mixed with Gumbel-softmax weights
    ``softmax((alpha + g) / tau)`` with fresh Gumbel noise ``g`` for every forward pass (shared by
    choices with the same label).

    Args (besides :class:`DartsTrainer`'s, without ``unrolled``):
        gumbel_temperature: ``tau``.
        use_temp_anneal: anneal ``tau`` linearly from ``gumbel_temperature`` (first epoch) to
            ``min_temp`` (after the last).
        min_temp: the final temperature when annealing.

    Runs in one process on one ``device``; to search on several devices use
    ``strategy.GumbelDARTS()`` with a Lightning evaluator (see :mod:`.trainer`).
    """

    _gumbel = True

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
        arc_learning_rate: float = 3e-4,
        gumbel_temperature: float = 1.0,
        use_temp_anneal: bool = False,
        min_temp: float = 0.33,
    ) -> None:
        super().__init__(
            model,
            loss,
            metrics,
            optimizer,
            num_epochs,
            dataset,
            grad_clip=grad_clip,
            learning_rate=learning_rate,
            batch_size=batch_size,
            workers=workers,
            device=device,
            log_frequency=log_frequency,
            arc_learning_rate=arc_learning_rate,
        )
        self.initial_temperature = gumbel_temperature
        self.temperature = gumbel_temperature
        self.use_temp_anneal = use_temp_anneal
        self.min_temp = min_temp

    def train_epoch(self, epoch: int) -> AverageMeterGroup:
        if self.use_temp_anneal:
            progress = epoch / max(self.num_epochs, 1)
            self.temperature = (1 - progress) * (
                self.initial_temperature - self.min_temp
            ) + self.min_temp
        return super().train_epoch(epoch)

    def _logits_and_loss(self, x: Any, y: Any) -> tuple[Any, torch.Tensor]:
        self.supernet.resample(self.temperature)
        return super()._logits_and_loss(x, y)
