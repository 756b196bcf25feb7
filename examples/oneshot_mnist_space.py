"""A DARTS-style cell space for MNIST (1x28x28 images, 10 classes), and how to retrain a sample.

The network: a stride-2 stem (14x14, C channels), a cell, a stride-2 reduction (7x7, 2C), the
same cell again (the two cells share their labels, so they share one genotype as in DARTS), and
a classifier. A cell has ``NODES`` nodes; node ``i`` applies a ``LayerChoice`` of ``OPS`` to each
of the ``i + 1`` earlier states (the cell input and the nodes before it) and, from node 2 on,
sums two of those edges (an ``InputChoice``). The cell output is the concatenation of its nodes,
projected back to its width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import model_wrapper

OPS = [
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
]
NODES = 4


def _relu_conv_bn(c: int, k: int, dilation: int = 1, separable: bool = True) -> nn.Module:
    pad = dilation * (k - 1) // 2
    convs = (
        [
            nn.Conv2d(c, c, k, padding=pad, dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
        ]
        if separable
        else [nn.Conv2d(c, c, k, padding=pad, dilation=dilation, bias=False)]
    )
    return nn.Sequential(nn.ReLU(), *convs, nn.BatchNorm2d(c))


def make_op(name: str, c: int) -> nn.Module:
    """A DARTS operation on ``c`` channels that keeps the spatial size (``OPS``, plus
    ``dil_conv_5x5``, ``conv_3x3`` and ``conv_5x5``)."""
    if name == "sep_conv_3x3":
        return nn.Sequential(_relu_conv_bn(c, 3), _relu_conv_bn(c, 3))
    if name == "sep_conv_5x5":
        return nn.Sequential(_relu_conv_bn(c, 5), _relu_conv_bn(c, 5))
    if name == "dil_conv_3x3":
        return _relu_conv_bn(c, 3, dilation=2)
    if name == "dil_conv_5x5":
        return _relu_conv_bn(c, 5, dilation=2)
    if name == "conv_3x3":
        return _relu_conv_bn(c, 3, separable=False)
    if name == "conv_5x5":
        return _relu_conv_bn(c, 5, separable=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    raise ValueError(f"unknown op {name!r}")


class Node(nn.Module):
    def __init__(self, index: int, c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            nn.LayerChoice({op: make_op(op, c) for op in OPS}, label=f"cell/op_{index}_{k}")
            for k in range(index + 1)
        )
        self.pick = (
            nn.InputChoice(index + 1, 2, reduction="sum", label=f"cell/in_{index}")
            if index >= 2
            else None
        )

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        outs = [edge(state) for edge, state in zip(self.edges, states)]
        if self.pick is not None:
            return self.pick(outs)
        return outs[0] if len(outs) == 1 else outs[0] + outs[1]


class Cell(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.nodes = nn.ModuleList(Node(i, c) for i in range(NODES))
        self.project = nn.Sequential(
            nn.ReLU(), nn.Conv2d(NODES * c, c, 1, bias=False), nn.BatchNorm2d(c)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [x]
        for node in self.nodes:
            states.append(node(states))
        return self.project(torch.cat(states[1:], 1))


@model_wrapper
class MnistCellNet(nn.Module):
    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c)
        )
        self.cell1 = Cell(c)
        self.reduce = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * c),
        )
        self.cell2 = Cell(2 * c)
        self.classifier = nn.Linear(2 * c, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cell1(self.stem(x))
        x = self.cell2(self.reduce(x))
        return self.classifier(F.adaptive_avg_pool2d(F.relu(x), 1).flatten(1))


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"acc": (logits.argmax(1) == target).float().mean().item()}


def train_and_test(
    model: torch.nn.Module,
    train: torch.utils.data.Dataset,
    test: torch.utils.data.Dataset,
    epochs: int,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
) -> float:
    """Train ``model`` from scratch (SGD, cosine schedule) and return its test accuracy."""
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=3e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader))
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            schedule.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test, batch_size=500):
            correct += int((model(x).argmax(1) == y).sum())
    return correct / len(test)
