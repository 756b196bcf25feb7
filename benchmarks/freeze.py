"""Build-and-freeze time of a DARTS-like space vs the same network written by hand.

Space: 2 cells x 14 edges x 8 candidate ops (C=16); every node of a cell picks 2 of its incoming
edges with an InputChoice. Measured side by side in one run (median of --repeats):

* ``hand_frozen``     - the chosen architecture written by hand in plain PyTorch;
* ``fixed_arch_lazy`` - ``with fixed_arch(sample): Space(lazy=True)``: candidates given as
  factories, so only chosen ops are built (the recommended way for big spaces);
* ``fixed_arch_eager``- the same with candidates given as modules (all 8 built per edge, then
  dropped — what NNI-style code does);
* ``space_freeze``    - ``ModelSpace(Space()).freeze(sample)``: build the supernet, then freeze a copy;
* ``hand_supernet`` vs ``space_build`` - the supernet written by hand vs built with retiarii:
  the framework's own construction overhead.

Usage: python benchmarks/freeze.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper

try:
    from _common import machine_line, write_results
except ImportError:  # run as a module
    from benchmarks._common import machine_line, write_results

C = 16
OPS = [
    "none",
    "skip",
    "avg_pool_3x3",
    "max_pool_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
]


class Zero(tnn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


def conv_bn(c: int, k: int, dilation: int = 1, separable: bool = False) -> tnn.Module:
    pad = dilation * (k - 1) // 2
    layers: list[tnn.Module] = [tnn.ReLU()]
    if separable:
        layers += [
            tnn.Conv2d(c, c, k, padding=pad, groups=c, bias=False),
            tnn.Conv2d(c, c, 1, bias=False),
        ]
    else:
        layers += [
            tnn.Conv2d(c, c, k, padding=pad, dilation=dilation, groups=c, bias=False),
            tnn.Conv2d(c, c, 1, bias=False),
        ]
    layers.append(tnn.BatchNorm2d(c))
    return tnn.Sequential(*layers)


def make_op(name: str, c: int | None = None) -> tnn.Module:
    c = C if c is None else c
    return {
        "none": lambda: Zero(),
        "skip": lambda: tnn.Identity(),
        "avg_pool_3x3": lambda: tnn.AvgPool2d(3, 1, 1),
        "max_pool_3x3": lambda: tnn.MaxPool2d(3, 1, 1),
        "sep_conv_3x3": lambda: tnn.Sequential(
            conv_bn(c, 3, separable=True), conv_bn(c, 3, separable=True)
        ),
        "sep_conv_5x5": lambda: tnn.Sequential(
            conv_bn(c, 5, separable=True), conv_bn(c, 5, separable=True)
        ),
        "dil_conv_3x3": lambda: conv_bn(c, 3, dilation=2),
        "dil_conv_5x5": lambda: conv_bn(c, 5, dilation=2),
    }[name]()


class SpaceCell(nn.Module):
    def __init__(self, index: int, lazy: bool) -> None:
        super().__init__()
        self.edges = nn.ModuleList()
        self.inputs = nn.ModuleList()
        for node in range(4):
            n_in = 2 + node
            for k in range(n_in):
                label = f"cell{index}/edge_{node}_{k}"
                if lazy:
                    cands: dict[str, Any] = {op: (lambda op=op: make_op(op)) for op in OPS}
                else:
                    cands = {op: make_op(op) for op in OPS}
                self.edges.append(nn.LayerChoice(cands, label=label))
            self.inputs.append(nn.InputChoice(n_in, 2, label=f"cell{index}/node_{node}"))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states, e = [s0, s1], 0
        for node in range(4):
            outs = [self.edges[e + k](states[k]) for k in range(len(states))]
            e += len(states)
            states.append(self.inputs[node](outs))
        return torch.cat(states[2:], dim=1)


@model_wrapper
class DartsLikeSpace(nn.Module):
    def __init__(self, lazy: bool = False) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, padding=1)
        self.cells = nn.ModuleList([SpaceCell(i, lazy) for i in range(2)])
        self.head = nn.Linear(4 * C, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        for cell in self.cells:
            s = cell(s, s)[:, :C]
        return self.head(s.mean((2, 3)))


class HandCell(tnn.Module):
    """The chosen cell written by hand: one op per edge, fixed input pairs."""

    def __init__(self, ops: list[str], pairs: list[list[int]]) -> None:
        super().__init__()
        self.edges = tnn.ModuleList(make_op(op) for op in ops)
        self.pairs = pairs


class HandFrozen(tnn.Module):
    def __init__(self, sample: dict[str, Any]) -> None:
        super().__init__()
        self.stem = tnn.Conv2d(3, C, 3, padding=1)
        cells = []
        for i in range(2):
            ops = [sample[f"cell{i}/edge_{n}_{k}"] for n in range(4) for k in range(2 + n)]
            pairs = [sample[f"cell{i}/node_{n}"] for n in range(4)]
            cells.append(HandCell(ops, pairs))
        self.cells = tnn.ModuleList(cells)
        self.head = tnn.Linear(4 * C, 10)


class HandSupernet(tnn.Module):
    """The whole space written by hand: every candidate of every edge."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = tnn.Conv2d(3, C, 3, padding=1)
        self.cells = tnn.ModuleList(
            tnn.ModuleList(tnn.ModuleDict({op: make_op(op) for op in OPS}) for _ in range(14))
            for _ in range(2)
        )
        self.head = tnn.Linear(4 * C, 10)


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 36])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[dict[str, object]] = []
    sections: list[str] = []
    for channels in args.channels:
        global C
        C = channels
        section_rows, section = measure(args.repeats)
        rows += [{"channels": channels, **row} for row in section_rows]
        sections.append(section)
    md = "\n".join(
        [
            "# Build-and-freeze: DARTS-like space (2 cells x 14 edges x 8 ops)",
            "",
            f"Machine: {machine_line()}; torch threads: 1; median of {args.repeats} runs.",
            "C=16 is DARTS's search width, C=36 its evaluation width (where fixed_arch is used).",
            "",
            *sections,
            "fixed_arch_eager builds all 8 candidates of every edge before the LayerChoice sees",
            "them, so it cannot approach the hand-written time; give candidates as factories.",
        ]
    )
    print(md)
    csv_path, md_path = write_results("freeze", rows, md + "\n")
    print(f"written: {csv_path}, {md_path}")


