"""Seed 004 on MNIST: a one-shot DARTS search run as a RetiariiExperiment.

    python examples/oneshot_darts_mnist.py                 # 10,000 images, 3 epochs (minutes on CPU)
    python examples/oneshot_darts_mnist.py --quick         # a few seconds: 512 images, 1 epoch

Progress (loss, accuracy and the architecture probabilities of every epoch) goes to the experiment's
store; ``retiarii view <experiment dir>`` plots it. The exported architecture is printed, with the
code that rebuilds it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
import torch.nn as tnn

from retiarii.data import MNIST
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.oneshot.pytorch import DartsTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oneshot_mnist_space import MnistCellNet, accuracy


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mnist", default=None, help="folder with the MNIST idx files")
    parser.add_argument("--quick", action="store_true", help="a tiny run (512 images, 1 epoch)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--unrolled", action="store_true", help="second-order DARTS")
    parser.add_argument("--workdir", default=None, help="where experiments are kept")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    size, epochs = (512, 1) if args.quick else (10_000, args.epochs)
    torch.manual_seed(0)
    dataset_train = MNIST(args.mnist, train=True, limit=size)

    model = MnistCellNet(c=8 if args.quick else 16)
    criterion = tnn.CrossEntropyLoss()
    optim = torch.optim.SGD(model.parameters(), 0.025, momentum=0.9, weight_decay=3.0e-4)
    trainer = DartsTrainer(
        model=model,
        loss=criterion,
        metrics=lambda output, target: accuracy(output, target),
        optimizer=optim,
        num_epochs=epochs,
        dataset=dataset_train,
        batch_size=args.batch_size,
        log_frequency=20,
        unrolled=args.unrolled,
        arc_learning_rate=3e-3,
    )
    exp = RetiariiExperiment(model, trainer)
    config = RetiariiExeConfig("local")
    config.experiment_name = "oneshot_darts_mnist"
    if args.workdir:
        config.experiment_working_directory = args.workdir
    exp.run(config)
    final_architecture = exp.export_top_models(formatter="dict")[0]
    print("architecture:", final_architecture)
    print(exp.export_top_models(formatter="code")[0])
    print("experiment directory:", exp.experiment_dir)
    return final_architecture


if __name__ == "__main__":
    main()
