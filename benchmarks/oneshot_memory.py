"""Peak memory of one search step of DARTS, ProxylessNAS and SPOS as candidates per choice grow.

The supernet is ``BenchSpace(n_ops)`` (4 edges, each a choice of the first ``n_ops`` of 8 DARTS
operations, C=16, 16x16 inputs, batch 64) for n_ops = 2..8. Each configuration runs in a fresh
process with ``MALLOC_MMAP_THRESHOLD_=65536`` (large buffers are mapped and unmapped, so the
resident set follows the live tensors); after two warm-up steps (optimizer state allocated), the
peak resident memory of one more step above the memory before it is read from ``/proc`` (VmHWM,
reset through ``/proc/self/clear_refs``). The largest of 5 steps (sampling trainers run a
different path each step). Linux only.

Expected: DARTS runs every candidate and keeps every output for the backward pass, so its peak
grows with ``n_ops``; ProxylessNAS (two gated paths in the architecture step, one in the weight
step) and SPOS (one path) stay flat.

Usage: python benchmarks/oneshot_memory.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import torch
import torch.nn.functional as F

try:
    from _common import machine_line, write_results
    from oneshot_common import BenchSpace, accuracy, batches, dataset, threads
except ImportError:  # run as a module
    from benchmarks._common import machine_line, write_results
    from benchmarks.oneshot_common import BenchSpace, accuracy, batches, dataset, threads

ALGORITHMS = ["darts", "proxyless", "spos"]
BATCH = 64


def _kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def measure(algorithm: str, n_ops: int) -> float:
    """Peak MiB of one search step above the memory before it (in this process)."""
    from retiarii.oneshot.pytorch import DartsTrainer, ProxylessTrainer, SinglePathTrainer

    threads()
    torch.manual_seed(0)
    space = BenchSpace(n_ops)
    opt = torch.optim.SGD(space.parameters(), lr=0.01, momentum=0.9)
    data = dataset(64)
    if algorithm == "darts":
        trainer: Any = DartsTrainer(space, F.cross_entropy, accuracy, opt, 1, data)
        step = trainer.search_step
    elif algorithm == "proxyless":
        trainer = ProxylessTrainer(space, F.cross_entropy, accuracy, opt, 1, data)
        step = trainer.search_step
    else:
        trainer = SinglePathTrainer(space, F.cross_entropy, accuracy, opt, 1, data)

        def step(train: Any, _valid: Any) -> Any:
            return trainer.search_step(train)

    trn, val = batches(7, BATCH, seed=1), batches(7, BATCH, seed=2)
    space.train()
    for i in range(2):
        step(trn[i], val[i])
    peaks = []
    for i in range(2, 7):
        before = _kb("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        loss = step(trn[i], val[i])
        del loss
        peaks.append((_kb("VmHWM") - before) / 1024)
    return max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--measure", nargs=2, metavar=("ALGORITHM", "N_OPS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]))))
        return
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    table: dict[int, dict[str, float]] = {}
    for n_ops in range(2, 9):
        table[n_ops] = {}
        for algorithm in ALGORITHMS:
            out = subprocess.run(
                [sys.executable, __file__, "--measure", algorithm, str(n_ops)],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            table[n_ops][algorithm] = round(json.loads(out.stdout.strip().splitlines()[-1]), 1)
        print(n_ops, table[n_ops], flush=True)
    rows: list[dict[str, object]] = [
        {"n_ops": n, **{f"{a}_mib": v for a, v in row.items()}} for n, row in table.items()
    ]
    lines = "".join(
        f"| {n} | {row['darts']} | {row['proxyless']} | {row['spos']} |\n"
        for n, row in table.items()
    )
    growth = {a: table[8][a] / table[2][a] for a in ALGORITHMS}
    markdown = (
        "# Peak memory of one search step vs candidates per choice\n\n"
        f"Machine: {machine_line()}. Supernet: `BenchSpace(n_ops)` (4 choices of n_ops DARTS "
        f"operations, C=16, 16x16 inputs, batch {BATCH}). Peak resident memory of one step above "
        "the memory before it (MiB), the largest of 5 steps, each configuration in a fresh process.\n\n"
        "| candidates per choice | DARTS | ProxylessNAS | SPOS |\n|---|---|---|---|\n"
        + lines
        + "\nGrowth from 2 to 8 candidates: "
        + ", ".join(f"{a} x{growth[a]:.2f}" for a in ALGORITHMS)
        + ". ProxylessNAS and SPOS run one or two sampled candidates per choice, so their peak "
        "depends on which ones were drawn, not on how many there are (with 2 candidates both are "
        "the heavy separable convolutions; larger sets also hold pooling ops).\n\n"
        "`python benchmarks/oneshot_memory.py` reproduces this table.\n"
    )
    csv_path, md_path = write_results("oneshot_memory", rows, markdown)
    print(markdown)
    print(f"written: {csv_path}, {md_path}")


if __name__ == "__main__":
    main()
