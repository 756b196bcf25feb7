"""The NAS-Bench-101 model space: the trainable network of Ying et al. (ICML 2019).

`NAS-Bench-101 <http://proceedings.mlr.press/v97/ying19a/ying19a.pdf>`__ trained every cell of
a space of small DAGs on CIFAR-10. A cell has at most ``max_num_nodes`` vertices (7, the input and
the output included) and at most ``max_num_edges`` edges (9); each interior vertex applies one of
``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3`` to the sum of its inputs, and the output
concatenates the interior vertices that feed it (plus a projection of the input if the input feeds
it). Channel counts of interior vertices follow from the graph (:func:`compute_vertex_channels`).

The cell, its labels and how invalid graphs are rejected: :mod:`.nasbench101_cell`.

What this module deliberately does not do: no isomorphism hashing, no benchmark lookup, and a
frozen cell is built fresh (the supernet's weights are not carried into frozen cells: the frozen
vertices have other channel counts than the supernet's).
"""

from __future__ import annotations

import math

import torch
import torch.nn as tnn

from ...nn.pytorch.wrappers import model_wrapper
from .nasbench101_cell import (
    NasBench101Cell,
    NasBench101CellConstraint,
    NasBench101FrozenCell,
    OpFactory,
    compute_vertex_channels,
    prune,
)
from .registry import SpaceEntry, register_space

__all__ = [
    "NB101_OPS",
    "Conv1x1BNReLU",
    "Conv3x3BNReLU",
    "ConvBNReLU",
    "NasBench101",
    "NasBench101Cell",
    "NasBench101CellConstraint",
    "NasBench101FrozenCell",
    "compute_vertex_channels",
    "prune",
]

#: The operation names of NAS-Bench-101 (and of NNI's ``NasBench101``), in NNI's order.
NB101_OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


@torch.no_grad()
def _truncated_normal_(tensor: torch.Tensor, std: float) -> None:
    """TensorFlow's variance-scaling init (what the benchmark used): N(0, std) cut at 2 std.

    Values outside are redrawn (about 5% per round); ``torch.nn.init.trunc_normal_``'s inverse-CDF
    method made building the full space (57M parameters) take seconds.
    """
    if tensor.is_meta:  # a shape-only build (the profilers): no values to draw
        return
    flat = tensor.view(-1).normal_(0.0, std)
    redraw = (flat.abs() > 2 * std).nonzero().view(-1)
    while redraw.numel():
        values = torch.empty(redraw.numel(), dtype=tensor.dtype).normal_(0.0, std)
        flat[redraw] = values
        redraw = redraw[values.abs() > 2 * std]


class ConvBNReLU(tnn.Module):
    """Conv (no bias), BatchNorm, ReLU: NAS-Bench-101's convolutions and projections.

    ``bn_eps``/``bn_momentum`` are constructor arguments (not set on the network afterwards) so
    that cells rebuilt when a sample is frozen get them too.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        *,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        # skip_init: torch's default init would be overwritten at once (and is slow for 57M weights)
        conv = tnn.utils.skip_init(
            tnn.Conv2d,
            in_channels,
            out_channels,
            kernel_size,
            padding=kernel_size // 2,
            bias=False,
            device=torch.get_default_device(),  # skip_init would say cpu under torch.device(...)
        )
        _truncated_normal_(
            conv.weight, std=math.sqrt(1.0 / (kernel_size * kernel_size * in_channels))
        )
        self.conv_bn_relu = tnn.Sequential(
            conv,
            tnn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum),
            tnn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_bn_relu(x)


class Conv3x3BNReLU(ConvBNReLU):
    """The ``conv3x3-bn-relu`` operation."""

    def __init__(self, in_channels: int, out_channels: int, **bn: float) -> None:
        super().__init__(in_channels, out_channels, 3, **bn)


class Conv1x1BNReLU(ConvBNReLU):
    """The ``conv1x1-bn-relu`` operation, and the projection of a cell's input."""

    def __init__(self, in_channels: int, out_channels: int, **bn: float) -> None:
        super().__init__(in_channels, out_channels, 1, **bn)


@model_wrapper
class NasBench101(tnn.Module):
    """The NAS-Bench-101 network: a 3x3 Conv-BN-ReLU stem, ``num_stacks`` stacks of
    ``num_modules_per_stack`` cells (2x2 max pooling and doubled channels between stacks), global
    average pooling and a linear classifier. Every cell shares the label ``cell``.

    Args:
        stem_out_channels: channels of the stem and of the first stack (128 in the paper).
        num_stacks: stacks of cells (3).
        num_modules_per_stack: cells per stack (3).
        max_num_vertices: most vertices of a cell (7), see :class:`NasBench101Cell`.
        max_num_edges: most edges of a cell (9).
        num_labels: number of classes.
        bn_eps: BatchNorm epsilon (the benchmark's 1e-5).
        bn_momentum: BatchNorm momentum, torch convention (the benchmark's TF decay 0.997).

    Example:
        >>> import retiarii
        >>> space = retiarii.ModelSpace(NasBench101(stem_out_channels=8, num_stacks=1))
        >>> sample = space.random(seed=0)  # random samples satisfy the edge limit
        >>> space.freeze(sample).features[0].matrix == space.freeze(sample).features[0].matrix
        True
    """

    def __init__(
        self,
        stem_out_channels: int = 128,
        num_stacks: int = 3,
        num_modules_per_stack: int = 3,
        max_num_vertices: int = 7,
        max_num_edges: int = 9,
        num_labels: int = 10,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.003,
    ) -> None:
        super().__init__()
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        op_candidates: dict[str, OpFactory] = {
            "conv3x3-bn-relu": lambda c: Conv3x3BNReLU(c, c, **bn),
            "conv1x1-bn-relu": lambda c: Conv1x1BNReLU(c, c, **bn),
            "maxpool3x3": lambda c: tnn.MaxPool2d(3, 1, 1),
        }
        self.stem_conv = Conv3x3BNReLU(3, stem_out_channels, **bn)
        layers: list[tnn.Module] = []
        in_channels = out_channels = stem_out_channels
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(tnn.MaxPool2d(kernel_size=2, stride=2))
                out_channels *= 2
            for _ in range(num_modules_per_stack):
                layers.append(
                    NasBench101Cell(
                        op_candidates,
                        in_channels,
                        out_channels,
                        lambda cin, cout: Conv1x1BNReLU(cin, cout, **bn),
                        max_num_vertices,
                        max_num_edges,
                        label="cell",
                    )
                )
                in_channels = out_channels
        self.features = tnn.ModuleList(layers)
        self.gap = tnn.AdaptiveAvgPool2d(1)
        self.classifier = tnn.Linear(out_channels, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stem_conv(x)
        for layer in self.features:
            out = layer(out)
        return self.classifier(self.gap(out).flatten(1))


_NO_MIXTURE = (
    "a cell's graph (NasBench101Cell cell/num_nodes and the edges it allows) is not a mixture "
    "of candidates a softmax can weigh"
)

register_space(
    SpaceEntry(
        name="NasBench101",
        factory=NasBench101,
        input_size=(3, 16, 16),
        num_classes=10,
        test_kwargs={"stem_out_channels": 8, "num_stacks": 2, "num_modules_per_stack": 1},
        full_input_size=(3, 32, 32),
        oneshot_refused={
            "DARTS": _NO_MIXTURE,
            "GumbelDARTS": _NO_MIXTURE,
            "Proxyless": "Proxyless gates one input per choice; a cell's inputs are any subset "
            "(InputChoice cell/input_{i}, n_chosen=None)",
        },
    )
)
