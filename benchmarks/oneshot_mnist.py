"""Quality of one-shot search on real data: DARTS on a DARTS-style cell space for MNIST.

1. Search: ``DartsTrainer`` on the first ``--search-size`` MNIST training images (its first half
   trains the weights, its second half the architecture), ``--search-epochs`` epochs.
2. Retrain the architecture DARTS exports from scratch, and ``--random`` architectures drawn
   uniformly from the same space, each the same way (``train_and_test``: the first
   ``--train-size`` training images, ``--epochs`` epochs, SGD with a cosine schedule, seed 0),
   and test each on the 10,000 MNIST test images.
3. Report the DARTS architecture's test accuracy next to the median (and all) of the random ones.

The space and the retraining recipe are in ``examples/oneshot_mnist_space.py``. MNIST is read
from ``--mnist`` (default: ``$RETIARII_MNIST`` or ``../shared/data/mnist``); nothing is downloaded.

Usage: python benchmarks/oneshot_mnist.py [--search-epochs 5] [--random 8]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from retiarii import ModelSpace
from retiarii.data import MNIST
from retiarii.oneshot.pytorch import DartsTrainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from oneshot_mnist_space import MnistCellNet, accuracy, train_and_test

try:
    from _common import machine_line, write_results
    from oneshot_common import threads
except ImportError:  # run as a module
    from benchmarks._common import machine_line, write_results
    from benchmarks.oneshot_common import threads


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mnist", default=None)
    parser.add_argument("--search-size", type=int, default=10_000)
    parser.add_argument("--search-epochs", type=int, default=5)
    parser.add_argument("--arc-lr", type=float, default=3e-3)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--random", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    n_threads = threads()
    search_data = MNIST(args.mnist, train=True, limit=args.search_size)
    train = MNIST(args.mnist, train=True, limit=args.train_size)
    test = MNIST(args.mnist, train=False)

    torch.manual_seed(0)
    started = time.perf_counter()
    model = MnistCellNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    trainer = DartsTrainer(
        model, F.cross_entropy, accuracy, optimizer, args.search_epochs, search_data,
        batch_size=64, arc_learning_rate=args.arc_lr, log_frequency=50,
    )  # fmt: skip
    trainer.fit()
    darts_sample = trainer.export()
    search_seconds = time.perf_counter() - started
    print("DARTS exported:", json.dumps(darts_sample), f"({search_seconds:.0f}s)", flush=True)

    space = ModelSpace(MnistCellNet())
    candidates = [("darts", darts_sample)] + [
        (f"random_{seed}", space.random(seed)) for seed in range(args.random)
    ]
    rows: list[dict[str, object]] = []
    for name, sample in candidates:
        started = time.perf_counter()
        acc = train_and_test(space.build(sample), train, test, args.epochs)
        rows.append({
            "architecture": name,
            "test_accuracy": round(acc, 4),
            "retrain_seconds": round(time.perf_counter() - started, 1),
            "sample": json.dumps(sample, sort_keys=True),
        })  # fmt: skip
        print(name, acc, flush=True)

    darts_acc = float(rows[0]["test_accuracy"])  # type: ignore[arg-type]
    random_accs = [float(r["test_accuracy"]) for r in rows[1:]]  # type: ignore[arg-type]
    median = statistics.median(random_accs)
    verdict = "at least as accurate as" if darts_acc >= median else "LESS accurate than"
    better = sum(a > darts_acc for a in random_accs)
    table = "".join(f"| {r['architecture']} | {r['test_accuracy']:.4f} |\n" for r in rows)
    ops = [v for k, v in sorted(darts_sample.items()) if "/op_" in k]
    markdown = (
        "# DARTS on MNIST: the exported architecture vs random architectures, retrained\n\n"
        f"Machine: {machine_line()}; {n_threads} intra-op thread(s).\n\n"
        f"Space: `examples/oneshot_mnist_space.py` ({space.size:,} architectures: 2 cells sharing "
        "one genotype, 4 nodes, 6 ops per edge). Search: `DartsTrainer`, first-order, "
        f"{args.search_size} training images (half weights, half architecture), "
        f"{args.search_epochs} epochs, arc learning rate {args.arc_lr}, {search_seconds:.0f}s. "
        f"Retraining: {args.train_size} training images, {args.epochs} epochs, same seed and "
        "recipe for every architecture; test accuracy on the 10,000 MNIST test images.\n\n"
        f"**DARTS: {darts_acc:.4f}; median of {len(random_accs)} random architectures: "
        f"{median:.4f}** (min {min(random_accs):.4f}, max {max(random_accs):.4f}) - the DARTS "
        f"architecture is {verdict} the random median; {better} of the {len(random_accs)} random "
        "architectures are more accurate. Each architecture is retrained once (one seed), so "
        "differences of a few tenths of a point are within the noise of retraining.\n\n"
        f"DARTS's ops: {', '.join(ops)}.\n\n"
        "| architecture | test accuracy |\n|---|---|\n"
        + table
        + "\n`python benchmarks/oneshot_mnist.py` reproduces this table.\n"
    )
    csv_path, md_path = write_results("oneshot_mnist", rows, markdown)
    print(markdown)
    print(f"written: {csv_path}, {md_path}")


if __name__ == "__main__":
    main()
