"""retiarii demo: a real multi-trial architecture search on MNIST, watched in the dashboard.

Run with `bash scripts/demo.sh` (sets up .venv first). It searches the seed 002 model space
(examples/mnist_space.py) with random search, trains every candidate briefly on MNIST from
../shared/data/mnist (or --mnist PATH / $RETIARII_MNIST) in parallel worker processes, serves the
dashboard at http://127.0.0.1:8081/ and prints the best architecture.

``--platform ray`` runs the same search as Ray actors: on a local Ray instance started for it
(``pip install 'retiarii[ray]'``), or on a cluster with ``--ray-address auto`` (or
``ray://head:10001``). Nothing else changes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from mnist_search import train_and_test
from mnist_space import MnistNet

import retiarii.strategy as strategy
from retiarii import ModelSpace
from retiarii._install import cli_command
from retiarii.data import default_mnist_root, load_mnist_arrays
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=None, help="folder with the MNIST idx files")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--port", type=int, default=8081, help="dashboard port (0: any free port)")
    parser.add_argument(
        "--platform", choices=["local", "ray"], default="local", help="where trials run"
    )
    parser.add_argument(
        "--ray-address", default=None, help="Ray cluster to use (default: start a local one)"
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="where experiments are kept (default: $RETIARII_HOME or ~/retiarii-experiments, "
        "where `retiarii list` looks)",
    )
    parser.add_argument(
        "--keep-open",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep the dashboard up this long after the search ends "
        "(default: until Ctrl-C when run in a terminal, not at all otherwise)",
    )
    args = parser.parse_args()

    root = Path(args.mnist).resolve() if args.mnist else default_mnist_root().resolve()
    load_mnist_arrays(root, train=False)  # fail early, with a clear message, if MNIST is missing
    space = ModelSpace(MnistNet())
    print(f"search space: {json.dumps(space.to_json())}\n{space.size} architectures\n")

    evaluator = FunctionalEvaluator(
        train_and_test, mnist_root=str(root), train_size=args.train_size, epochs=args.epochs
    )
    exp = RetiariiExperiment(MnistNet(), evaluator, None, strategy.Random(dedup=True, seed=0))
    config = RetiariiExeConfig(args.platform)
    if args.ray_address:
        config.training_service.ray_address = args.ray_address
    config.experiment_name = "mnist_demo"
    config.trial_concurrency = args.concurrency
    config.max_trial_number = args.trials
    config.training_service.use_active_gpu = False
    if args.workdir:
        config.experiment_working_directory = args.workdir
    exp.run(config, args.port)

    print("\nbest architectures:")
    for rank, (sample, trial) in enumerate(
        zip(exp.export_top_models(top_k=3), exp.store.best_trials(3)), start=1
    ):
        print(f"  {rank}. accuracy {trial.final_value:.4f}  {json.dumps(sample)}")
    print("\nrebuild the best one with:\n" + exp.export_top_models(formatter="code")[0])
    cli = cli_command()
    ref = exp.id if args.workdir is None else str(exp.experiment_dir)
    print(f"experiment directory: {exp.experiment_dir}")
    print(
        f"list experiments:     {cli} list" + ("" if args.workdir is None else f" {args.workdir}")
    )
    print(f"view it again:        {cli} view {ref}")
    print(f"export the best:      {cli} export {ref}")
    keep_open = args.keep_open
    if keep_open is None:
        keep_open = float("inf") if sys.stdin.isatty() and sys.stdout.isatty() else 0.0
    if keep_open > 0:
        if math.isinf(keep_open):
            print("the dashboard (address above) stays open; press Ctrl-C to close it")
        else:
            print(f"the dashboard (address above) stays open for {keep_open:g} s (Ctrl-C: sooner)")
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(min(keep_open, 10 * 365 * 86400))
    print("dashboard closed")


if __name__ == "__main__":
    main()
