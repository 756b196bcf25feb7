"""Differentiable supernet modules (DARTS, GumbelDARTS): every candidate runs, outputs are mixed
with the softmax of a learnable architecture parameter ``alpha`` per label.

The mixture is ``sum_i w_i * op_i(x)``, accumulated without stacking the outputs (which would
keep one more copy of every candidate's output alive for the backward pass).

:class:`AlphaSupernet` is what every supernet with an ``alpha`` per label shares (DARTS,
GumbelDARTS and ProxylessNAS, which weighs with binary gates instead of the softmax).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

from ...nn.pytorch.cell import Cell
from ...nn.pytorch.choices import InputChoice, LayerChoice
from ...nn.pytorch.mutable_args import mutable_args
from ...nn.pytorch.repeat import Repeat
from .cell import DartsCell
from .mixed import MixedRepeat, MixedSliced, Support, weighted_sum
from .slicing import is_value_choice_layer, sliced_layer
from .supernet import Supernet, SupernetInputChoice, SupernetLayerChoice, Switch

__all__ = [
    "AlphaSupernet",
    "DartsInputChoice",
    "DartsLayerChoice",
    "DifferentiableSupernet",
    "GumbelInputChoice",
    "GumbelLayerChoice",
    "GumbelNoise",
]


def _new_alpha(n: int) -> tnn.Parameter:
    return tnn.Parameter(torch.randn(n) * 1e-3)


def _check_alpha(alpha: tnn.Parameter, n: int, label: str) -> tnn.Parameter:
    if alpha.shape != (n,):
        raise ValueError(
            f"label {label!r}: choices sharing a label must have the same number of candidates "
            f"(architecture parameter of shape {tuple(alpha.shape)}, {n} candidates here)"
        )
    return alpha


class GumbelNoise:
    """The Gumbel noise of one label for the current forward pass, and the temperature."""

    __slots__ = ("noise", "tau")

    def __init__(self, n: int, tau: float = 1.0) -> None:
        self.noise = torch.zeros(n)
        self.tau = tau

    def resample(self, like: torch.Tensor) -> None:
        """Draw fresh noise (of ``like``'s dtype and device)."""
        uniform = torch.rand_like(like).clamp_(1e-10, 1.0)
        self.noise = -torch.log(-torch.log(uniform))


def _softmax(alpha: torch.Tensor, noise: GumbelNoise | None) -> torch.Tensor:
    """``softmax(alpha)``, or ``softmax((alpha + g) / tau)`` with Gumbel ``noise``."""
    if noise is None:
        return F.softmax(alpha, -1)
    return F.softmax((alpha + noise.noise) / noise.tau, -1)


class _Weighted:
    """The architecture parameter of a mixing choice and its mixing weights (with Gumbel noise
    in the Gumbel classes)."""

    label: str
    _arch_alpha: tnn.Parameter
    _noise: GumbelNoise | None = None
    _gumbel = False

    def _set_alpha(self, alpha: tnn.Parameter | None, n: int, noise: GumbelNoise | None) -> None:
        self._arch_alpha = _check_alpha(
            alpha if alpha is not None else _new_alpha(n), n, self.label
        )
        self._noise = noise or (GumbelNoise(n) if self._gumbel else None)

    @property
    def alpha(self) -> tnn.Parameter:
        """The architecture parameter (one logit per candidate)."""
        return self._arch_alpha

    def arch_weights(self) -> torch.Tensor:
        """The weight of each candidate in the mixture."""
        return _softmax(self._arch_alpha, self._noise)


class DartsLayerChoice(_Weighted, SupernetLayerChoice):
    """A ``LayerChoice`` whose output is the softmax(alpha)-weighted sum of all candidates.

    Args:
        layer_choice: the choice to replace (its candidates become this module's children).
        alpha: the architecture parameter to use (shared by choices with the same label); a new
            one (``randn * 1e-3``) if omitted.
        noise: the Gumbel noise of the label (Gumbel classes; a new one if omitted).
    """

    def __init__(
        self,
        layer_choice: LayerChoice,
        alpha: tnn.Parameter | None = None,
        noise: GumbelNoise | None = None,
    ) -> None:
        super().__init__(layer_choice)
        self._set_alpha(alpha, len(self.names), noise)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return weighted_sum([op(*args, **kwargs) for op in self._ops], self.arch_weights().unbind())

    def export(self) -> Any:
        """The name of the candidate with the largest weight."""
        return self.names[int(torch.argmax(self._arch_alpha))]


class DartsInputChoice(_Weighted, SupernetInputChoice):
    """An ``InputChoice`` whose output is the softmax(alpha)-weighted sum of its inputs.

    Exported as the ``n_chosen`` inputs with the largest weights (``n_chosen=None``: every input
    weighing at least the uniform ``1 / n_candidates``). A weighted sum relaxes reductions
    ``'sum'`` and ``'mean'`` (and any reduction when one input is chosen); ``'concat'`` or
    ``'none'`` of several inputs cannot be relaxed this way and is refused.
    """

    def __init__(
        self,
        input_choice: InputChoice,
        alpha: tnn.Parameter | None = None,
        noise: GumbelNoise | None = None,
    ) -> None:
        super().__init__(input_choice)
        if self.reduction in ("concat", "none") and self.n_chosen != 1:
            raise ValueError(
                f"InputChoice {self.label!r}: reduction={self.reduction!r} with "
                f"n_chosen={self.n_chosen} cannot be relaxed to a weighted sum; use a sampling "
                "trainer (SinglePathTrainer, EnasTrainer) for this space"
            )
        self._set_alpha(alpha, self.n_candidates, noise)

    def forward(self, inputs: list[Any]) -> Any:
        out = weighted_sum(self._check(inputs), self.arch_weights().unbind())
        return [out] if self.reduction == "none" else out

    def export(self) -> list[int]:
        """The chosen inputs: sorted indices."""
        chosen: list[int] = export_choice(self._arch_alpha, None, self.n_chosen)
        return chosen


class GumbelLayerChoice(DartsLayerChoice):
    """A ``DartsLayerChoice`` mixing with ``softmax((alpha + g) / tau)``, ``g`` Gumbel noise
    shared by every choice of the label for one forward pass."""

    _gumbel = True


class GumbelInputChoice(DartsInputChoice):
    """The ``InputChoice`` counterpart of :class:`GumbelLayerChoice`."""

    _gumbel = True


def export_choice(alpha: torch.Tensor, names: list[Any] | None, n_chosen: int | None) -> Any:
    """The sample value of a label from its architecture parameter: the candidate name with the
    largest ``alpha`` (``names`` given), else the ``n_chosen`` inputs with the largest ``alpha``
    (``n_chosen=None``: every input weighing at least the uniform weight), sorted."""
    if names is not None:
        return names[int(torch.argmax(alpha))]
    probs = F.softmax(alpha.detach(), -1)
    order = torch.argsort(probs, descending=True).tolist()
    if n_chosen is not None:
        return sorted(order[:n_chosen])
    keep = [i for i in order if probs[i] >= 1.0 / len(order) - 1e-12]
    return sorted(keep or order[:1])


class AlphaSupernet(Supernet):
    """Turns a model space into a supernet with one architecture parameter per label, in place.

    Choices sharing a label share its ``alpha``. Layers with value-choice arguments and
    ``Repeat`` depths become mixed modules (:mod:`.mixed`) weighted by :meth:`weights` (only the
    candidates :attr:`support` gives, if set); subclasses replace the choice modules in
    :meth:`_replace_choice`. Exported: the candidate with the largest ``alpha`` per label.
    """

    #: The candidates of a label that may weigh more than 0, with their weights (None: all of
    #: them, with :meth:`weights`).
    support: Support | None = None

    def __init__(self, model: tnn.Module, trainer: str) -> None:
        self.alphas: dict[str, tnn.Parameter] = {}
        # per label: the candidate names (a layer choice) or None and n_chosen (an input choice)
        self.kinds: dict[str, tuple[list[Any] | None, int | None]] = {}
        super().__init__(model, trainer)  # the board: the decisions of value choices

    def labels(self) -> list[str]:
        return list(self.alphas)

    def _shared(
        self, label: str, n: int, names: list[Any] | None, n_chosen: int | None = 1
    ) -> tnn.Parameter:
        """The ``alpha`` of ``label`` (created on first use)."""
        if label not in self.alphas:
            self.alphas[label] = _new_alpha(n)
            self.kinds[label] = (names, n_chosen)
        return _check_alpha(self.alphas[label], n, label)

    def _replace_choice(self, module: tnn.Module) -> tnn.Module | None:
        """The replacement of a ``LayerChoice`` / ``InputChoice`` / ``Cell`` (None: not one)."""
        return None

    def _replace(self, module: tnn.Module) -> tnn.Module | None:
        if isinstance(module, Repeat) and module._depth is not None:
            labels = sorted({leaf.label for leaf in module._depth.leaves()})
            if len(labels) != 1:
                raise ValueError(
                    f"{self.trainer}: Repeat {module.label!r} has a depth decided by {labels}; "
                    "this search weighs depths decided by one label"
                )
            switch = self.board.switch(next(iter(module._depth.leaves())))
            self._shared(switch.label, switch.size, list(switch.decision.values()))
            return MixedRepeat(module, self.board, self.support or self._every)
        if is_value_choice_layer(module) and mutable_args(module) is not None:
            sliced = sliced_layer(module, self.board)
            for switch in sliced._resolve.switches:
                self._shared(switch.label, switch.size, list(switch.decision.values()))
            return MixedSliced(sliced, self.weights, self.support)
        return self._replace_choice(module)

    def weights(self, label: str, n: int) -> torch.Tensor:
        """The weights of the ``n`` candidates of ``label`` for this forward pass (with a
        :attr:`support`, that gives the weights of the candidates that run instead)."""
        return F.softmax(self.alphas[label], -1)

    def _every(self, switch: Switch) -> dict[int, torch.Tensor | float]:
        """Every candidate of ``switch``'s label with its weight (the support when none is set)."""
        return dict(enumerate(self.weights(switch.label, switch.size).unbind()))

    def arch_parameters(self) -> list[tnn.Parameter]:
        """The architecture parameters, one per label."""
        return list(self.alphas.values())

    def export(self) -> dict[str, Any]:
        """The candidate with the largest weight for every label (as a sample)."""
        return {
            label: export_choice(alpha, *self.kinds[label]) for label, alpha in self.alphas.items()
        }

    @torch.no_grad()
    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate name: softmax(alpha)}}``."""
        out: dict[str, dict[str, float]] = {}
        for label, alpha in self.alphas.items():
            names = self.kinds[label][0] or list(range(len(alpha)))
            out[label] = {str(n): p for n, p in zip(names, F.softmax(alpha, -1).tolist())}
        return out


class DifferentiableSupernet(AlphaSupernet):
    """Turns a model space into a DARTS supernet, in place.

    Every ``LayerChoice`` / ``InputChoice`` / ``Cell`` is replaced by a mixing module; choices with
    the same label share one architecture parameter. ``gumbel=True`` mixes with Gumbel-softmax
    weights (call :meth:`resample` before each forward pass).
    """

    hint = (
        "Differentiable trainers search LayerChoice, InputChoice, Cell (merge_op='all'), Repeat "
        "depths decided by one label, and value choices in the arguments of Linear, Conv1d/2d/3d, "
        "BatchNorm1d/2d/3d, LayerNorm and parameter-free layers (a @basic_unit module's arguments "
        "cannot be shared: use a LayerChoice of its configurations, or a path-sampling strategy "
        "only if it has no value-choice arguments)."
    )

    def __init__(self, model: tnn.Module, *, gumbel: bool = False, trainer: str = "DARTS") -> None:
        self.gumbel = gumbel
        self.noises: dict[str, GumbelNoise] = {}
        super().__init__(model, trainer)

    def _shared(
        self, label: str, n: int, names: list[Any] | None, n_chosen: int | None = 1
    ) -> tnn.Parameter:
        if label not in self.noises:
            self.noises[label] = GumbelNoise(n)
        return super()._shared(label, n, names, n_chosen)

    def _replace_choice(self, module: tnn.Module) -> tnn.Module | None:
        if isinstance(module, LayerChoice):
            alpha = self._shared(module.label, len(module.names), list(module.names))
            layer = GumbelLayerChoice if self.gumbel else DartsLayerChoice
            return layer(module, alpha, self.noises[module.label] if self.gumbel else None)
        if isinstance(module, InputChoice):
            alpha = self._shared(module.label, module.n_candidates, None, module.n_chosen)
            inputs = GumbelInputChoice if self.gumbel else DartsInputChoice
            return inputs(module, alpha, self.noises[module.label] if self.gumbel else None)
        if isinstance(module, Cell):
            for node_ops, node_inputs in zip(module._op_decisions, module._input_decisions):
                for op, inp in zip(node_ops, node_inputs):
                    self._shared(op.label, op.size, list(op.values()))
                    self._shared(inp.label, inp.n_candidates, None)
            return DartsCell(module, self.weights)
        return None

    def weights(self, label: str, n: int) -> torch.Tensor:
        """The mixing weights of ``label`` for this forward pass."""
        return _softmax(self.alphas[label], self.noises[label] if self.gumbel else None)

    def resample(self, tau: float) -> None:
        """New Gumbel noise for every label, and the temperature ``tau``."""
        for label, noise in self.noises.items():
            noise.resample(self.alphas[label].detach())
            noise.tau = tau
