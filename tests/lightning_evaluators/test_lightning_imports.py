"""Import paths: seed 000's alias, seed 002's path, and ``import retiarii`` staying light."""

from __future__ import annotations

import subprocess
import sys

import torch.utils.data

import retiarii.evaluator.pytorch as evaluator_pytorch
import retiarii.evaluator.pytorch.lightning as evaluator_pl
import retiarii.trainer.pytorch.lightning as trainer_pl


def test_importing_retiarii_and_its_evaluator_packages_does_not_import_lightning() -> None:
    code = (
        "import sys\n"
        "import retiarii, retiarii.evaluator, retiarii.evaluator.pytorch\n"
        "import retiarii.trainer, retiarii.trainer.pytorch, retiarii.execution\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('lightning', 'pytorch_lightning', 'torchmetrics'))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_seed000_path_is_an_alias_of_the_seed002_path() -> None:
    assert sorted(trainer_pl.__all__) == sorted(evaluator_pl.__all__)
    for name in evaluator_pl.__all__:
        assert getattr(trainer_pl, name) is getattr(evaluator_pl, name), name


def test_the_pytorch_package_resolves_the_names_lazily() -> None:
    assert evaluator_pytorch.Classification is evaluator_pl.Classification
    assert evaluator_pytorch.lightning is evaluator_pl


def test_the_pytorch_package_has_every_name_of_nni_and_of_the_lightning_module() -> None:
    # NNI 2.10's DARTS tutorial: from nni.retiarii.evaluator.pytorch import ClassificationModule
    assert sorted(evaluator_pytorch.__all__) == sorted(evaluator_pl.__all__)
    from retiarii.evaluator.pytorch import ClassificationModule, RegressionModule

    assert ClassificationModule is evaluator_pl.ClassificationModule
    assert RegressionModule is evaluator_pl.RegressionModule


def test_dataloader_is_torchs() -> None:
    # a subclass whose arguments may be value choices (joint hyperparameter search)
    assert issubclass(evaluator_pl.DataLoader, torch.utils.data.DataLoader)
