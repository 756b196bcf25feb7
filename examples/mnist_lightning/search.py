"""Multi-trial architecture search on MNIST with the Lightning ``Classification`` evaluator.

1. Search: random search over ``cnn_space.MnistCnn`` (144 CNNs). Each trial trains a candidate for
   ``--search-epochs`` on ``--search-train`` training images and reports its accuracy on a held-out
   slice of the *training* split (images 55,000-59,999), in ``--concurrency`` worker processes.
2. Retrain: the best architecture, freshly initialised, is trained through the same evaluator
   (``make_evaluator``) on the first 55,000 training images for ``--retrain-epochs``, and its
   accuracy on the 10,000-image *test* split (never used during the search) is reported.

Run from the repository root: ``.venv/bin/python examples/mnist_lightning/search.py`` (MNIST from
``../shared/data/mnist``, or ``--mnist PATH``); ``--quick`` is the smoke test's tiny budget.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from cnn_space import MnistCnn
from mnist_slices import MnistSlice

import retiarii.evaluator.pytorch.lightning as pl
import retiarii.strategy as strategy
from retiarii import fixed_arch
from retiarii.data import default_mnist_root, load_mnist_arrays
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

#: ``../shared/data/mnist`` next to the repository, wherever the script is started from.
SHARED_MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
#: Training images 55,000-59,999 validate the search; the test split is kept for the end.
VALIDATION = (55_000, 60_000)


def make_evaluator(
    root: str, train: tuple[int, int], val: MnistSlice, epochs: int, **trainer_kwargs: Any
) -> pl.Classification:
    """The evaluator of both phases: Adam, cross-entropy, accuracy on ``val`` every epoch."""
    return pl.Classification(
        learning_rate=1e-3,
        train_dataloaders=pl.DataLoader(
            MnistSlice(root, True, *train), batch_size=64, shuffle=True
        ),
        val_dataloaders=pl.DataLoader(val, batch_size=500),
        max_epochs=epochs,
        **trainer_kwargs,
    )


def mnist_root() -> Path:
    """``$RETIARII_MNIST``, else ``../shared/data/mnist`` beside the repository, else the default."""
    default = default_mnist_root()
    if "RETIARII_MNIST" in os.environ or default.is_dir() or not SHARED_MNIST.is_dir():
        return default.resolve()
    return SHARED_MNIST


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=None, help="folder with the MNIST idx files")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--search-train", type=int, default=10_000, help="training images per trial"
    )
    parser.add_argument("--search-val", type=int, default=5_000, help="validation images per trial")
    parser.add_argument("--search-epochs", type=int, default=1)
    parser.add_argument("--retrain-train", type=int, default=55_000)
    parser.add_argument("--retrain-epochs", type=int, default=3)
    parser.add_argument(
        "--test", type=int, default=10_000, help="test images for the final accuracy"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random search")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for the retraining (default: as each worker has, cpus // concurrency)",
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="where experiments go (default: $RETIARII_HOME or ~/retiarii-experiments)",
    )
    parser.add_argument("--port", type=int, default=None, help="serve the dashboard on this port")
    parser.add_argument("--quick", action="store_true", help="tiny budget, for the smoke test")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.search_train, args.search_val = 2, 1000, 500
        args.retrain_train, args.retrain_epochs, args.test = 2000, 1, 1000
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    root = str(Path(args.mnist).resolve() if args.mnist else mnist_root())
    load_mnist_arrays(root, train=False)  # fail early, with a clear message, if MNIST is missing
    val_start = VALIDATION[0]
    search_val = MnistSlice(root, True, val_start, min(val_start + args.search_val, VALIDATION[1]))

    # -- 1. search ------------------------------------------------------------------------------
    evaluator = make_evaluator(root, (0, args.search_train), search_val, args.search_epochs)
    exp = RetiariiExperiment(
        MnistCnn(), evaluator, None, strategy.Random(dedup=True, seed=args.seed)
    )
    config = RetiariiExeConfig("local")
    config.experiment_name = "mnist_lightning"
    config.trial_concurrency = args.concurrency
    config.max_trial_number = args.trials
    if args.workdir:
        config.experiment_working_directory = args.workdir
    started = time.perf_counter()
    exp.run(config, args.port)
    search_seconds = time.perf_counter() - started
    trials = exp.list_trial_jobs()
    print(f"\nsearch: {len(trials)} trials in {search_seconds:.0f} s")
    for trial in sorted(trials, key=lambda t: -(t.final_value or 0.0)):
        print(f"  trial {trial.id}: {trial.status:9s} val acc {trial.final_value}  {trial.sample}")
    best = exp.export_top_models(formatter="dict")[0]
    best_val = exp.store.best_trials(1)[0].final_value
    print(f"best architecture (val acc {best_val:.4f}): {json.dumps(best)}")

    # -- 2. retrain the best architecture from scratch, test on the test split --------------------
    assert exp.experiment_dir is not None
    test = MnistSlice(root, False, 0, args.test)
    retrain = make_evaluator(
        root,
        (0, min(args.retrain_train, val_start)),
        test,
        args.retrain_epochs,
        default_root_dir=str(exp.experiment_dir / "retrain"),
    )
    # Workers get cpus // concurrency threads each; on a shared machine, more threads than free
    # cores makes torch's thread pool spin (we measured 2 threads 9x slower than 1 here).
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // args.concurrency))
    with fixed_arch(best):
        model = MnistCnn()
    started = time.perf_counter()
    test_accuracy = retrain.evaluate(model)
    retrain_seconds = time.perf_counter() - started
    print(
        f"retrained on {min(args.retrain_train, val_start)} images for {args.retrain_epochs} "
        f"epoch(s) in {retrain_seconds:.0f} s ({torch.get_num_threads()} thread(s)): test accuracy "
        f"{test_accuracy:.4f} "
        f"on {len(test)} test images"
    )
    results = {
        "trials": len(trials),
        "succeeded": sum(t.status == "SUCCEEDED" for t in trials),
        "search_seconds": round(search_seconds, 1),
        "best": best,
        "best_val_accuracy": best_val,
        "retrain_seconds": round(retrain_seconds, 1),
        "retrain_threads": torch.get_num_threads(),
        "test_accuracy": test_accuracy,
        "experiment_dir": str(exp.experiment_dir),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
