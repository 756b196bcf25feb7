"""A small one-shot experiment for the SIGKILL-then-resume test: ``python -m
tests.oneshot.resume_search DIR [--slow] [--trainer]`` runs it with ``DIR`` as the working
directory, searched by ``strategy.DARTS()`` or (``--trainer``) by a ``DartsTrainer``."""

from __future__ import annotations

import sys
import time
from typing import Any

import torch
import torch.nn.functional as F

import retiarii.evaluator.pytorch.lightning as pl
import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii import model_wrapper
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.oneshot.pytorch import DartsTrainer

from .helpers import separable

SLOW = {"seconds": 0.0}


@model_wrapper
class Space(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.op = nn.LayerChoice({"zero": nn.Dropout(1.0), "linear": nn.Linear(16, 16)}, label="op")
        self.width = nn.Linear(16, nn.ValueChoice([8, 16], label="width"))
        self.head = nn.Linear(nn.ValueChoice([8, 16], label="width"), 2)

    def forward(self, x):
        time.sleep(SLOW["seconds"])
        return self.head(F.relu(self.width(self.op(F.relu(self.fc(x))))))


def experiment(trainer: bool = False, **lightning: Any) -> RetiariiExperiment:
    """The experiment; ``lightning``: more arguments of the evaluator's ``Trainer``."""
    torch.manual_seed(0)
    data = separable(n=256)
    if trainer:
        space = Space()
        darts = DartsTrainer(
            space, F.cross_entropy, None, torch.optim.SGD(space.parameters(), lr=0.05), 5, data,
            batch_size=32, arc_learning_rate=0.05,
        )  # fmt: skip
        return RetiariiExperiment(space, darts)
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.05,
        max_epochs=5,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        **lightning,
    )
    return RetiariiExperiment(Space(), evaluator, None, strategy.DARTS(arc_learning_rate=0.05))


def run(directory: str, trainer: bool = False, **lightning: Any) -> RetiariiExperiment:
    torch.set_num_threads(1)
    exp = experiment(trainer, **lightning)
    exp.run(RetiariiExeConfig(experiment_working_directory=directory, execution_engine="oneshot"))
    return exp


if __name__ == "__main__":
    if "--slow" in sys.argv:
        SLOW["seconds"] = 0.02
    run(sys.argv[1], "--trainer" in sys.argv)
