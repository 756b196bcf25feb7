"""One update rule per algorithm: the plain driver (seed-004 trainers) and the Lightning driver
(``strategy.DARTS()`` ...) give the same architecture parameters after the same batches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

pytest.importorskip("lightning")

import retiarii.evaluator.pytorch.lightning as pl
import retiarii.strategy as strategy
from retiarii.oneshot.pytorch import SupernetTrainer
from retiarii.oneshot.pytorch.lightning import LightningOneShotTrainer

from .helpers import ElasticMLP, UsefulOrZero, reward_accuracy, separable

STEPS = 6


def batches(start: int) -> DataLoader:
    """The same ``STEPS`` batches in the same order, every time."""
    x, y = separable(n=256).tensors
    fixed = [(x[i : i + 16], y[i : i + 16]) for i in range(start, start + 16 * STEPS, 16)]
    return DataLoader(fixed, batch_size=None)


def arch_state(algorithm) -> list[torch.Tensor]:
    return [p.detach().clone() for p in algorithm.arch_parameters()]


def plain(config, space=UsefulOrZero) -> list[torch.Tensor]:
    torch.manual_seed(1)
    model = space()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    trainer = SupernetTrainer(
        config.make_algorithm(), model, F.cross_entropy, None, optimizer, 1,
        batches(0), batches(128), device="cpu", grad_clip=config.gradient_clip_val,
    )  # fmt: skip
    initial = arch_state(trainer.algorithm)
    trainer.fit()
    final = arch_state(trainer.algorithm)
    assert any(not torch.equal(a, b) for a, b in zip(initial, final)) or not initial  # it learns
    return final + [p.detach() for p in trainer.weights()]


def lightning(config, tmp_path, space=UsefulOrZero) -> list[torch.Tensor]:
    evaluator = pl.Classification(
        train_dataloaders=batches(0),
        val_dataloaders=batches(128),
        learning_rate=0.05,
        optimizer=torch.optim.SGD,
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=str(tmp_path),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    torch.manual_seed(1)
    model = space()
    trainer = LightningOneShotTrainer(model, evaluator, config)
    trainer.fit()
    module = trainer.module
    return arch_state(module.algorithm) + [p.detach() for p in module.weights()]


@pytest.mark.parametrize(
    "config",
    [
        strategy.DARTS(arc_learning_rate=0.05),
        strategy.DARTS(arc_learning_rate=0.05, unrolled=True),
        strategy.GumbelDARTS(arc_learning_rate=0.05, use_temp_anneal=True),
        strategy.ENAS(reward_function=reward_accuracy, ctrl_lr=0.05, ctrl_steps_aggregate=2),
        strategy.Proxyless(arc_learning_rate=0.1),
        strategy.RandomOneShot(seed=3),
    ],
    ids=repr,
)
def test_plain_and_lightning_drivers_take_the_same_steps(config, tmp_path):
    expected = plain(config)
    got = lightning(config, tmp_path)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "config",
    [strategy.DARTS(arc_learning_rate=0.05), strategy.Proxyless(arc_learning_rate=0.1)],
    ids=repr,
)
def test_the_drivers_take_the_same_steps_on_value_choices_and_repeat(config, tmp_path):
    expected = plain(config, ElasticMLP)
    got = lightning(config, tmp_path, ElasticMLP)
    assert len(got) == len(expected) == 3 + len(list(ElasticMLP().parameters()))
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)