def measure(repeats: int) -> tuple[list[dict[str, object]], str]:
    """Time every variant at the current width ``C``."""
    space = ModelSpace(DartsLikeSpace())
    sample = space.random(seed=0)

    def fixed(lazy: bool) -> tnn.Module:
        with fixed_arch(sample, verbose=False):
            return DartsLikeSpace(lazy=lazy)

    # sanity: the ways of freezing agree on the architecture
    keys = sorted(space.freeze(sample).state_dict())
    assert keys == sorted(fixed(True).state_dict()) == sorted(fixed(False).state_dict())

    t = {
        "hand_frozen": median_time(lambda: HandFrozen(sample), repeats),
        "fixed_arch_lazy": median_time(lambda: fixed(True), repeats),
        "fixed_arch_eager": median_time(lambda: fixed(False), repeats),
        "space_freeze": median_time(lambda: ModelSpace(DartsLikeSpace()).freeze(sample), repeats),
        "hand_supernet": median_time(HandSupernet, repeats),
        "space_build": median_time(DartsLikeSpace, repeats),
    }
    ratios = {
        "fixed_arch_lazy / hand_frozen": t["fixed_arch_lazy"] / t["hand_frozen"],
        "fixed_arch_eager / hand_frozen": t["fixed_arch_eager"] / t["hand_frozen"],
        "space_freeze / hand_frozen": t["space_freeze"] / t["hand_frozen"],
        "space_build / hand_supernet": t["space_build"] / t["hand_supernet"],
    }
    rows: list[dict[str, object]] = [
        {"measure": k, "median_ms": round(v * 1e3, 3), "ratio": ""} for k, v in t.items()
    ]
    rows += [{"measure": k, "median_ms": "", "ratio": round(v, 3)} for k, v in ratios.items()]
    lines = [
        f"## C={C} (space size {space.size:.3e}, {len(space.labels)} labels)",
        "",
        "| measure | median (ms) |",
        "|---|---|",
        *(f"| {k} | {v * 1e3:.2f} |" for k, v in t.items()),
        "",
        "| ratio | value | goal |",
        "|---|---|---|",
        *(
            f"| {k} | {v:.2f} | {'<= 1.2' if 'lazy' in k or 'build' in k else '-'} |"
            for k, v in ratios.items()
        ),
        "",
    ]
    return rows, "\n".join(lines)


if __name__ == "__main__":
    main()
