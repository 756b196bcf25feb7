"""A one-shot search as a user runs it under ``torchrun`` (every process runs this script).

``python -m torch.distributed.run --standalone --nproc_per_node=2 torchrun_search.py OUT`` writes
``OUT/rank<r>.json``: the exported architecture and the experiment's recorded epochs, per rank.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import retiarii.evaluator.pytorch.lightning as pl
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.strategy import DARTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from oneshot.helpers import UsefulOrZero, separable


def main(out: Path) -> None:
    data = separable(128)
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=64),
        max_epochs=2,
        default_root_dir=str(out / "lightning"),
        accelerator="cpu",
        devices=2,
        strategy="ddp",
    )
    exp = RetiariiExperiment(UsefulOrZero(), evaluator, None, DARTS(arc_learning_rate=0.05))
    exp.run()
    record = {
        "export": exp.export_top_models()[0],
        "epochs": [p.epoch for p in exp.store.series("loss")],
        "world_size": exp._oneshot_trainer.trainer.world_size,  # the Lightning Trainer it ran
        "experiment_dir": str(exp.experiment_dir),
    }
    exp.close()
    (out / f"rank{os.environ['RANK']}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
