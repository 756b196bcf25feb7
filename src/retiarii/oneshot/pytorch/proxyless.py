"""ProxylessNAS (Cai et al., 2019): binary gates, two active paths per architecture step.

* Weight step: one path is sampled from ``softmax(alpha)`` and trained like a plain model.
* Architecture step: two candidates ``a, b`` are sampled from ``softmax(alpha)``; one of them is
  active, chosen with the probabilities ``p' = softmax(alpha[a], alpha[b])``. The output is
  ``g_a * op_a(x) + g_b * op_b(x)`` with binary gates ``g`` (1 for the active candidate) whose
  gradient flows to ``p'`` (straight-through), which gives exactly ProxylessNAS's gradient
  ``dL/dalpha_i = sum_j dL/dg_j * p'_j * (delta_ij - p'_i)``. After the update, ``alpha[a]`` and
  ``alpha[b]`` are shifted so that the probability mass of the other candidates is unchanged.

Only one (weight step) or two (architecture step) candidates run per choice, so memory does not
grow with the number of candidates. With ``grad_reg_loss_type`` the architecture loss is
hardware-aware: the expected latency ``E = base + sum over choices of softmax(alpha) . latency``
uses latencies *measured on the training device* by :class:`~.latency.LatencyProfiler`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as F
from torch.utils.data import Dataset

from ...nn.pytorch.choices import InputChoice, LayerChoice
from .latency import LatencyProfiler
from .supernet import SupernetInputChoice, SupernetLayerChoice, check_searchable
from .trainer import Metrics, SupernetTrainer
from .utils import AverageMeterGroup, replace_modules, split_loaders, to_device

__all__ = [
    "ProxylessDecision",
    "ProxylessInputChoice",
    "ProxylessLayerChoice",
    "ProxylessSupernet",
    "ProxylessTrainer",
]


class ProxylessDecision:
    """The architecture parameter of one label and the paths active for the current step."""

    __slots__ = ("active", "alpha", "gates", "is_input", "label", "names", "pair")

    def __init__(self, label: str, names: list[Any], is_input: bool = False) -> None:
        self.label = label
        self.names = names
        self.is_input = is_input
        self.alpha = tnn.Parameter(torch.randn(len(names)) * 1e-3)
        self.active = 0
        self.pair: tuple[int, int] | None = None
        self.gates: tuple[torch.Tensor, ...] = ()

    def probs(self) -> list[float]:
        """``softmax(alpha)`` as a list."""
        return F.softmax(self.alpha.detach(), -1).tolist()

    def sample_one(self, rng: random.Random) -> None:
        """Activate one candidate drawn from ``softmax(alpha)``."""
        n = len(self.names)
        self.pair = None
        self.active = rng.choices(range(n), weights=self.probs())[0] if n > 1 else 0

    def sample_two(self, rng: random.Random) -> None:
        """Activate two candidates with binary gates (see the module docstring)."""
        n = len(self.names)
        if n < 2:
            self.sample_one(rng)
            return
        probs = self.probs()
        a = rng.choices(range(n), weights=probs)[0]
        rest = [i for i in range(n) if i != a]
        b = rng.choices(rest, weights=[probs[i] for i in rest])[0]
        pair_probs = F.softmax(self.alpha[[a, b]], -1)
        first = rng.random() < float(pair_probs[0].detach())
        hard = torch.tensor(
            [1.0, 0.0] if first else [0.0, 1.0], device=pair_probs.device, dtype=pair_probs.dtype
        )
        self.pair = (a, b)
        self.active = a if first else b
        self.gates = (hard - pair_probs.detach() + pair_probs).unbind()


class ProxylessLayerChoice(SupernetLayerChoice):
    """A ``LayerChoice`` running one candidate, or two behind binary gates."""

    def __init__(
        self, layer_choice: LayerChoice, decision: ProxylessDecision | None = None
    ) -> None:
        super().__init__(layer_choice)
        self._state = decision or ProxylessDecision(self.label, self.names)
        self._arch_alpha = self._state.alpha

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        state = self._state
        if state.pair is None:
            return self._ops[state.active](*args, **kwargs)
        a, b = state.pair
        g_a, g_b = state.gates
        return self._ops[a](*args, **kwargs) * g_a + self._ops[b](*args, **kwargs) * g_b


class ProxylessInputChoice(SupernetInputChoice):
    """An ``InputChoice`` of one input, with binary gates like :class:`ProxylessLayerChoice`."""

    def __init__(
        self, input_choice: InputChoice, decision: ProxylessDecision | None = None
    ) -> None:
        super().__init__(input_choice)
        if self.n_chosen != 1:
            raise ValueError(
                f"InputChoice {self.label!r}: ProxylessNAS chooses exactly one input (n_chosen="
                f"{self.n_chosen}); use a sampling trainer (SinglePathTrainer, EnasTrainer)"
            )
        self._state = decision or ProxylessDecision(
            self.label, list(range(self.n_candidates)), is_input=True
        )
        self._arch_alpha = self._state.alpha

    def forward(self, inputs: list[Any]) -> Any:
        inputs = self._check(inputs)
        state = self._state
        if state.pair is None:
            out = inputs[state.active]
        else:
            a, b = state.pair
            out = inputs[a] * state.gates[0] + inputs[b] * state.gates[1]
        return [out] if self.reduction == "none" else out


_HINT = (
    "ProxylessNAS searches LayerChoice and single-input InputChoice; use SinglePathTrainer or "
    "EnasTrainer for Repeat depths and value choices in layer arguments."
)


class ProxylessSupernet:
    """Turns a model space into a ProxylessNAS supernet, in place (one decision per label)."""

    def __init__(self, model: tnn.Module, *, trainer: str = "ProxylessNAS") -> None:
        self.decisions: dict[str, ProxylessDecision] = {}
        self.modules: list[tuple[str, tnn.Module]] = []
        replace_modules(model, self._replace, self.modules)
        check_searchable(model, self.decisions, trainer, _HINT)
        self.base_latency = 0.0
        self.latencies: dict[str, torch.Tensor] = {}

    def _replace(self, module: tnn.Module) -> tnn.Module | None:
        if isinstance(module, LayerChoice):
            return ProxylessLayerChoice(module, self._decision(module.label, module.names))
        if isinstance(module, InputChoice):
            names = list(range(module.n_candidates))
            return ProxylessInputChoice(module, self._decision(module.label, names, True))
        return None

    def _decision(self, label: str, names: list[Any], is_input: bool = False) -> ProxylessDecision:
        found = self.decisions.get(label)
        if found is None:
            found = self.decisions[label] = ProxylessDecision(label, list(names), is_input)
        elif len(found.names) != len(names):
            raise ValueError(
                f"choices sharing label {label!r} have different numbers of candidates"
            )
        return found

    def arch_parameters(self) -> list[tnn.Parameter]:
        """The architecture parameters, one per label."""
        return [d.alpha for d in self.decisions.values()]

    def sample_one(self, rng: random.Random) -> None:
        """One path per label (the weight step)."""
        for decision in self.decisions.values():
            decision.sample_one(rng)

    def sample_two(self, rng: random.Random) -> None:
        """Two gated paths per label (the architecture step)."""
        for decision in self.decisions.values():
            decision.sample_two(rng)

    def pair_logits(self) -> dict[str, torch.Tensor]:
        """The current ``alpha`` of the two active candidates of every label."""
        return {
            d.label: d.alpha.detach()[list(d.pair)].clone()
            for d in self.decisions.values()
            if d.pair is not None
        }

    @torch.no_grad()
    def rescale(self, before: dict[str, torch.Tensor]) -> None:
        """Shift the updated pair logits so that the other candidates keep their probability."""
        for label, old in before.items():
            decision = self.decisions[label]
            index = list(decision.pair or ())
            new = decision.alpha[index]
            offset = torch.logsumexp(new, 0) - torch.logsumexp(old, 0)
            decision.alpha[index] -= offset

    def expected_latency(self) -> torch.Tensor:
        """``base + sum over choices of softmax(alpha) . latency`` (ms), differentiable."""
        total: torch.Tensor | float = self.base_latency
        for label, latency in self.latencies.items():
            total = total + (F.softmax(self.decisions[label].alpha, -1) * latency).sum()
        return torch.as_tensor(total)

    def measure_latency(
        self, model: tnn.Module, dummy_input: Any, profiler: LatencyProfiler
    ) -> dict[str, list[float]]:
        """Measure every candidate on the input it receives in ``model(dummy_input)``; fills
        :attr:`latencies` and :attr:`base_latency` (the rest of the network). Returns the
        per-label candidate latencies (ms, summed over choices sharing the label)."""
        captured: list[tuple[tnn.Module, tuple[Any, ...], dict[str, Any]]] = []

        def hook(module: tnn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            captured.append((module, args, kwargs))

        handles = [
            m.register_forward_pre_hook(hook, with_kwargs=True)
            for _, m in self.modules
            if isinstance(m, ProxylessLayerChoice)
        ]
        for decision in self.decisions.values():
            decision.pair, decision.active = None, 0
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                model(dummy_input)
        finally:
            model.train(was_training)
            for handle in handles:
                handle.remove()
        per_label: dict[str, list[float]] = {}
        first_path = 0.0
        for module, args, kwargs in captured:
            assert isinstance(module, ProxylessLayerChoice)
            times = [profiler.measure(op, args, kwargs) for op in module._ops]
            first_path += times[0]
            previous = per_label.get(module.label)
            per_label[module.label] = (
                times if previous is None else [p + t for p, t in zip(previous, times)]
            )
        whole = profiler.measure(model, (dummy_input,), {})
        profiler.save()
        self.set_latencies(per_label, max(whole - first_path, 0.0))
        return per_label

    def set_latencies(self, per_label: dict[str, list[float]], base_latency: float) -> None:
        """Use latencies measured elsewhere (as :meth:`measure_latency` returns them, in ms)."""
        self.base_latency = base_latency
        device = self.arch_parameters()[0].device if self.decisions else None
        self.latencies = {
            label: torch.tensor(times, device=device) for label, times in per_label.items()
        }

    def export(self) -> dict[str, Any]:
        """The candidate with the largest ``alpha`` for every label."""
        out: dict[str, Any] = {}
        for label, decision in self.decisions.items():
            best = int(torch.argmax(decision.alpha))
            out[label] = [best] if decision.is_input else decision.names[best]
        return out

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: softmax(alpha)}}``."""
        return {
            label: {str(n): p for n, p in zip(d.names, d.probs())}
            for label, d in self.decisions.items()
        }


