"""What joint search buys: architecture-only search with a fixed learning rate vs searching the
architecture and the learning rate together, at the same trial budget, on scikit-learn's digits.

Every run is a ``RetiariiExperiment`` (in-process execution, its own SQLite store) of one MLP
space — ``hidden`` in {8, 16, 32, 64, 128, 256} x activation in {ReLU, Tanh, Sigmoid}, 18
architectures — with a ``FunctionalEvaluator`` that trains with minibatch Adam for a short fixed
budget (5 epochs of 1,000 images) and reports the accuracy on 400 validation images:

* ``arch-only lr=1e-3``: ``learning_rate=1e-3`` (Adam's default);
* ``arch-only lr=1e-2``: ``learning_rate=1e-2`` (a learning rate that suits this task well);
* ``joint``: ``learning_rate=loguniform('learning_rate', 1e-4, 0.3)``, searched with the
  architecture.

The strategy sees only validation accuracy. The architecture (and learning rate) it returns —
``export_top_models(1)`` — is retrained from its sample exactly as the trial ran
(``fixed_arch(sample, strict=False)`` + ``evaluator.freeze(sample)``) and scored on the 397 held-out
test images. Training is seeded per trial, so the differences come from the search alone. Mean and
std over seeds, for Random search and TPE.

Usage::

    python benchmarks/joint_search.py [--seeds 8] [--budget 20] [--strategies Random TPE]

Writes ``benchmarks/results/joint_search-<machine>.csv`` (one row per run) and ``.md``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
import torch.nn.functional as F
from _common import machine_line, write_results

import retiarii
import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii import model_wrapper
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

EPOCHS = 5
#: Architectures in the space: hidden (6 values) x activation (3).
N_ARCHITECTURES = 18
BATCH = 50
SPLITS = {"train": (0, 1000), "val": (1000, 1400), "test": (1400, 1797)}
_DATA: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def data(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not _DATA:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        xt, yt = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
        for name, (lo, hi) in SPLITS.items():
            _DATA[name] = (xt[lo:hi], yt[lo:hi])
    return _DATA[split]


@model_wrapper
class DigitsMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        hidden = nn.ValueChoice([8, 16, 32, 64, 128, 256], label="hidden")
        self.fc1 = nn.Linear(64, hidden)
        self.act = nn.LayerChoice(
            {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}, label="act"
        )
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def fit(model: Any, learning_rate: float, split: str = "val") -> float:
    """Minibatch Adam, seeded (same initial weights and batches for a given sample)."""
    torch.manual_seed(0)
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.reset_parameters()
    x, y = data("train")
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    for _ in range(EPOCHS):
        order = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    xe, ye = data(split)
    with torch.no_grad():
        acc = (model(xe).argmax(1) == ye).float().mean().item()
    retiarii.report_final_result(acc)
    return acc


MODES: dict[str, Any] = {
    "arch-only lr=1e-3": lambda: 1e-3,
    "arch-only lr=1e-2": lambda: 1e-2,
    "joint": lambda: retiarii.loguniform("learning_rate", 1e-4, 0.3),
}
STRATEGIES: dict[str, Any] = {
    "Random": lambda seed: strategy.Random(dedup=True, seed=seed),
    "TPE": lambda seed: strategy.TPE(seed=seed, n_startup_trials=5),
}


def run_one(strategy_name: str, mode: str, seed: int, budget: int, workdir: Path) -> dict[str, Any]:
    evaluator = FunctionalEvaluator(fit, learning_rate=MODES[mode]())
    exp = RetiariiExperiment(DigitsMLP(), evaluator, None, STRATEGIES[strategy_name](seed))
    config = RetiariiExeConfig("local")
    config.execution = "inprocess"
    config.max_trial_number = budget
    config.experiment_working_directory = str(workdir)
    start = time.perf_counter()
    exp.run(config)
    seconds = time.perf_counter() - start
    best = exp.store.best_trials(1)[0]
    sample = dict(best.sample)
    exp.close()
    with retiarii.fixed_arch(sample, strict=False, verbose=False):
        model = DigitsMLP()
    frozen = evaluator.freeze(sample)
    test_acc = fit(model, frozen.arguments["learning_rate"], split="test")
    return {
        "strategy": strategy_name,
        "mode": mode,
        "seed": seed,
        "budget": budget,
        "best_val_acc": round(best.final_value or 0.0, 4),
        "test_acc_of_best": round(test_acc, 4),
        "best_hidden": sample["hidden"],
        "best_act": sample["act"],
        "best_lr": frozen.arguments["learning_rate"],
        "seconds": round(seconds, 2),
    }


def summarise(rows: list[dict[str, Any]], args: argparse.Namespace, wall: float) -> str:
    def stat(values: list[float]) -> str:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.mean(values):.2f} ± {100 * sd:.2f}"

    lines = [
        "# Joint architecture + learning-rate search vs architecture-only search (digits)",
        "",
        f"`python benchmarks/joint_search.py --seeds {args.seeds} --budget {args.budget} "
        f"--strategies {' '.join(args.strategies)}`",
        "",
        f"Machine: {machine_line()}. Whole run: {wall:.0f} s wall.",
        "",
        "Protocol: see the docstring of `benchmarks/joint_search.py`. Space: 18 architectures "
        "(hidden x activation); the joint space adds `learning_rate ~ loguniform(1e-4, 0.3)` "
        f"(infinite size). Same budget ({args.budget} trials) for every search. Accuracy in %, mean "
        f"± std over {args.seeds} seeds; *test* is the returned (best-validation) trial retrained "
        "from its sample and scored on held-out images.",
        "",
        "| strategy | search | best val acc | test acc of returned | median lr returned |",
        "|---|---|---|---|---|",
    ]
    for strategy_name in args.strategies:
        for mode in MODES:
            group = [r for r in rows if r["strategy"] == strategy_name and r["mode"] == mode]
            lrs = sorted(r["best_lr"] for r in group)
            lines.append(
                f"| {strategy_name} | {mode} | {stat([r['best_val_acc'] for r in group])} | "
                f"{stat([r['test_acc_of_best'] for r in group])} | {statistics.median(lrs):.2g} |"
            )
    lines += ["", "Differences in mean accuracy (percentage points), joint minus arch-only:", ""]
    for strategy_name in args.strategies:
        joint = [r for r in rows if r["strategy"] == strategy_name and r["mode"] == "joint"]
        for mode in [m for m in MODES if m != "joint"]:
            base = [r for r in rows if r["strategy"] == strategy_name and r["mode"] == mode]
            diff = {
                key: 100
                * (statistics.mean(r[key] for r in joint) - statistics.mean(r[key] for r in base))
                for key in ("best_val_acc", "test_acc_of_best")
            }
            lines.append(
                f"- {strategy_name}, vs {mode}: val {diff['best_val_acc']:+.2f}, "
                f"test {diff['test_acc_of_best']:+.2f}"
            )
    lines.append("")
    if args.budget >= N_ARCHITECTURES:
        lines += [
            f"Note: the budget ({args.budget}) is at least the number of architectures "
            f"({N_ARCHITECTURES}), so an architecture-only search tries every architecture (hence "
            "its std of 0): it returns the best architecture *for its fixed learning rate*. The "
            "joint search spends the same budget on architectures and learning rates together.",
            "",
        ]
    lines += [
        "Test accuracy is below validation accuracy everywhere: the best of many validation "
        "scores on 400 images is an optimistic estimate, the more so the more distinct "
        "configurations a search compares.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--name", default="joint_search")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.getLogger("retiarii").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="retiarii-joint-bench-"))
    rows = []
    start = time.perf_counter()
    try:
        for strategy_name in args.strategies:
            for mode in MODES:
                for seed in range(args.seeds):
                    row = run_one(strategy_name, mode, seed, args.budget, workdir)
                    rows.append(row)
                    print(row, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - start
    markdown = summarise(rows, args, wall)
    print(markdown)
    if not args.no_write:
        csv_path, md_path = write_results(args.name, rows, markdown)
        print(f"written: {csv_path}, {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
