"""ProxylessNAS (Cai et al., 2019): binary gates, two active paths per architecture step.

* Weight step: one path is sampled from ``softmax(alpha)`` and trained like a plain model.
* Architecture step: two candidates ``a, b`` are sampled from ``softmax(alpha)``; one of them is
  active, chosen with the probabilities ``p' = softmax(alpha[a], alpha[b])``. The output is
  ``g_a * op_a(x) + g_b * op_b(x)`` with binary gates ``g`` (1 for the active candidate) whose
  gradient flows to ``p'`` (straight-through), which gives exactly ProxylessNAS's gradient
  ``dL/dalpha_i = sum_j dL/dg_j * p'_j * (delta_ij - p'_i)``. After the update, ``alpha[a]`` and
  ``alpha[b]`` are shifted so that the probability mass of the other candidates is unchanged.

Only one (weight step) or two (architecture step) candidates run per choice, so memory does not
grow with the number of candidates. Value choices in layer arguments and ``Repeat`` depths are
gated the same way: a weight step runs the sampled slice of the weight-shared layer (as SPOS
does), an architecture step the two sampled slices (of every label the layer depends on) mixed
by the gates (:mod:`.mixed`), so the gradient of their ``alpha`` is the same binary-gate estimate. With ``grad_reg_loss_type`` the architecture loss is
hardware-aware: the expected latency ``E = base + sum over choices of softmax(alpha) . latency``
uses latencies *measured on the training device* by :class:`~.latency.LatencyProfiler`.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

from ...nn.pytorch.cell import Cell
from ...nn.pytorch.choices import InputChoice, LayerChoice
from .differentiable import AlphaSupernet
from .latency import LatencyProfiler
from .mixed import weighted_sum
from .supernet import SupernetInputChoice, SupernetLayerChoice, Switch

__all__ = [
    "ProxylessDecision",
    "ProxylessInputChoice",
    "ProxylessLayerChoice",
    "ProxylessSupernet",
]


class ProxylessDecision:
    """The architecture parameter of one label and the paths active for the current step."""

    __slots__ = ("active", "alpha", "gates", "is_input", "label", "names", "pair")

    def __init__(
        self,
        label: str,
        names: list[Any],
        is_input: bool = False,
        alpha: tnn.Parameter | None = None,
    ) -> None:
        self.label = label
        self.names = names
        self.is_input = is_input
        self.alpha = alpha if alpha is not None else tnn.Parameter(torch.randn(len(names)) * 1e-3)
        self.active = 0
        self.pair: tuple[int, int] | None = None
        self.gates: tuple[torch.Tensor, ...] = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> ProxylessDecision:
        # the gates of an architecture step hold its graph, which deepcopy refuses (a model
        # copied mid-step, e.g. frozen by a callback): the copy gets them detached
        new = ProxylessDecision.__new__(ProxylessDecision)
        for name in self.__slots__:
            value = getattr(self, name)
            if name == "gates":
                value = tuple(g.detach().clone() for g in value)
            setattr(new, name, copy.deepcopy(value, memo))
        return new

    def probs(self) -> list[float]:
        """``softmax(alpha)`` as a list."""
        return F.softmax(self.alpha.detach(), -1).tolist()

    def sample_one(self, rng: random.Random) -> None:
        """Activate one candidate drawn from ``softmax(alpha)``."""
        n = len(self.names)
        self.pair, self.gates = None, ()  # the gates' graph is not kept alive
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

    def gated(self, run: Callable[[int], Any]) -> Any:
        """``run(active)``, or ``run(a) * g_a + run(b) * g_b`` in an architecture step."""
        if self.pair is None:
            return run(self.active)
        return weighted_sum([run(i) for i in self.pair], self.gates)


class ProxylessLayerChoice(SupernetLayerChoice):
    """A ``LayerChoice`` running one candidate, or two behind binary gates."""

    def __init__(
        self, layer_choice: LayerChoice, decision: ProxylessDecision | None = None
    ) -> None:
        super().__init__(layer_choice)
        self._state = decision or ProxylessDecision(self.label, self.names)
        self._arch_alpha = self._state.alpha

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._state.gated(lambda i: self._ops[i](*args, **kwargs))


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
        out = self._state.gated(self._check(inputs).__getitem__)
        return [out] if self.reduction == "none" else out


class ProxylessSupernet(AlphaSupernet):
    """Turns a model space into a ProxylessNAS supernet, in place (one decision per label)."""

    hint = (
        "ProxylessNAS searches LayerChoice, single-input InputChoice, Repeat depths decided by one "
        "label and value choices in the arguments of Linear, Conv1d/2d/3d, BatchNorm1d/2d/3d, "
        "LayerNorm, MultiheadAttention and parameter-free layers; use SinglePathTrainer or "
        "EnasTrainer for Cell and multi-input InputChoice."
    )
    refused = (Cell,)

    def __init__(self, model: tnn.Module, *, trainer: str = "ProxylessNAS") -> None:
        self.decisions: dict[str, ProxylessDecision] = {}
        super().__init__(model, trainer)
        self.base_latency = 0.0
        self.latencies: dict[str, torch.Tensor] = {}

    def _shared(
        self, label: str, n: int, names: list[Any] | None, n_chosen: int | None = 1
    ) -> tnn.Parameter:
        alpha = super()._shared(label, n, names, n_chosen)
        if label not in self.decisions:
            candidates = list(range(n)) if names is None else list(names)
            self.decisions[label] = ProxylessDecision(label, candidates, names is None, alpha)
        return alpha

    def _replace_choice(self, module: tnn.Module) -> tnn.Module | None:
        if isinstance(module, LayerChoice):
            self._shared(module.label, len(module.names), list(module.names))
            return ProxylessLayerChoice(module, self.decisions[module.label])
        if isinstance(module, InputChoice):
            self._shared(module.label, module.n_candidates, None, module.n_chosen)
            return ProxylessInputChoice(module, self.decisions[module.label])
        return None

    def support(self, switch: Switch) -> dict[int, torch.Tensor | float]:
        """The candidates of ``switch``'s label that run, with their weights: the gated pair
        (their binary gates, differentiable), or the active one (weight 1)."""
        decision = self.decisions[switch.label]
        if decision.pair is None:
            return {decision.active: 1.0}
        return dict(zip(decision.pair, decision.gates))

    def _sync(self) -> None:
        """Make the value-choice switches follow the decisions (the slice a layer runs)."""
        for label, switch in self.board.items():
            switch.active = self.decisions[label].active

    def sample_one(self, rng: random.Random) -> None:
        """One path per label (the weight step)."""
        for decision in self.decisions.values():
            decision.sample_one(rng)
        self._sync()

    def sample_two(self, rng: random.Random) -> None:
        """Two gated paths per label (the architecture step)."""
        for decision in self.decisions.values():
            decision.sample_two(rng)
        self._sync()

    def activate_best(self) -> None:
        """One path per label: the candidate with the largest ``alpha`` (to validate)."""
        for decision in self.decisions.values():
            decision.pair, decision.gates = None, ()
            decision.active = int(torch.argmax(decision.alpha))
        self._sync()

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
