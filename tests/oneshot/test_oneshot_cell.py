"""``nn.Cell`` in one-shot search: sampled paths freeze to the same network, DARTS relaxes it."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, model_wrapper
from retiarii.oneshot.pytorch import (
    DartsTrainer,
    EnasTrainer,
    ProxylessTrainer,
    SinglePathTrainer,
)

from .helpers import Zero, accuracy, reward_accuracy, separable, sgd


@model_wrapper
class CellNet(nn.Module):
    def __init__(self, merge_op: str = "all") -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.cell = nn.Cell(
            {"zero": Zero(), "linear": lambda: nn.Linear(8, 8), "tanh": nn.Tanh()},
            num_nodes=2,
            num_ops_per_node=2,
            num_predecessors=2,
            merge_op=merge_op,
            label="cell",
        )
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        h = F.relu(self.fc(x))
        return self.head(self.cell(h, h * 0.0))


@pytest.mark.parametrize("merge_op", ["all", "loose_end"])
def test_sampled_cells_compute_what_the_frozen_cells_compute(merge_op):
    model = CellNet(merge_op)
    trainer = SinglePathTrainer(model, F.cross_entropy, None, sgd(model), 0, separable())
    space = ModelSpace(model)
    assert len(space.labels) == 8 and all(label.startswith("cell/") for label in space.labels)
    x = torch.randn(5, 8)
    rng = random.Random(0)
    for _ in range(6):
        sample = space.random(rng)
        trainer.supernet.set_sample(sample)
        if merge_op == "loose_end":
            with torch.no_grad():
                expected = space.freeze(sample).cell(*[F.relu(model.fc(x))] * 2)
                got = model.cell(*[F.relu(model.fc(x))] * 2)
        else:
            expected, got = space.freeze(sample)(x), model(x)
        torch.testing.assert_close(got, expected)


def test_darts_learns_a_cell():
    model = CellNet()
    trainer = DartsTrainer(
        model, F.cross_entropy, accuracy, sgd(model), 8, separable(), batch_size=32,
        arc_learning_rate=0.05,
    )  # fmt: skip
    trainer.fit()
    sample = trainer.export()
    assert ModelSpace(CellNet()).validate(sample) == sample
    # Node 2 (the first intermediate node) must read the real input (0), not the zeroed one
    # (1), through a non-zero op.
    assert sample["cell/input_2_0"] == [0] or sample["cell/input_2_1"] == [0]
    probs = trainer.export_probs()
    assert probs["cell/op_2_0"]["zero"] < 1 / 3 and probs["cell/input_2_0"]["0"] > 0.5
    assert trainer.history[-1].metrics["acc"] > 0.8


def test_enas_samples_cells():
    model = CellNet()
    trainer = EnasTrainer(
        model,
        F.cross_entropy,
        None,
        reward_accuracy,
        sgd(model),
        1,
        separable(n=128),
        batch_size=32,
    )
    trainer.fit()
    assert ModelSpace(CellNet()).validate(trainer.export())


def test_unsupported_cells_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="merge_op='loose_end' cannot be relaxed"):
        DartsTrainer(CellNet("loose_end"), F.cross_entropy, None, None, 1, separable())
    with pytest.raises(ValueError, match=r"cannot search 'cell/op_2_0' \(Cell\)"):
        ProxylessTrainer(CellNet(), F.cross_entropy, None, None, 1, separable())


@model_wrapper
class FixedOutputs(nn.Module):
    """A loose-end cell whose output is fixed instead: input 1 and node 3."""

    def __init__(self):
        super().__init__()
        self.cell = nn.Cell(
            {"linear": lambda: nn.Linear(8, 8), "tanh": nn.Tanh()},
            num_nodes=2,
            num_predecessors=2,
            merge_op="loose_end",
            output_nodes=[1, 3],
            label="cell",
        )

    def forward(self, x):
        return self.cell(x, x * 2.0)


def test_sampled_cells_honour_fixed_output_nodes():
    model = FixedOutputs()
    trainer = SinglePathTrainer(model, F.cross_entropy, None, sgd(model), 0, separable())
    space = ModelSpace(model)
    x = torch.randn(5, 8)
    rng = random.Random(0)
    for _ in range(4):
        sample = space.random(rng)
        trainer.supernet.set_sample(sample)
        got = model(x)
        torch.testing.assert_close(got, space.freeze(sample)(x))
        torch.testing.assert_close(got[:, :8], x * 2.0)


def test_darts_relaxes_a_cell_with_fixed_output_nodes():
    # a fixed output does not depend on the decisions, so it can be relaxed (loose_end cannot)
    model = FixedOutputs()
    DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable())
    assert type(model.cell).__name__ == "DartsCell"
    x = torch.randn(5, 8)
    out = model(x)
    assert out.shape == (5, 16)
    torch.testing.assert_close(out[:, :8], x * 2.0)