def check_latency_loss(
    reg_loss_type: str | None, ref_latency: float, supernet: ProxylessSupernet | None = None
) -> None:
    """Refuse an unknown loss type, and ``'mul#log'`` when the measured latencies (if given) are
    not above 1 ms (its logarithm would be negative)."""
    if reg_loss_type not in (None, "add#linear", "mul#log"):
        raise ValueError(
            f"grad_reg_loss_type must be None, 'add#linear' or 'mul#log', got {reg_loss_type!r}"
        )
    if reg_loss_type == "mul#log" and supernet is not None and supernet.latencies:
        fastest = supernet.base_latency + sum(float(t.min()) for t in supernet.latencies.values())
        if ref_latency <= 1.0 or fastest <= 1.0:
            raise ValueError(
                "grad_reg_loss_type='mul#log' needs latencies above 1 ms (log E must be "
                f"positive); the fastest path measures {fastest:.3g} ms and ref_latency is "
                f"{ref_latency}. Use 'add#linear'."
            )


def latency_regularized(
    loss: torch.Tensor,
    supernet: ProxylessSupernet,
    reg_loss_type: str | None,
    params: dict[str, float],
    ref_latency: float,
) -> torch.Tensor:
    """``loss`` with ProxylessNAS's latency regularisation (see :class:`ProxylessTrainer`)."""
    if reg_loss_type is None:
        return loss
    expected = supernet.expected_latency()
    if reg_loss_type == "mul#log":
        alpha, beta = params.get("alpha", 1.0), params.get("beta", 0.6)
        return loss * alpha * (torch.log(expected) / math.log(ref_latency)) ** beta
    lam = params.get("lambda", 0.2)
    return loss + lam * (expected - ref_latency) / ref_latency


