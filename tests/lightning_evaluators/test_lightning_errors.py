"""Bad input: errors that name the argument and say what to do."""

from __future__ import annotations

import logging

import lightning
import pytest
import torch
from lightning_support import (
    AutoEncoder,
    NonNumericReporter,
    digits,
    digits_loaders,
    tiny_classifier,
)

import retiarii.evaluator.pytorch.lightning as pl
from retiarii.evaluator import Evaluator


class PlainModule(lightning.LightningModule):
    """A Lightning module that does not subclass retiarii's."""


def test_evaluators_are_evaluators() -> None:
    train, val = digits_loaders()
    assert isinstance(pl.Classification(train_dataloaders=train, val_dataloaders=val), Evaluator)


@pytest.mark.parametrize("module", [PlainModule(), torch.nn.Linear(2, 2), "AutoEncoder"])
def test_a_module_not_subclassing_ours_is_a_type_error_naming_the_argument(module) -> None:
    train, val = digits_loaders()
    with pytest.raises(
        TypeError, match=r"lightning_module must be an instance of retiarii\."
    ) as exc:
        pl.Lightning(module, pl.Trainer(), train_dataloaders=train, val_dataloaders=val)
    if isinstance(module, PlainModule):
        assert "a lightning.LightningModule that is not retiarii's" in str(exc.value)


def test_a_live_lightning_trainer_is_a_type_error_naming_the_argument() -> None:
    train, val = digits_loaders()
    with pytest.raises(TypeError, match=r"trainer must be retiarii\.evaluator\.pytorch\.lightning"):
        pl.Lightning(AutoEncoder(), lightning.Trainer(logger=False), train, val)


def test_missing_val_dataloaders_is_an_error_naming_it_when_used() -> None:
    # NNI lets the data be given after construction, so the check is made when it is used.
    train, _ = digits_loaders()
    for evaluator, name in [
        (pl.Lightning(AutoEncoder(), pl.Trainer(), train_dataloaders=train), "Lightning"),
        (pl.Classification(train_dataloader=train, max_epochs=1), "Classification"),
        (pl.Regression(train_dataloaders=train), "Regression"),
    ]:
        with pytest.raises(ValueError, match=f"{name}: val_dataloaders is missing"):
            evaluator.evaluate(tiny_classifier())
        with pytest.raises(ValueError, match=r"set evaluator\.val_dataloaders = DataLoader"):
            evaluator.check_ready()


def test_missing_train_dataloaders_is_an_error_naming_it_when_used() -> None:
    _, val = digits_loaders()
    evaluator = pl.Classification(val_dataloaders=val)
    with pytest.raises(ValueError, match="train_dataloaders is missing"):
        evaluator.fit(tiny_classifier())


def test_both_spellings_of_train_dataloaders_is_a_type_error() -> None:
    train, val = digits_loaders()
    with pytest.raises(TypeError, match="train_dataloaders or train_dataloader"):
        pl.Classification(train_dataloaders=train, train_dataloader=train, val_dataloaders=val)


def test_a_dataset_instead_of_a_dataloader_says_how_to_wrap_it() -> None:
    _, val = digits_loaders()
    with pytest.raises(TypeError, match=r"train_dataloaders must be a DataLoader .*got a Dataset"):
        pl.Classification(train_dataloaders=digits(), val_dataloaders=val)


def test_datamodule_and_dataloaders_together_is_an_error() -> None:
    train, val = digits_loaders()
    datamodule = lightning.LightningDataModule.from_datasets(digits(), digits())
    with pytest.raises(ValueError, match="either datamodule or train_dataloaders"):
        pl.Lightning(AutoEncoder(), pl.Trainer(), train, val, datamodule=datamodule)


