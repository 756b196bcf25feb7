"""Small synthetic tasks and model spaces shared by the one-shot tests."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import retiarii.nn.pytorch as nn
from retiarii import model_wrapper


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"acc": (logits.argmax(1) == target).float().mean().item()}


def reward_accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    return accuracy(logits, target)["acc"]


def separable(n: int = 512, dim: int = 8, seed: int = 0) -> TensorDataset:
    """Two classes: the sign of the first coordinate."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long())


class Zero(nn.Module):
    """The ``none`` op of DARTS: zeros of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


@model_wrapper
class UsefulOrZero(nn.Module):
    """x -> fc -> {zero | linear} -> {the op's output | zeros} -> head; ``linear`` and input 0 are
    the useful choices."""

    def __init__(self, dim: int = 8, hidden: int = 16) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, hidden)
        self.op = nn.LayerChoice({"zero": Zero(), "linear": nn.Linear(hidden, hidden)}, label="op")
        self.pick = nn.InputChoice(2, 1, label="pick")
        self.head = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.op(F.relu(self.fc(x)))
        return self.head(self.pick([h, h * 0.0]))


@model_wrapper
class ElasticMLP(nn.Module):
    """x -> fc to a chosen width -> a Repeat of 1 or 2 blocks of that width -> {relu | tanh} ->
    head: value choices, a Repeat depth and a LayerChoice."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        width = nn.ValueChoice([8, 16], label="width")
        self.fc = nn.Linear(dim, width)
        self.blocks = nn.Repeat(lambda i: nn.Linear(width, width), (1, 2), label="depth")
        self.op = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="op")
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.op(self.blocks(F.relu(self.fc(x)))))


def sgd(model: torch.nn.Module, lr: float = 0.05) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def batch_of(dataset: TensorDataset, n: int, start: int = 0) -> tuple[Any, Any]:
    x, y = dataset.tensors
    return x[start : start + n], y[start : start + n]
