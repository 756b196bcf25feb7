"""The operations of the NDS cell spaces (pycls/unnas names), and their shared building blocks.

Every factory in :data:`OPS` takes ``(channels, stride)``; ``channels`` may be an expression of a
``width`` choice, so the convolutions and batch norms are ``retiarii.nn.pytorch`` layers (built
at the largest width in a space, sliced by one-shot supernets, plain torch layers once frozen).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn

from ...nn import pytorch as nn

__all__ = [
    "OPS",
    "AuxiliaryHead",
    "Channels",
    "DropPath",
    "FactorizedReduce",
    "Zero",
    "dil_conv",
    "relu_conv_bn",
    "sep_conv",
]

#: Channels: an int, or an expression of the ``width`` choice in a space.
Channels = Any


class Zero(tnn.Module):
    """The ``none`` operation: zeros of the output's shape."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return x.mul(0.0)


class FactorizedReduce(tnn.Module):
    """Halves the resolution without losing half the pixels: two stride-2 1x1 convolutions, the
    second shifted by one pixel, concatenated (``c_out`` must be even)."""

    def __init__(self, c_in: Channels, c_out: Channels) -> None:
        super().__init__()
        self.relu = tnn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.pad = tnn.ConstantPad2d((0, 1, 0, 1), 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def relu_conv_bn(
    c_in: Channels, c_out: Channels, kernel: int, stride: int = 1, padding: int = 0
) -> tnn.Sequential:
    """ReLU, a bias-free convolution, BatchNorm (the ``conv_*`` operations and preprocessing)."""
    return tnn.Sequential(
        tnn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
    )


def _separable(
    c: Channels, kernel: int, stride: int, padding: int, dilation: int
) -> list[tnn.Module]:
    return [
        tnn.ReLU(inplace=False),
        nn.Conv2d(
            c, c, kernel, stride=stride, padding=padding, dilation=dilation, groups=c, bias=False
        ),
        nn.Conv2d(c, c, 1, padding=0, bias=False),
        nn.BatchNorm2d(c),
    ]


def sep_conv(c: Channels, kernel: int, stride: int, dilation: int = 1) -> tnn.Sequential:
    """Two stacked (ReLU, depthwise, pointwise, BN) blocks, the first with ``stride`` (``sep_conv``
    and, dilated, ``dil_sep_conv``)."""
    padding = dilation * (kernel - 1) // 2
    return tnn.Sequential(
        *_separable(c, kernel, stride, padding, dilation),
        *_separable(c, kernel, 1, padding, dilation),
    )


def dil_conv(c: Channels, kernel: int, stride: int) -> tnn.Sequential:
    """One dilated (rate 2) separable block (``dil_conv``)."""
    return tnn.Sequential(*_separable(c, kernel, stride, kernel - 1, 2))


def _factorized_conv(c: Channels, kernel: int, stride: int) -> tnn.Sequential:
    """A ``1 x k`` then a ``k x 1`` convolution (``conv_3x1_1x3``, ``conv_7x1_1x7``)."""
    pad = kernel // 2
    return tnn.Sequential(
        tnn.ReLU(inplace=False),
        nn.Conv2d(c, c, (1, kernel), stride=(1, stride), padding=(0, pad), bias=False),
        nn.Conv2d(c, c, (kernel, 1), stride=(stride, 1), padding=(pad, 0), bias=False),
        nn.BatchNorm2d(c),
    )


def _skip(c: Channels, stride: int) -> tnn.Module:
    return tnn.Identity() if stride == 1 else FactorizedReduce(c, c)


#: ``{name: factory(channels, stride)}`` of every NDS operation (pycls's names).
OPS: dict[str, Callable[[Channels, int], tnn.Module]] = {
    "none": lambda c, s: Zero(s),
    "avg_pool_2x2": lambda c, s: tnn.AvgPool2d(2, stride=s, padding=0, count_include_pad=False),
    "avg_pool_3x3": lambda c, s: tnn.AvgPool2d(3, stride=s, padding=1, count_include_pad=False),
    "avg_pool_5x5": lambda c, s: tnn.AvgPool2d(5, stride=s, padding=2, count_include_pad=False),
    "max_pool_2x2": lambda c, s: tnn.MaxPool2d(2, stride=s, padding=0),
    "max_pool_3x3": lambda c, s: tnn.MaxPool2d(3, stride=s, padding=1),
    "max_pool_5x5": lambda c, s: tnn.MaxPool2d(5, stride=s, padding=2),
    "max_pool_7x7": lambda c, s: tnn.MaxPool2d(7, stride=s, padding=3),
    "skip_connect": _skip,
    "conv_1x1": lambda c, s: relu_conv_bn(c, c, 1, s, 0),
    "conv_3x3": lambda c, s: relu_conv_bn(c, c, 3, s, 1),
    "sep_conv_3x3": lambda c, s: sep_conv(c, 3, s),
    "sep_conv_5x5": lambda c, s: sep_conv(c, 5, s),
    "sep_conv_7x7": lambda c, s: sep_conv(c, 7, s),
    "dil_conv_3x3": lambda c, s: dil_conv(c, 3, s),
    "dil_conv_5x5": lambda c, s: dil_conv(c, 5, s),
    "dil_sep_conv_3x3": lambda c, s: sep_conv(c, 3, s, dilation=2),
    "conv_3x1_1x3": lambda c, s: _factorized_conv(c, 3, s),
    "conv_7x1_1x7": lambda c, s: _factorized_conv(c, 7, s),
}


class DropPath(tnn.Module):
    """Drops a whole operation output per sample while training (FractalNet's drop-path), scaling
    the kept ones so that the expectation is unchanged."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob <= 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty(x.size(0), *([1] * (x.dim() - 1))).bernoulli_(keep)
        return x / keep * mask


class AuxiliaryHead(tnn.Module):
    """The auxiliary classifier of NASNet/DARTS training, on the first cell of the last stage
    (8x8 maps on CIFAR, assumed 14x14 on ImageNet)."""

    def __init__(self, c: Channels, num_labels: int, dataset: str) -> None:
        super().__init__()
        stride = 2 if dataset == "imagenet" else 3
        self.features = tnn.Sequential(
            tnn.ReLU(inplace=True),
            tnn.AvgPool2d(5, stride=stride, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False),
            tnn.BatchNorm2d(128),
            tnn.ReLU(inplace=True),
            tnn.Conv2d(128, 768, 2, bias=False),
            tnn.BatchNorm2d(768),
            tnn.ReLU(inplace=True),
        )
        self.classifier = tnn.Linear(768, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))