def test_a_misspelled_trainer_argument_is_named_with_a_suggestion() -> None:
    with pytest.raises(TypeError, match=r"'max_epoch'.*did you mean 'max_epochs'\?"):
        pl.Trainer(max_epoch=3)
    train, val = digits_loaders()
    with pytest.raises(TypeError, match=r"Classification\(\) .*'lr'.*neither an argument of"):
        pl.Classification(train_dataloaders=train, val_dataloaders=val, lr=0.1)
    with pytest.raises(TypeError, match=r"did you mean 'learning_rate'\?"):
        pl.Classification(train_dataloaders=train, val_dataloaders=val, learning_rte=0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"learning_rate": -1.0}, ValueError, "learning_rate must be a positive number"),
        ({"learning_rate": "fast"}, TypeError, "learning_rate must be a positive number, got str"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay must be a non-negative number"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an optimizer class"),
        ({"criterion": 3}, TypeError, "criterion must be a loss class"),
    ],
)
def test_bad_supervised_arguments_are_named(kwargs, error, match) -> None:
    train, val = digits_loaders()
    with pytest.raises(error, match=match):
        pl.Classification(train_dataloaders=train, val_dataloaders=val, **kwargs)


def test_a_non_numeric_metric_is_a_clear_error() -> None:
    train, val = digits_loaders()
    evaluator = pl.Lightning(
        NonNumericReporter(),
        pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False),
        train,
        val,
    )
    with pytest.raises(TypeError, match=r"metric must be a number .*got str: 'excellent'"):
        evaluator.evaluate(tiny_classifier())


def test_set_model_rejects_what_is_not_a_module() -> None:
    module = AutoEncoder()
    with pytest.raises(TypeError, match=r"set_model\(model\): model must be a torch.nn.Module"):
        module.set_model(42)  # type: ignore[arg-type]
    module.set_model(tiny_classifier)  # a callable that builds the model is fine (NNI's model_cls)
    assert isinstance(module.model, torch.nn.Sequential)


def test_an_experiment_without_dataloaders_fails_once_at_the_start(tmp_path) -> None:
    from lightning_support import Encoder

    from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

    config = RetiariiExeConfig("local")
    config.experiment_working_directory = str(tmp_path)
    exp = RetiariiExperiment(Encoder(), pl.Classification(max_epochs=1))
    with pytest.raises(ValueError, match="Classification: train_dataloaders is missing"):
        exp.run(config)
    assert not (tmp_path / exp.id).exists()  # no experiment was created


def test_nni_gpus_argument_means_accelerator_and_devices() -> None:
    # NNI 2.10's tutorials pass Lightning 1.x's gpus=N, which Lightning 2 removed
    train, val = digits_loaders()
    cpu = pl.Classification(train_dataloaders=train, val_dataloaders=val, gpus=0, max_epochs=1)
    assert cpu.trainer.kwargs == {"accelerator": "cpu", "max_epochs": 1}
    assert pl.Trainer(gpus=None).kwargs == {"accelerator": "cpu"}
    assert pl.Trainer(gpus=2).kwargs == {"accelerator": "gpu", "devices": 2}
    assert pl.Regression(gpus=[1]).trainer.kwargs == {"accelerator": "gpu", "devices": [1]}
    built = pl.Trainer(gpus=0, logger=False).build("unused")
    assert type(built.accelerator).__name__ == "CPUAccelerator"


def test_nni_gpus_with_accelerator_or_devices_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"Trainer\(gpus=1, devices=\.\.\.\): gpus is Lightning 1"):
        pl.Trainer(gpus=1, devices=2)
    with pytest.raises(TypeError, match=r"Classification\(gpus=1, accelerator=\.\.\.\)"):
        pl.Classification(gpus=1, accelerator="cpu")


def test_the_trainers_built_log_no_lightning_advert(tmp_path, caplog) -> None:
    with caplog.at_level(logging.INFO):
        pl.Trainer(max_epochs=1).build(str(tmp_path))
        pl.Trainer(max_epochs=1, logger=False).build(str(tmp_path))
    assert not [r for r in caplog.records if "Tip" in r.getMessage()]
    with caplog.at_level(logging.INFO):  # Lightning's own, outside our build: untouched
        lightning.Trainer(default_root_dir=str(tmp_path), logger=False)
    assert [r for r in caplog.records if "litlogger" in r.getMessage()]