class ProxylessTrainer(SupernetTrainer):
    """ProxylessNAS with binary gates and an optional, measured, latency loss.

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset, batch_size, workers, device,
        log_frequency: as for :class:`DartsTrainer` (``dataset`` is split in halves the same way).
        warmup_epochs: first epochs that train only the weights (on paths sampled from the
            still uniform ``softmax(alpha)``).
        arc_learning_rate: learning rate of the architecture optimizer (Adam, betas (0, 0.999)).
        grad_reg_loss_type: ``None`` (accuracy only), ``'add#linear'``
            (``ce + lambda * (E - ref_latency) / ref_latency``) or ``'mul#log'``
            (``ce * alpha * (log E / log ref_latency) ** beta``, which needs latencies above
            1 ms), ``E`` the expected latency in ms.
        grad_reg_loss_params: ``{'lambda': 0.2}`` for ``'add#linear'``,
            ``{'alpha': 1, 'beta': 0.6}`` for ``'mul#log'`` (these are the defaults).
        applied_hardware: where latency applies: ``None`` (or the training device). Latency is
            measured on the training device; there are no predictors for other hardware.
        dummy_input: the input to measure latency on: a tensor, or a shape (random normal);
            default: the first example of ``dataset`` as a batch of one.
        ref_latency: the reference latency (ms) of the regularisation.
        latency_profiler: a :class:`~.latency.LatencyProfiler` (default: one on ``device`` with
            the default cached table).
        grad_clip: clip the weights' gradient norm (0 disables).

    Runs in one process on one ``device``; to search on several devices use
    ``strategy.Proxyless()`` with a Lightning evaluator (see :mod:`.trainer`; there rank 0
    measures the latencies and every rank uses its table).
    """

    def __init__(
        self,
        model: tnn.Module,
        loss: Callable[[Any, Any], torch.Tensor],
        metrics: Metrics | None,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset: Dataset[Any],
        warmup_epochs: int = 0,
        batch_size: int = 64,
        workers: int = 0,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        arc_learning_rate: float = 1e-3,
        grad_reg_loss_type: str | None = None,
        grad_reg_loss_params: dict[str, float] | None = None,
        applied_hardware: str | torch.device | None = None,
        dummy_input: Any = None,
        ref_latency: float = 65.0,
        latency_profiler: LatencyProfiler | None = None,
        grad_clip: float = 0.0,
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
        check_latency_loss(grad_reg_loss_type, ref_latency)
        if applied_hardware is not None and torch.device(applied_hardware) != self.device:
            raise ValueError(
                f"applied_hardware={applied_hardware!r}: latency is measured on the training "
                f"device ({self.device}); train on the hardware you target, or pass None"
            )
        self.supernet = ProxylessSupernet(model, trainer=type(self).__name__)
        self.nas_modules = self.supernet.modules
        self.model.to(self.device)
        self._alphas = self.supernet.arch_parameters()
        self._weights = self._weight_parameters(self._alphas)
        self.ctrl_optim = (
            torch.optim.Adam(self._alphas, lr=arc_learning_rate, betas=(0.0, 0.999), eps=1e-8)
            if self._alphas
            else None
        )
        self.warmup_epochs = warmup_epochs
        self.grad_clip = grad_clip
        self.reg_loss_type = grad_reg_loss_type
        self.reg_loss_params = dict(grad_reg_loss_params or {})
        self.ref_latency = ref_latency
        self.dataset = dataset
        self.train_loader, self.valid_loader = split_loaders(dataset, batch_size, workers)
        self.rng = random.Random(int(torch.randint(2**31 - 1, ())))
        self.latency_table: dict[str, list[float]] = {}
        if grad_reg_loss_type is not None:
            profiler = latency_profiler or LatencyProfiler(self.device)
            example = self._dummy_input(dummy_input)
            self.latency_table = self.supernet.measure_latency(self.model, example, profiler)
            check_latency_loss(grad_reg_loss_type, ref_latency, self.supernet)

    def _dummy_input(self, dummy_input: Any) -> Any:
        if dummy_input is None:
            x = self.dataset[0][0]
            return to_device(x.unsqueeze(0) if isinstance(x, torch.Tensor) else x, self.device)
        if isinstance(dummy_input, torch.Tensor):
            return dummy_input.to(self.device)
        return torch.randn(tuple(dummy_input), device=self.device)

    # -- public state --------------------------------------------------------------------------
    def arch_parameters(self) -> dict[str, tnn.Parameter]:
        """``{label: alpha}``."""
        return {label: d.alpha for label, d in self.supernet.decisions.items()}

    def weight_parameters(self) -> list[tnn.Parameter]:
        """The model's weights (every parameter but the architecture parameters)."""
        return list(self._weights)

    def expected_latency(self) -> float:
        """The expected latency (ms) under the current ``softmax(alpha)``."""
        with torch.no_grad():
            return float(self.supernet.expected_latency())

    def export(self) -> dict[str, Any]:
        """The candidate with the largest ``alpha`` for every label."""
        return self.supernet.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: softmax(alpha)}}``."""
        return self.supernet.export_probs()

    # -- steps ----------------------------------------------------------------------------------
    def arch_loss(self, logits: Any, target: Any) -> torch.Tensor:
        """The architecture step's loss: the task loss, latency-regularised if configured."""
        return latency_regularized(
            self.loss(logits, target),
            self.supernet,
            self.reg_loss_type,
            self.reg_loss_params,
            self.ref_latency,
        )

    def search_step(self, train_batch: Any, valid_batch: Any | None) -> tuple[Any, torch.Tensor]:
        """An architecture step on ``valid_batch`` (skipped if None) and a weight step on
        ``train_batch``; returns the weight step's logits and loss."""
        if valid_batch is not None and self.ctrl_optim is not None:
            val_x, val_y = valid_batch
            self.supernet.sample_two(self.rng)
            self.ctrl_optim.zero_grad()
            loss = self.arch_loss(self.model(val_x), val_y)
            torch.autograd.backward(loss, inputs=self._alphas)
            before = self.supernet.pair_logits()
            self.ctrl_optim.step()
            self.supernet.rescale(before)
        x, y = train_batch
        self.supernet.sample_one(self.rng)
        self.optimizer.zero_grad()
        logits = self.model(x)
        loss = self.loss(logits, y)
        torch.autograd.backward(loss, inputs=self._weights)
        if self.grad_clip > 0:
            tnn.utils.clip_grad_norm_(self._weights, self.grad_clip)
        self.optimizer.step()
        return logits, loss

    def train_epoch(self, epoch: int) -> AverageMeterGroup:
        if epoch >= self.warmup_epochs:
            loaders = [self.train_loader, self.valid_loader]
            meters = self.run_steps("Proxyless", epoch, loaders, self.search_step)
        else:  # warm-up: weight steps only
            meters = self.run_steps(
                "Proxyless warm-up", epoch, [self.train_loader], lambda t: self.search_step(t, None)
            )
        if self.supernet.latencies:
            meters.update({"expected_latency_ms": self.expected_latency()})
        return meters
