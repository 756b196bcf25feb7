"""SPOS: uniform single-path training, BatchNorm recalibration, evolutionary search."""

from __future__ import annotations

import itertools
import logging
import random

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii import ModelSpace, model_wrapper
from retiarii.nn.pytorch import ValueChoice
from retiarii.oneshot.pytorch import SinglePathTrainer, recalibrate_batchnorm

from .helpers import Scale, accuracy, separable, sgd

N_LABELS = 6
FACTORS = {"zero": 0.0, "one": 1.0, "minus": -1.0}


@model_wrapper
class Coordinates(nn.Module):
    """Choice ``c{i}`` scales coordinate ``i`` by 0, 1 or -1; the target is the sum of the
    coordinates, so the one best subnet (of 3**6) is ``one`` everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            nn.LayerChoice({k: Scale(f) for k, f in FACTORS.items()}, label=f"c{i}")
            for i in range(N_LABELS)
        )
        self.log_gain = nn.Parameter(torch.zeros(()))  # trained; positive, so -1 is no "one"

    def forward(self, x):
        summed = sum(scale(x[:, i]) for i, scale in enumerate(self.scales))
        return summed * self.log_gain.exp()


def test_evolution_finds_the_known_best_subnet():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, N_LABELS, generator=g)
    data = TensorDataset(x, x.sum(1))
    model = Coordinates()
    trainer = SinglePathTrainer(
        model, F.mse_loss, None, sgd(model, lr=0.01), 1, data,
        population_size=12, evolution_cycles=12, mutation_prob=0.2, seed=0,
    )  # fmt: skip
    trainer.fit()
    best = trainer.export()
    assert best == {f"c{i}": "one" for i in range(N_LABELS)}
    assert trainer.supernet.sample() == best  # the supernet is left on the best path
    evaluated = trainer.search_history
    assert len(evaluated) <= 12 * 13 < 3**N_LABELS  # found without enumerating the space
    assert len({str(s) for s, _ in evaluated}) == len(evaluated)  # never twice
    # It is the best of all 729 subnets of the trained supernet, by brute force.
    validation = list(trainer.valid_loader)
    scores = {}
    for values in itertools.product(FACTORS, repeat=N_LABELS):
        trainer.supernet.set_sample(dict(zip(best, values)))
        scores[values] = trainer.score(validation)
    assert max(scores, key=scores.get) == tuple(best.values())


def test_batchnorm_recalibration_computes_the_subnet_statistics():
    @model_wrapper
    class WithNorm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.LayerChoice([Scale(1.0), Scale(5.0)], label="op")
            self.norm = nn.BatchNorm1d(8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.norm(self.op(x)))

    model = WithNorm()
    data = separable()
    trainer = SinglePathTrainer(
        model, F.cross_entropy, accuracy, sgd(model), 2, data, population_size=2, evolution_cycles=0
    )
    trainer.fit()
    batches = [data.tensors[0][i : i + 32] for i in range(0, 128, 32)]
    trainer.supernet.set_sample({"op": 1})
    recalibrate_batchnorm(model, batches)
    expected_mean = torch.stack([(5 * b).mean(0) for b in batches]).mean(0)
    expected_var = torch.stack([(5 * b).var(0) for b in batches]).mean(0)
    torch.testing.assert_close(model.norm.running_mean, expected_mean)
    torch.testing.assert_close(model.norm.running_var, expected_var)
    assert model.norm.momentum == 0.1 and not model.training


def test_the_search_is_an_ask_tell_strategy_seeded_and_constrained():
    x = torch.randn(64, N_LABELS)
    data = TensorDataset(x, x.sum(1))

    def trainer(**kwargs):
        model = Coordinates()
        return SinglePathTrainer(
            model, F.mse_loss, None, sgd(model, lr=0.0), 0, data, seed=1,
            population_size=4, evolution_cycles=2, **kwargs,
        )  # fmt: skip

    first = trainer(constraint=lambda s: s["c0"] != "one")
    first.search()
    assert len(first.search_history) == 12
    assert all(s["c0"] != "one" for s, _ in first.search_history)
    again = trainer(constraint=lambda s: s["c0"] != "one")
    again.search()
    assert [s for s, _ in again.search_history] == [s for s, _ in first.search_history]
    randomly = trainer(search_strategy=strategy.Random(dedup=True, seed=0))
    randomly.search()
    assert len(randomly.search_history) == 12


# -- weight slicing ---------------------------------------------------------------------------------
@model_wrapper
class Sliced(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        width = ValueChoice([4, 8], label="width")
        kernel = ValueChoice([1, 3, 5], label="kernel")
        self.conv = nn.Conv2d(3, width, kernel, padding=kernel // 2)
        self.norm = nn.BatchNorm2d(width)
        self.depthwise = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.drop = nn.Dropout(ValueChoice([0.0, 0.5], label="p"))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.ln = nn.LayerNorm(width)
        self.fc = nn.Linear(width, ValueChoice([2, 3], label="out"))
        self.depth = nn.Repeat(
            lambda i: nn.Sequential(nn.Linear(3, 3), nn.Tanh()), (0, 2), label="depth"
        )

    def forward(self, x):
        h = self.pool(self.drop(self.depthwise(self.norm(self.conv(x))))).flatten(1)
        out = self.fc(self.ln(h))
        return self.depth(F.pad(out, (0, 3 - out.shape[1])))


def test_sliced_layers_compute_what_the_frozen_subnet_computes():
    model = Sliced()
    trainer = SinglePathTrainer(model, F.cross_entropy, None, sgd(model), 0, separable())
    space = ModelSpace(model)
    assert space.labels == ["width", "kernel", "p", "out", "depth"]
    x = torch.randn(4, 3, 6, 6)
    model.eval()
    rng = random.Random(0)
    for _ in range(8):
        sample = space.random(rng)
        trainer.supernet.set_sample(sample)
        frozen = space.freeze(sample)  # a copy: plain torch layers with the sliced weights
        assert (
            type(frozen.conv) is torch.nn.Conv2d and frozen.conv.kernel_size[0] == sample["kernel"]
        )
        assert frozen.norm.num_features == sample["width"] and len(frozen.depth) == sample["depth"]
        torch.testing.assert_close(model(x), frozen(x))
    full = model.conv.weight
    frozen = space.freeze({"width": 4, "kernel": 3, "p": 0.0, "out": 2, "depth": 1})
    torch.testing.assert_close(frozen.conv.weight, full[:4, :, 1:4, 1:4])


def test_sliced_weights_are_shared_and_trained_in_place():
    model = Sliced()
    conv_weight = model.conv.weight
    optimizer = sgd(model)  # made before the trainer: it still updates the shared weights
    trainer = SinglePathTrainer(model, F.cross_entropy, None, optimizer, 0, separable())
    assert model.conv.weight is conv_weight
    trainer.supernet.set_sample({"width": 4, "kernel": 1, "p": 0.0, "out": 2, "depth": 0})
    before = conv_weight.detach().clone()
    x, y = torch.randn(4, 3, 6, 6), torch.tensor([0, 1, 0, 1])
    model.train()
    trainer.optimizer.zero_grad()
    F.cross_entropy(model(x)[:, :2], y).backward()
    trainer.optimizer.step()
    changed = (conv_weight.detach() != before).any(1)  # [out, k, k]
    assert changed[:4, 2, 2].all() and not changed[4:].any()  # only the 4 x 1x1 slice moved
    assert not changed[:, 0].any()


def test_unsupported_value_choice_layers_are_named():
    @model_wrapper
    class Embedded(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, ValueChoice([4, 8], label="dim"))

        def forward(self, x):
            return self.emb(x)

    with pytest.raises(ValueError, match="Embedding with value-choice arguments cannot share"):
        SinglePathTrainer(Embedded(), F.cross_entropy, None, None, 0, separable())


def test_the_search_phase_says_what_it_does_and_how_far_it_is(caplog, monkeypatch):
    # it can take minutes after the last epoch: it must not be silent
    from retiarii.oneshot.pytorch.algorithms import RandomOneShot

    monkeypatch.setattr(RandomOneShot, "progress_interval", 0.0)  # a line per scored subnet
    model = Coordinates()
    data = TensorDataset(torch.randn(64, N_LABELS), torch.randn(64))
    trainer = SinglePathTrainer(
        model, F.mse_loss, None, sgd(model), 1, data, batch_size=16,
        population_size=2, evolution_cycles=1, seed=0,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="retiarii.oneshot"):
        trainer.fit()
    messages = [r.getMessage() for r in caplog.records if r.name == "retiarii.oneshot"]
    start = [m for m in messages if "searching the trained supernet" in m]
    assert start == [
        "SinglePathTrainer: searching the trained supernet: up to 4 subnets, each scored on 2 "
        "validation batches after recalibrating BatchNorm on 2 training batches"
    ]
    progress = [m for m in messages if "subnets scored, best score" in m]
    assert [m.split(": ")[1].split(" ")[0] for m in progress] == ["1/4", "2/4", "3/4"]
    best = max(score for _, score in trainer.search_history[:3])
    assert progress[-1].endswith(f"best score {best:.4g}")
