"""A CNN model space for MNIST: widths, kernel size, an optional third conv, dropout, hidden dim."""

from __future__ import annotations

from typing import Any

import torch

import retiarii.nn.pytorch as nn
from retiarii import model_wrapper


class ConvBlock(nn.Sequential):
    """conv -> batch norm -> ReLU, keeping the spatial size."""

    def __init__(self, in_ch: Any, out_ch: Any, kernel: Any) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
        )


@model_wrapper
class MnistCnn(nn.Module):
    """[conv block, pool] x 2 -> {nothing | conv block} -> dropout -> fc(hidden) -> fc(10).

    144 architectures: ``channels1`` x ``channels2`` x ``kernel`` x ``extra_conv`` x ``dropout``
    x ``hidden``.
    """

    def __init__(self) -> None:
        super().__init__()
        c1 = nn.ValueChoice([16, 32], label="channels1")
        c2 = nn.ValueChoice([32, 64], label="channels2")
        kernel = nn.ValueChoice([3, 5], label="kernel")
        hidden = nn.ValueChoice([64, 128, 256], label="hidden")
        self.stage1 = nn.Sequential(ConvBlock(1, c1, kernel), nn.MaxPool2d(2))  # 28 -> 14
        self.stage2 = nn.Sequential(ConvBlock(c1, c2, kernel), nn.MaxPool2d(2))  # 14 -> 7
        self.extra = nn.LayerChoice(
            {"none": nn.Identity(), "conv3x3": ConvBlock(c2, c2, 3)}, label="extra_conv"
        )
        self.dropout = nn.Dropout(nn.ValueChoice([0.0, 0.25, 0.5], label="dropout"))
        self.fc1 = nn.Linear(c2 * 49, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extra(self.stage2(self.stage1(x)))
        x = self.dropout(torch.flatten(x, 1))
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))
