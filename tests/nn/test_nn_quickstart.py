"""The quick-start model space of seed 002, end to end: space, samples, freeze, fixed_arch, and the
same network written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.nn.pytorch import NotFrozenError


class BasicBlock(nn.Module):
    def __init__(self, const: float) -> None:
        super().__init__()
        self.const = const

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.const


class ConvPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        kernel = nn.ValueChoice([3, 5], label="kernel")
        self.conv = nn.Conv2d(3, 8, kernel_size=kernel, padding=kernel // 2)  # possibly mutated
        self.pool = nn.MaxPool2d(kernel_size=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


@model_wrapper  # on the outermost module
class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mymodule = BasicBlock(2.0)
        self.convpool = ConvPool()
        self.layer = nn.LayerChoice(
            [nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 5, padding=2), nn.Identity()]
        )
        self.input_switch = nn.InputChoice(n_candidates=3, n_chosen=1)
        self.net = nn.Sequential(
            nn.Linear(8, nn.ValueChoice([32, 64, 128], label="hidden_dim")),
            nn.ReLU(),
            nn.Linear(nn.ValueChoice([32, 64, 128], label="hidden_dim"), 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convpool(self.mymodule(x))
        x = self.layer(x) + self.input_switch([x, F.relu(x), torch.tanh(x)])
        return F.relu(self.net(x.mean((2, 3))))


# -- the same network for one sample, written by hand with torch.nn only -----------------------


class HandConvPool(tnn.Module):
    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.conv = tnn.Conv2d(3, 8, kernel_size=kernel, padding=kernel // 2)
        self.pool = tnn.MaxPool2d(kernel_size=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class HandModel(tnn.Module):
    def __init__(self, kernel: int, layer: int, chosen_input: int, hidden_dim: int) -> None:
        super().__init__()
        self.const = 2.0
        self.convpool = HandConvPool(kernel)
        self.layer = [
            tnn.Conv2d(8, 8, 3, padding=1),
            tnn.Conv2d(8, 8, 5, padding=2),
            tnn.Identity(),
        ][layer]
        self.chosen_input = chosen_input
        self.net = tnn.Sequential(tnn.Linear(8, hidden_dim), tnn.ReLU(), tnn.Linear(hidden_dim, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convpool(x + self.const)
        x = self.layer(x) + [x, F.relu(x), torch.tanh(x)][self.chosen_input]
        return F.relu(self.net(x.mean((2, 3))))


def hand_model(sample: dict) -> HandModel:
    return HandModel(
        sample["kernel"], sample["model_1"], sample["model_2"][0], sample["hidden_dim"]
    )


LABELS = ["kernel", "model_1", "model_2", "hidden_dim"]


@pytest.fixture(scope="module")
def space() -> ModelSpace:
    return ModelSpace(Model())


def _input() -> torch.Tensor:
    return torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_space_labels_and_size(space: ModelSpace) -> None:
    assert space.labels == LABELS
    assert space.size == 2 * 3 * 3 * 3
    assert space.to_json() == {
        "kernel": {"_type": "choice", "_value": [3, 5]},
        "model_1": {"_type": "layer_choice", "_value": [0, 1, 2]},
        "model_2": {
            "_type": "input_choice",
            "_value": {"candidates": [0, 1, 2], "n_chosen": 1},
        },
        "hidden_dim": {"_type": "choice", "_value": [32, 64, 128]},
    }
    assert json.loads(json.dumps(space.to_json())) == space.to_json()


def test_building_twice_gives_the_same_labels(space: ModelSpace) -> None:
    assert ModelSpace(Model()).labels == space.labels
    assert ModelSpace(Model()).to_json() == space.to_json()


def test_the_space_is_not_runnable(space: ModelSpace) -> None:
    with pytest.raises(NotFrozenError, match="fixed_arch"):
        space.model(_input())


@pytest.mark.parametrize("seed", range(4))
def test_random_sample_freeze_forward_backward(
    space: ModelSpace, seed: int, check_frozen, check_trains
) -> None:
    sample = space.random(seed)
    assert space.validate(sample) == sample
    model = space.freeze(sample)
    check_frozen(model)
    out = check_trains(model, _input())
    assert out.shape == (2, 3)
    assert model.net[0].out_features == sample["hidden_dim"] == model.net[2].in_features
    assert model.convpool.conv.kernel_size == (sample["kernel"],) * 2
    assert model.convpool.conv.padding == (sample["kernel"] // 2,) * 2


def test_every_sample_of_the_grid_runs(space: ModelSpace) -> None:
    x = _input()
    samples = list(space.grid())
    assert len(samples) == space.size
    for sample in samples:
        assert space.freeze(sample)(x).shape == (2, 3)


def test_freeze_leaves_the_space_untouched(space: ModelSpace) -> None:
    space.freeze(space.random(0))
    assert isinstance(space.model.layer, nn.LayerChoice)
    assert ModelSpace(space.model).labels == LABELS


def test_chosen_candidate_keeps_its_weights(space: ModelSpace) -> None:
    sample = {"kernel": 3, "model_1": 1, "model_2": [0], "hidden_dim": 32}
    model = space.freeze(sample)
    assert torch.equal(model.layer.weight, space.model.layer[1].weight)
    assert model.layer.weight is not space.model.layer[1].weight  # a deep copy


@pytest.mark.parametrize("seed", range(3))
def test_fixed_arch_equals_freeze_equals_hand_written(
    space: ModelSpace, seed: int, check_frozen, check_same_architecture
) -> None:
    sample = space.random(seed)
    frozen = space.freeze(sample)
    with fixed_arch(sample):
        built = Model()
    check_frozen(built)
    assert type(built) is Model
    check_same_architecture(frozen, built)

    hand = hand_model(sample)
    assert list(hand.state_dict()) == list(frozen.state_dict())
    hand.load_state_dict(frozen.state_dict(), strict=True)
    built.load_state_dict(frozen.state_dict(), strict=True)
    x = _input()
    expected = frozen(x)
    torch.testing.assert_close(hand(x), expected)
    torch.testing.assert_close(built(x), expected)


def test_frozen_model_types(space: ModelSpace) -> None:
    sample = {"kernel": 5, "model_1": 0, "model_2": [2], "hidden_dim": 64}
    for model in (space.freeze(sample), _build_fixed(sample)):
        assert type(model.convpool.conv) is tnn.Conv2d
        assert type(model.layer) is tnn.Conv2d  # the chosen candidate, at the choice's name
        assert type(model.net) is tnn.Sequential
        assert type(model.net[0]) is tnn.Linear
        assert type(model.convpool.pool) is tnn.MaxPool2d
        assert type(model.mymodule) is BasicBlock
        assert type(model.input_switch) is nn.ChosenInputs
        assert model.input_switch.chosen == [2]


def _build_fixed(sample: dict) -> tnn.Module:
    with fixed_arch(sample):
        return Model()


def test_fixed_arch_from_a_json_file(
    space: ModelSpace, tmp_path: Path, check_same_architecture
) -> None:
    sample = space.random(5)
    path = tmp_path / "best.json"
    path.write_text(json.dumps(sample))
    with fixed_arch(path):
        from_path = Model()
    with fixed_arch(str(path)):
        from_str = Model()
    check_same_architecture(from_path, space.freeze(sample))
    check_same_architecture(from_str, space.freeze(sample))


def test_top_level_names_are_the_nn_ones() -> None:
    assert retiarii.fixed_arch is nn.fixed_arch
    assert retiarii.model_wrapper is nn.model_wrapper
    assert retiarii.ModelSpace is nn.ModelSpace
