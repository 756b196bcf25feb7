"""The seed 002 quick-start model space, sized for MNIST (1x28x28 images, 10 classes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import model_wrapper


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel_size=3, groups=in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


@model_wrapper
class MnistNet(nn.Module):
    """conv1 -> {conv | depthwise-separable conv} -> pool -> dropout -> fc(hidden) -> fc(10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.LayerChoice(
            {"conv": nn.Conv2d(32, 64, 3, 1), "dwsep": DepthwiseSeparableConv(32, 64)},
            label="conv2",
        )
        self.dropout1 = nn.Dropout(nn.ValueChoice([0.25, 0.5, 0.75], label="dropout"))
        self.dropout2 = nn.Dropout(0.5)
        hidden = nn.ValueChoice([32, 64, 128], label="hidden_dim")
        self.fc1 = nn.Linear(9216, hidden)
        self.fc2 = nn.Linear(hidden, 10)
        self.skip = nn.InputChoice(n_candidates=2, n_chosen=1, label="pool_or_stride")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        pooled = F.max_pool2d(x, 2)
        strided = x[:, :, ::2, ::2]
        x = self.skip([pooled, strided])
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)
