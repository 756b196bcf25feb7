"""Value choices in layer arguments and ``Repeat`` depths in supernets that weigh candidates
(DARTS, GumbelDARTS, ProxylessNAS).

A weight-sliced layer (:mod:`.slicing`) whose arguments depend on labels ``l_1 .. l_k`` becomes a
mixture: for every combination ``c`` of their values, the layer of ``c`` (its slice of the shared
weights) runs on the input cut to ``c``'s input width, its output is zero-padded to the largest
shape, and the outputs are summed with weights ``prod_j w_j(c_j)``, ``w_j`` the label's mixing
weights (``softmax(alpha)``). For a linear layer this equals running the largest layer with the
mixed, zero-padded weights ``sum_c w(c) pad(W_c)`` (NNI 2.9's differentiable mixed operations);
a ``Conv2d`` whose kernel size is a choice mixes centred, zero-padded kernels, and whose width is
a choice masks the output channels. A ``Repeat`` with a depth choice mixes the outputs after each
candidate depth.

ProxylessNAS weighs with binary gates: its ``support`` gives, per label, the one or two candidates
whose weight is not zero, so only their combinations run, and a layer whose labels have one
candidate each runs that slice like a path-sampling supernet (no padding, no mixing).

What this does not do: share one convolution across kernel sizes for layers other than a Linear
or a convolution whose configurations differ only in their slice (it runs one per combination,
like a ``LayerChoice``), or mix choices that change an output's rank.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

from ...mutable import Choice
from ...nn.pytorch.repeat import Repeat
from .slicing import SlicedBatchNorm, SlicedConv, SlicedLayer, SlicedLayerNorm, SlicedLinear
from .supernet import SupernetRepeat, Switch, SwitchBoard

if TYPE_CHECKING:
    from ...nn.pytorch.freeze import Freezer

__all__ = ["MixedRepeat", "MixedSliced"]

#: ``weights(label, n)``: the label's mixing weights, a distribution (they sum to 1; a bias
#: every combination keeps whole is therefore not mixed).
Weights = Callable[[str, int], torch.Tensor]
#: ``support(switch)``: the candidates of a label whose weight may not be zero, with their
#: weights (summing to 1 too; default: every candidate, with ``weights``).
Support = Callable[[Switch], Mapping[int, "torch.Tensor | float"]]


def _fit_input(layer: SlicedLayer, x: torch.Tensor, config: Any) -> torch.Tensor:
    """``x`` (of the largest width) cut to the input width of ``layer`` under ``config``."""
    if isinstance(layer, SlicedLinear):
        return x[..., : config[1]]
    if isinstance(layer, SlicedConv):
        return x[:, : config[0][1].stop * config[5]]  # in_channels // groups * groups
    if isinstance(layer, SlicedBatchNorm):
        return x[:, : config[0]]
    if isinstance(layer, SlicedLayerNorm):
        index: tuple[Any, ...] = (Ellipsis, *config[1])
        return x[index]
    return x


def _pad_to(y: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    if tuple(y.shape) == shape:
        return y
    pad: list[int] = []
    for have, want in zip(reversed(y.shape), reversed(shape)):
        pad += [0, want - have]
    return F.pad(y, pad)


@contextlib.contextmanager
def _switched(switches: Sequence[Switch], combo: tuple[int, ...]) -> Iterator[None]:
    """The ``switches`` set to ``combo`` inside the block, as they were after it."""
    saved = [s.active for s in switches]
    try:
        for switch, active in zip(switches, combo):
            switch.active = active
        yield
    finally:
        for switch, active in zip(switches, saved):
            switch.active = active


def _widen(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """``x`` zero-padded to ``size`` along ``dim``: an input narrower than the largest layer's
    (mixed from fewer slices than all, e.g. ProxylessNAS's two) meets zero columns of the mixed
    weights, so this is exact."""
    if x.shape[dim] >= size:
        return x
    shape = list(x.shape)
    shape[dim] = size - x.shape[dim]
    return torch.cat([x, x.new_zeros(shape)], dim)


def weighted_sum(outputs: Sequence[Any], weights: Sequence[torch.Tensor | float]) -> Any:
    """``sum_i outputs[i] * weights[i]``, accumulated without stacking the outputs (which would
    keep one more copy of every output alive for the backward pass)."""
    out = outputs[0] * weights[0]
    for o, w in zip(outputs[1:], weights[1:]):
        out = out + o * w
    return out


def _mix(outputs: list[torch.Tensor], weights: Sequence[torch.Tensor | float]) -> torch.Tensor:
    shape = tuple(max(sizes) for sizes in zip(*(o.shape for o in outputs)))
    return weighted_sum([_pad_to(o, shape) for o in outputs], weights)


def _mix_nested(outputs: list[Any], weights: Sequence[torch.Tensor | float]) -> Any:
    """:func:`_mix` element by element of outputs that are (nested) lists, tuples or dicts of
    tensors of one structure (e.g. a ``Repeat`` of cells returning ``[s0, s1]``), as NNI mixes
    them."""
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        if not all(isinstance(o, torch.Tensor) for o in outputs):
            raise TypeError(f"cannot mix a tensor with {[type(o).__name__ for o in outputs]}")
        return _mix(outputs, weights)
    if isinstance(first, (list, tuple)):
        if any(type(o) is not type(first) or len(o) != len(first) for o in outputs):
            raise TypeError(
                "cannot mix outputs of different structures: "
                f"{[f'{type(o).__name__} of {len(o)}' for o in outputs]}"
            )
        mixed = [_mix_nested([o[i] for o in outputs], weights) for i in range(len(first))]
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
            return type(first)(*mixed)
        return type(first)(mixed)
    if isinstance(first, dict):
        if any(not isinstance(o, dict) or o.keys() != first.keys() for o in outputs):
            raise TypeError("cannot mix dicts with different keys")
        return {k: _mix_nested([o[k] for o in outputs], weights) for k in first}
    raise TypeError(
        f"cannot mix outputs of type {type(first).__name__}: a mixed Repeat's blocks must return "
        "tensors or (nested) lists, tuples or dicts of tensors"
    )


def _mixed(masks: torch.Tensor, weights: torch.Tensor | list[tuple[int, Any]]) -> torch.Tensor:
    """``masks`` (per combination, last dimension) mixed by every combination's joint weights,
    or summed as ``(combination, weight)`` terms (a support's few: cheaper than stacking)."""
    if isinstance(weights, torch.Tensor):
        return masks @ weights
    return weighted_sum([masks[..., row] for row, _ in weights], [w for _, w in weights])


def _by_combo(masks: list[torch.Tensor]) -> torch.Tensor:
    """The 0/1 ``masks`` of the combinations along a last dimension (``@ weights`` mixes them,
    cheaper than a tensordot), cut to size 1 where they all agree (it broadcasts)."""
    stacked = torch.stack(masks, -1)
    for dim in range(stacked.dim() - 1):
        if bool((stacked == stacked.narrow(dim, 0, 1)).all()):
            stacked = stacked.narrow(dim, 0, 1)
    return stacked.float()


def _masks(layer: SlicedLayer, configs: list[Any]) -> tuple[list[torch.Tensor], Any] | None:
    """For a Linear or a convolution whose configurations differ only in their slice of the
    weights (widths, a centred kernel with matching padding): per configuration the 0/1 mask of
    its slice in the largest weight, and the arguments of the one call that runs the mixed
    weights. None when the configurations cannot share one call."""
    weight = getattr(layer, "weight", None)
    if not isinstance(layer, (SlicedLinear, SlicedConv)) or weight is None:
        return None
    masks = []
    for config in configs:
        mask = torch.zeros(weight.shape, dtype=torch.bool)
        mask[layer.slices(config)["weight"]] = True
        masks.append(mask)
    if isinstance(layer, SlicedLinear):
        return masks, None
    calls: set[tuple[Any, ...]] = set()
    for index, out, stride, padding, dilation, groups, mode, pad_input in configs:
        if isinstance(padding, str) or pad_input is not None or mode != "zeros":
            return None
        # the offset of the kernel's centre: the same for every configuration, or no sharing
        offset = tuple(p + c.start * d for p, c, d in zip(padding, index[2:], dilation))
        if any(o < 0 for o in offset):
            return None
        # a depthwise convolution (groups = in = out channels) of any width computes each
        # channel alone: the largest one (all its groups) gives every narrower one's channels
        depthwise = groups == out and index[1].stop == 1 and weight.shape[1] == 1
        calls.add((stride, offset, dilation, "depthwise" if depthwise else groups))
    if len(calls) != 1:
        return None
    stride, offset, dilation, groups = calls.pop()
    return masks, (stride, offset, dilation, weight.shape[0] if groups == "depthwise" else groups)


class MixedSliced(tnn.Module):
    """A weight-sliced layer whose configurations are mixed by the labels' weights.

    A Linear or convolution whose configurations differ only in their slice of the weights runs
    once, with the mixed masked weights ``sum_c w(c) (mask_c * W)`` (equal to mixing the
    outputs); other layers run once per configuration.
    """

    _retiarii_walk_children = False
    _masks: torch.Tensor  # buffers: per combination (last dimension), see _by_combo
    _out_masks: torch.Tensor | None
    _channel_masks: torch.Tensor

    def __init__(
        self, sliced: SlicedLayer, weights: Weights, support: Support | None = None
    ) -> None:
        super().__init__()
        self.sliced = sliced
        self._weights = weights
        self._support = support
        self._switches = sliced._resolve.switches
        self._combos = list(itertools.product(*(range(s.size) for s in self._switches)))
        self._index = {combo: i for i, combo in enumerate(self._combos)}
        configs = [self._config(combo) for combo in self._combos]
        shared = _masks(sliced, configs)
        self._call: Any = None
        if shared is not None:
            masks, self._call = shared
            self.register_buffer("_masks", _by_combo(masks), persistent=False)
            out = _by_combo([m.flatten(1).any(1) for m in masks])
            # None: every combination keeps the whole bias, mixed by weights summing to 1
            self.register_buffer("_out_masks", None if out.all() else out, persistent=False)
        self._shared = shared is not None
        # a BatchNorm normalises each channel alone: the layers of every width agree on the
        # channels they share, so the mixture is the largest layer's output scaled per channel
        # (one call, and its running statistics updated once, as one BatchNorm's)
        self._norm: tuple[int, float] | None = None
        if isinstance(sliced, SlicedBatchNorm) and len({eps for _, eps in configs}) == 1:
            widths = [c for c, _ in configs]
            self._norm = (max(widths), configs[0][1])
            channels = _by_combo([torch.arange(max(widths)) < c for c in widths])
            self.register_buffer("_channel_masks", channels, persistent=False)

    def _config(self, combo: tuple[int, ...]) -> Any:
        with _switched(self._switches, combo):
            return self.sliced._resolve()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        combos = self._combos
        weights: Any
        if self._support is None:  # every combination: the joint weights, in self._combos' order
            first, *rest = self._switches
            weights = self._weights(first.label, first.size)
            for s in rest:
                weights = (weights[:, None] * self._weights(s.label, s.size)[None, :]).flatten()
        else:
            supports = [self._support(s) for s in self._switches]
            combos = list(itertools.product(*supports))
            if len(combos) == 1:  # one slice: run it as a path (its switches are set)
                return self.sliced(x)
            weights = []  # (combination, the product of its labels' weights)
            for c in combos:
                terms = [w[i] for w, i in zip(supports, c)]
                weights.append((self._index[c], math.prod(terms[1:], start=terms[0])))
        if self._norm is not None:
            width, eps = self._norm
            scale = _mixed(self._channel_masks, weights)
            y = self.sliced.normalize(_widen(x, 1, width), width, eps)  # type: ignore[operator]
            return y * scale.view(1, -1, *([1] * (y.dim() - 2)))
        if self._shared:
            layer: Any = self.sliced
            w = _mixed(self._masks, weights) * layer.weight
            b = layer.bias
            if b is not None and self._out_masks is not None:
                b = _mixed(self._out_masks, weights) * b
            if self._call is None:
                return F.linear(_widen(x, -1, w.shape[1]), w, b)
            stride, padding, dilation, groups = self._call
            x = _widen(x, 1, w.shape[1] * groups)
            return layer._conv(x, w, b, stride, padding, dilation, groups)
        outputs = []
        for combo in combos:
            with _switched(self._switches, combo):
                config = self.sliced._resolve()
                outputs.append(self.sliced(_fit_input(self.sliced, x, config)))
        joint = weights.unbind() if isinstance(weights, torch.Tensor) else [w for _, w in weights]
        return _mix(outputs, joint)

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return self.sliced._retiarii_decisions()

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        return self.sliced._retiarii_freeze(freezer)

    def extra_repr(self) -> str:
        return f"labels={[s.label for s in self._switches]}"


class MixedRepeat(SupernetRepeat):
    """A ``Repeat`` with a depth choice: the outputs after each depth ``support`` gives, mixed by
    its weights (element by element where the blocks return lists, tuples or dicts of tensors),
    each first passed through the Repeat's ``depth_output`` if it has one (see
    :class:`~.supernet.SupernetRepeat`)."""

    def __init__(self, repeat: Repeat, board: SwitchBoard, support: Support) -> None:
        super().__init__(repeat, board)
        [self._switch] = self._resolve.switches  # one label decides the depth
        self._support = support
        self._depths = [
            self._resolve.resolve({self._switch.label: self._switch.value_at(i)})
            for i in range(self._switch.size)
        ]

    def forward(self, x: Any) -> Any:
        chosen = self._support(self._switch)
        depths = [self._depths[i] for i in chosen]
        if len(depths) == 1:  # one depth: run it as a path
            for block in self._blocks[: depths[0]]:
                x = block(x)
            return x
        after = {0: x}
        for index, block in enumerate(self._blocks[: max(depths)]):
            x = block(x)
            after[index + 1] = x
        outputs = [after[d] for d in depths]
        if self.depth_output is not None:
            outputs = [self.depth_output(out) for out in outputs]
        return _mix_nested(outputs, list(chosen.values()))

    def extra_repr(self) -> str:
        return f"label={self.label!r}, depths={self._depths}"
