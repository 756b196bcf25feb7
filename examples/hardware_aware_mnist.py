"""Hardware-aware search: MobileNetV3Space on MNIST, accuracy vs FLOPs, under a FLOPs limit.

The FLOPs of every candidate come from ``retiarii.profiler.FlopsProfiler`` (computed from the
space, no model is built for it): they are the second objective, and a ``RangeProfilerFilter``
keeps the search below a limit (the median of the space's FLOPs by default), so no trial is spent
on a model that is too big. ``MultiObjectiveEvolution`` searches both objectives; the experiment
returns the Pareto front. Serve the dashboard with ``--port 8081`` to see the front.

    python examples/hardware_aware_mnist.py [--trials 12] [--train-size 2000] [--port 8081]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import retiarii
import retiarii.strategy as strategy
from retiarii.data import MNIST
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.hub.pytorch import MobileNetV3Space
from retiarii.nn.pytorch import ModelSpace
from retiarii.profiler import FlopsProfiler, RangeProfilerFilter

#: A small MobileNetV3 space for 28x28 digits (every kind of choice of the full space remains).
SPACE_ARGS: dict[str, Any] = {
    "num_labels": 10,
    "base_widths": (16, 16, 16, 16, 16, 16, 16, 32, 64),
    "width_multipliers": (0.5, 1.0),
    "expand_ratios": (1.0, 2.0, 4.0),
    "depth_range": (1, 2),
}


def train_and_test(model: torch.nn.Module, train_size: int, mnist: str | None) -> None:
    """One epoch on ``train_size`` MNIST images (grey repeated to 3 channels); report accuracy."""
    torch.manual_seed(0)
    train = MNIST(mnist, train=True, limit=train_size)
    test = MNIST(mnist, train=False, limit=max(200, train_size // 5))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for start in range(0, len(train), 64):
        x = train.images[start : start + 64].repeat(1, 3, 1, 1)
        optimizer.zero_grad()
        F.cross_entropy(model(x), train.labels[start : start + 64]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(test.images.repeat(1, 3, 1, 1)).argmax(1)
    retiarii.report_final_result(float((predicted == test.labels).float().mean()))


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--max-flops", type=float, default=None, help="default: the median")
    parser.add_argument("--mnist", default=None, help="folder with the MNIST idx files")
    parser.add_argument("--port", type=int, default=None, help="serve the dashboard here")
    parser.add_argument("--workdir", default=None, help="experiment_working_directory")
    parser.add_argument("--inprocess", action="store_true", help="run trials in this process")
    args = parser.parse_args(argv)

    space = MobileNetV3Space(**SPACE_ARGS)
    flops = FlopsProfiler(space, torch.zeros(1, 3, 28, 28))
    limit = args.max_flops
    if limit is None:
        view = ModelSpace(space)
        limit = statistics.median(flops.profile(view.random(seed)) for seed in range(50))
    print(f"FLOPs limit: {limit:,.0f} multiply-adds per image")

    exp = RetiariiExperiment(
        space,
        FunctionalEvaluator(train_and_test, train_size=args.train_size, mnist=args.mnist),
        strategy=strategy.MultiObjectiveEvolution(population_size=6, sample_size=3, seed=0),
        profilers={"flops": flops},
        constraint=RangeProfilerFilter(flops, max=limit),
    )
    config = RetiariiExeConfig("local")
    config.max_trial_number = args.trials
    config.objectives = {"default": "maximize", "flops": "minimize"}
    config.execution = "inprocess" if args.inprocess else "process"
    if args.workdir:
        config.experiment_working_directory = args.workdir
    exp.run(config, port=args.port)
    front = exp.export_top_models()
    print(f"Pareto front ({len(front)} architectures):")
    for trial in sorted(
        (
            t
            for t in exp.list_trial_jobs()
            if t.id in set(exp.store.experiment().info["pareto_front"])
        ),
        key=lambda t: -t.final["default"],
    ):
        print(
            f"  trial {trial.id}: accuracy {trial.final['default']:.3f}, FLOPs {trial.final['flops']:,}"
        )
    exp.close()
    return front


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
