"""Seed 000's older import paths are the same objects as the new ones."""

from __future__ import annotations


def test_seed_000_paths() -> None:
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.oneshot import BaseOneShotTrainer
    from retiarii.oneshot.pytorch import replace_input_choice, replace_layer_choice
    from retiarii.trainer import BaseOneShotTrainer as Base1
    from retiarii.trainer import FunctionalTrainer
    from retiarii.trainer.pytorch import BaseOneShotTrainer as Base2
    from retiarii.trainer.pytorch.utils import replace_input_choice as ric
    from retiarii.trainer.pytorch.utils import replace_layer_choice as rlc

    assert FunctionalTrainer is FunctionalEvaluator
    assert Base1 is Base2 is BaseOneShotTrainer
    assert rlc is replace_layer_choice and ric is replace_input_choice


def test_seed_002_lightning_paths() -> None:
    import retiarii.evaluator.pytorch.lightning as pl_new
    import retiarii.trainer.pytorch.lightning as pl_old

    assert pl_old.Classification is pl_new.Classification
    assert pl_old.LightningModule is pl_new.LightningModule
