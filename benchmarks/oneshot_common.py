"""The supernet the one-shot benchmarks share, and its hand-written PyTorch twin.

``BenchSpace(n_ops)`` is a small DARTS-like chain: a stem, ``NODES`` edges that are each a
``LayerChoice`` over the first ``n_ops`` of ``OPS``, and an ``InputChoice`` per node choosing the
previous state or the one before. ``HandSupernet(space)`` holds the *same* candidate modules in
plain ``ModuleList``s; the benchmark scripts write each algorithm's forward and step on it by hand.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn as tnn

import retiarii.nn.pytorch as nn
from retiarii import model_wrapper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from oneshot_mnist_space import make_op  # the DARTS operations

C = 16
NODES = 4
OPS = [
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "max_pool_3x3",
    "dil_conv_5x5",
    "conv_3x3",
    "avg_pool_3x3",
    "conv_5x5",
]


@model_wrapper
class BenchSpace(nn.Module):
    def __init__(self, n_ops: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.edges = nn.ModuleList(
            nn.LayerChoice({op: make_op(op, C) for op in OPS[:n_ops]}, label=f"edge{i}")
            for i in range(NODES)
        )
        self.inputs = nn.ModuleList(
            nn.InputChoice(2, 1, label=f"input{i}") for i in range(1, NODES)
        )
        self.head = nn.Linear(C, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [self.stem(x)]
        for i, edge in enumerate(self.edges):
            h = states[-1] if i == 0 else self.inputs[i - 1]([states[-1], states[-2]])
            states.append(edge(h))
        return self.head(states[-1].mean((2, 3)))


class HandSupernet(tnn.Module):
    """The candidates of an (unreplaced) ``BenchSpace`` in plain containers."""

    def __init__(self, space: BenchSpace) -> None:
        super().__init__()
        space = copy.deepcopy(space)
        self.stem = space.stem
        self.edges = tnn.ModuleList(tnn.ModuleList(list(choice)) for choice in space.edges)
        self.head = space.head
        self.n_ops = len(self.edges[0])


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"acc": (logits.argmax(1) == target).float().mean().item()}


def batches(n: int, batch_size: int = 32, seed: int = 0) -> list[tuple[Any, Any]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(batch_size, 3, 16, 16, generator=g),
            torch.randint(0, 10, (batch_size,), generator=g),
        )
        for _ in range(n)
    ]


def dataset(n: int = 64) -> torch.utils.data.TensorDataset:
    x, y = zip(*batches(n // 32 or 1))
    return torch.utils.data.TensorDataset(torch.cat(x), torch.cat(y))


def threads() -> int:
    """Intra-op threads for the benchmarks: ``$BENCH_THREADS`` or 1 (2 shared cores spin badly)."""
    n = int(os.environ.get("BENCH_THREADS", "1"))
    torch.set_num_threads(n)
    return n
