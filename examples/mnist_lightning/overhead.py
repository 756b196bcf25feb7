"""Per-trial overhead of the Lightning evaluator, measured side by side with a plain PyTorch loop.

The same tiny job (a 64-32-10 MLP, one epoch over 200 random examples in batches of 50, then
validation accuracy over 200 examples) runs as a plain loop and through ``Classification`` with
three trainer set-ups; runs are interleaved and the medians printed, with one torch thread (what
a worker gets on 2 cores with 2 workers). Also measured: ``Trainer.build`` alone, and the cost of
importing ``lightning`` in a fresh interpreter (paid once per worker, not per trial).

    .venv/bin/python examples/mnist_lightning/overhead.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

import lightning
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import retiarii.evaluator.pytorch.lightning as pl

SETUPS = {
    "Lightning, defaults (CSV log + checkpoint)": {},
    "Lightning, no checkpoint": {"enable_checkpointing": False},
    "Lightning, no logger, no checkpoint": {"enable_checkpointing": False, "logger": False},
}


def tiny() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def plain_loop(model: torch.nn.Module, train: DataLoader, val: DataLoader) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for x, y in train:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in val)
    return correct / 200


def median_ms(fn: Callable[[], object], times: list[float]) -> None:
    start = time.perf_counter()
    fn()
    times.append(1000 * (time.perf_counter() - start))


def import_seconds(statement: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.ERROR)
    data = TensorDataset(torch.randn(200, 64), torch.randint(0, 10, (200,)))
    train, val = DataLoader(data, batch_size=50), DataLoader(data, batch_size=200)
    root = tempfile.mkdtemp(prefix="retiarii-overhead-")
    evaluators = {
        name: pl.Classification(
            train_dataloaders=train, val_dataloaders=val, max_epochs=1, default_root_dir=root, **kw
        )
        for name, kw in SETUPS.items()
    }
    times: dict[str, list[float]] = {"plain PyTorch loop": [], **{name: [] for name in SETUPS}}
    build: list[float] = []
    for evaluator in evaluators.values():  # warm-up
        evaluator.evaluate(tiny())
    for _ in range(args.repeats):
        median_ms(lambda: plain_loop(tiny(), train, val), times["plain PyTorch loop"])
        for name, evaluator in evaluators.items():
            median_ms(lambda e=evaluator: e.evaluate(tiny()), times[name])  # type: ignore[misc]
        median_ms(lambda: evaluators[next(iter(SETUPS))].trainer.build(root), build)
    plain = statistics.median(times["plain PyTorch loop"])
    print(f"torch {torch.__version__}, lightning {lightning.__version__}, 1 torch thread")
    print(f"{'per trial (median of ' + str(args.repeats) + ')':45s} {'ms':>8s} {'overhead':>9s}")
    for name, values in times.items():
        value = statistics.median(values)
        print(f"{name:45s} {value:8.1f} {value - plain:+9.1f}")
    print(f"{'Trainer.build() alone':45s} {statistics.median(build):8.1f}")
    torch_s = import_seconds("import torch")
    lightning_s = import_seconds("import torch, lightning")
    print(
        f"fresh interpreter: import torch {torch_s:.2f} s, + lightning {lightning_s - torch_s:.2f} s"
    )


if __name__ == "__main__":
    main()
