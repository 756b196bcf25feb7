"""The NAS-Bench-201 model space: the trainable network of Dong & Yang (ICLR 2020).

`NAS-Bench-201 <https://arxiv.org/abs/2001.00326>`__ trains every cell of a small space on
CIFAR-10, CIFAR-100 and ImageNet16-120. A cell is a DAG of 4 nodes; each of its 6 edges ``j -> i``
(``j < i``) applies one of five operations and node ``i`` sums its incoming edges:

* ``none`` (zero), ``skip_connect`` (identity), ``nor_conv_1x1`` and ``nor_conv_3x3``
  (ReLU-Conv-BN), ``avg_pool_3x3``.

The network: a 3x3 conv stem (``C = 16``) with BN; three stages of 5 cells with ``C``, ``2C`` and
``4C`` channels separated by residual reduction blocks (stride 2); BN-ReLU, global average pooling,
a linear classifier. Every cell of the network shares the same decisions, so the space has 6
labels, ``cell/{j}_{i}`` for the edge from node ``j`` to node ``i``, each choosing an operation by
its NAS-Bench-201 name: ``5 ** 6 = 15625`` architectures. :mod:`retiarii.benchmark` maps samples to
the benchmark's ``arch_str``.

What this module deliberately does not do: it does not train anything, and it adds no retiarii
modules to a frozen network — a frozen ``NasBench201`` holds only plain PyTorch modules whose
``state_dict`` keys follow the attribute names below.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import torch
import torch.nn as tnn

from ...benchmark.nasbench201 import NB201_OPS
from ...mutable.labels import validate_label
from ...nn.pytorch import LayerChoice
from ...nn.pytorch.wrappers import model_wrapper
from .registry import SpaceEntry, register_space

__all__ = [
    "NB201_OPS",
    "NB201_OP_FACTORIES",
    "NasBench201",
    "NasBench201Cell",
    "Pooling",
    "ReLUConvBN",
    "ResNetBasicBlock",
    "Zero",
]


OpFactory = Callable[[int, int], tnn.Module]


class ReLUConvBN(tnn.Module):
    """ReLU, a bias-free convolution, BatchNorm: the ``nor_conv_*`` operations."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> None:
        super().__init__()
        self.op_name = f"nor_conv_{kernel_size}x{kernel_size}"
        self.op = tnn.Sequential(
            tnn.ReLU(inplace=False),
            tnn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            tnn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Pooling(tnn.Module):
    """3x3 average pooling (``count_include_pad=False``), after a 1x1 ReLU-Conv-BN if the
    channel count changes."""

    op_name = "avg_pool_3x3"

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.preprocess = None if c_in == c_out else ReLUConvBN(c_in, c_out, 1)
        self.op = tnn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.op(x)


class Zero(tnn.Module):
    """The ``none`` operation: zeros of the output's shape (no parameters)."""

    op_name = "none"

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.c_in == self.c_out:
            return x.mul(0.0)
        shape = list(x.shape)
        shape[1] = self.c_out
        return x.new_zeros(shape)


class ResNetBasicBlock(tnn.Module):
    """The reduction block between stages: two 3x3 ReLU-Conv-BN (the first with ``stride``) plus
    a shortcut (2x2 average pooling and a 1x1 conv when ``stride == 2``)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ResNetBasicBlock: stride must be 1 or 2, got {stride!r}")
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample: tnn.Module | None
        if stride == 2:
            self.downsample = tnn.Sequential(
                tnn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                tnn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
            )
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1)
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_b(self.conv_a(x))
        residual = self.downsample(x) if self.downsample is not None else x
        return residual + out


def _skip(c_in: int, c_out: int) -> tnn.Module:
    return tnn.Identity() if c_in == c_out else ReLUConvBN(c_in, c_out, 1)


#: ``{name: factory(c_in, c_out)}`` of the five operations (stride 1), in NAS-Bench-201's order.
NB201_OP_FACTORIES: dict[str, OpFactory] = {
    "none": Zero,
    "skip_connect": _skip,
    "nor_conv_1x1": functools.partial(ReLUConvBN, kernel_size=1, padding=0),
    "nor_conv_3x3": functools.partial(ReLUConvBN, kernel_size=3, padding=1),
    "avg_pool_3x3": Pooling,
}
assert tuple(NB201_OP_FACTORIES) == NB201_OPS


def op_name(module: tnn.Module) -> str | None:
    """The NAS-Bench-201 name of a frozen edge operation (None if it is not one of ours)."""
    if isinstance(module, tnn.Identity):
        return "skip_connect"
    name = getattr(module, "op_name", None)
    return name if isinstance(name, str) else None


class NasBench201Cell(tnn.Module):
    """A NAS-Bench-201 cell: ``num_tensors`` nodes (the input included), an operation on every edge
    ``j -> i`` (``j < i``), each node the sum of its incoming edges; the output is the last node.

    Args:
        op_candidates: ``{name: factory(c_in, c_out)}`` (default: the five NAS-Bench-201
            operations). Edges leaving the input get ``in_features`` channels, the others
            ``out_features``.
        in_features: channels of the cell's input.
        out_features: channels of every other node.
        num_tensors: number of nodes, the input included (4 in NAS-Bench-201).
        label: prefix of the edge labels ``{label}/{j}_{i}``; cells sharing a label share their
            decisions.

    Only the chosen candidate of each edge is built inside ``fixed_arch``.
    """

    def __init__(
        self,
        op_candidates: Mapping[str, OpFactory] | None = None,
        in_features: int = 16,
        out_features: int = 16,
        num_tensors: int = 4,
        *,
        label: str = "cell",
    ) -> None:
        super().__init__()
        self.label = validate_label(label, "NasBench201Cell")
        candidates = dict(NB201_OP_FACTORIES if op_candidates is None else op_candidates)
        if not candidates:
            raise ValueError(f"NasBench201Cell {label!r}: op_candidates must not be empty")
        if not isinstance(num_tensors, int) or num_tensors < 2:
            raise ValueError(
                f"NasBench201Cell {label!r}: num_tensors must be an int >= 2, got {num_tensors!r}"
            )
        self.in_features, self.out_features, self.num_tensors = (
            in_features,
            out_features,
            num_tensors,
        )
        self.layers = tnn.ModuleList()
        for i in range(1, num_tensors):
            node = tnn.ModuleList()
            for j in range(i):
                c_in = in_features if j == 0 else out_features
                node.append(
                    LayerChoice(
                        {
                            name: functools.partial(factory, c_in, out_features)
                            for name, factory in candidates.items()
                        },
                        label=f"{self.label}/{j}_{i}",
                    )
                )
            self.layers.append(node)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in self.layers:
            ops: list[tnn.Module] = list(node)  # type: ignore[call-overload]
            out = ops[0](nodes[0])
            for j in range(1, len(ops)):
                out = out + ops[j](nodes[j])
            nodes.append(out)
        return nodes[-1]

    def chosen_ops(self) -> dict[str, str]:
        """``{label: operation name}`` of a frozen cell (raises on an undecided one)."""
        out: dict[str, str] = {}
        for i, node in enumerate(self.layers, start=1):
            ops: list[tnn.Module] = list(node)  # type: ignore[call-overload]
            for j, op in enumerate(ops):
                label = f"{self.label}/{j}_{i}"
                if isinstance(op, LayerChoice):
                    raise ValueError(f"NasBench201Cell edge {label!r} is not decided yet")
                name = op_name(op)
                if name is None:
                    raise ValueError(
                        f"NasBench201Cell edge {label!r} holds {type(op).__name__}, "
                        "not a NAS-Bench-201 operation"
                    )
                out[label] = name
        return out


@model_wrapper
class NasBench201(tnn.Module):
    """The NAS-Bench-201 search space as a trainable network (see the module docstring).

    Args:
        stem_out_channels: channels ``C`` of the stem and of the first stage (16 in the paper).
        num_modules_per_stack: cells per stage (5 in the paper).
        num_labels: number of classes (10 for CIFAR-10, 100 for CIFAR-100, 120 for
            ImageNet16-120).

    Example:
        >>> import torch, retiarii
        >>> space = retiarii.ModelSpace(NasBench201())
        >>> space.size
        15625
        >>> model = space.freeze({label: "nor_conv_3x3" for label in space.labels})
        >>> model(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, stem_out_channels: int = 16, num_modules_per_stack: int = 5, num_labels: int = 10
    ) -> None:
        super().__init__()
        c = stem_out_channels
        n = num_modules_per_stack
        self.channels, self.num_modules, self.num_labels = c, n, num_labels
        self.stem = tnn.Sequential(
            tnn.Conv2d(3, c, kernel_size=3, padding=1, bias=False), tnn.BatchNorm2d(c)
        )
        channels = [c] * n + [2 * c] + [2 * c] * n + [4 * c] + [4 * c] * n
        reductions = [False] * n + [True] + [False] * n + [True] + [False] * n
        self.cells = tnn.ModuleList()
        c_prev = c
        for c_cur, reduction in zip(channels, reductions):
            cell: tnn.Module = (
                ResNetBasicBlock(c_prev, c_cur, 2)
                if reduction
                else NasBench201Cell(None, c_prev, c_cur, label="cell")
            )
            self.cells.append(cell)
            c_prev = c_cur
        self.lastact = tnn.Sequential(tnn.BatchNorm2d(c_prev), tnn.ReLU(inplace=True))
        self.global_pooling = tnn.AdaptiveAvgPool2d(1)
        self.classifier = tnn.Linear(c_prev, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        out = self.global_pooling(self.lastact(feature))
        return self.classifier(out.flatten(1))

    def chosen_ops(self) -> dict[str, str]:
        """``{label: operation name}`` of a frozen network (all its cells share them)."""
        cells = [cell for cell in self.cells if isinstance(cell, NasBench201Cell)]
        first = cells[0].chosen_ops()
        for cell in cells[1:]:
            if cell.chosen_ops() != first:
                raise ValueError("the cells of this NasBench201 network hold different operations")
        return first


register_space(
    SpaceEntry(
        name="NasBench201",
        factory=NasBench201,
        input_size=(3, 32, 32),
        num_classes=10,
        test_kwargs={"stem_out_channels": 8, "num_modules_per_stack": 1},
    )
)
