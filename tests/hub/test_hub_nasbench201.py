"""The NAS-Bench-201 model space: its labels, its frozen networks, and the paper's sizes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import torch.nn as tnn

import retiarii
import retiarii.hub.pytorch as hub
from retiarii.hub.pytorch import NB201_OPS, NasBench201, NasBench201Cell
from retiarii.nn.pytorch import LayerChoice, MutableModule

TABLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nb201" / "nb201.csv.gz"
LABELS = ["cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3", "cell/2_3"]


@pytest.fixture(scope="module")
def space() -> retiarii.ModelSpace:
    return retiarii.ModelSpace(NasBench201())


def n_params(model: tnn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_the_space_has_six_edges_of_five_operations(space: retiarii.ModelSpace) -> None:
    assert space.labels == LABELS
    assert space.size == 5**6 == 15625
    for label in LABELS:
        assert space.to_json()[label] == {"_type": "layer_choice", "_value": list(NB201_OPS)}
    assert list(NB201_OPS) == [
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ]


# every model space of the hub gets the same treatment (timm-style registry test)
HUB_SPACES = {name: getattr(hub, name) for name in hub.__all__ if name in ("NasBench201",)}


@pytest.mark.parametrize("name", sorted(HUB_SPACES))
def test_hub_space_builds_samples_freezes_and_trains(name: str) -> None:
    model_space = retiarii.ModelSpace(HUB_SPACES[name]())
    sample = model_space.random(seed=0)
    model = model_space.freeze(sample)
    for module in model.modules():
        assert not isinstance(module, MutableModule)
        assert not type(module).__module__.startswith("retiarii.nn")
    x = torch.randn(2, 3, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_frozen_network_forward_and_state_dict(space: retiarii.ModelSpace) -> None:
    sample = dict.fromkeys(LABELS, "nor_conv_3x3")
    sample["cell/1_2"] = "skip_connect"
    frozen = space.freeze(sample)
    with retiarii.fixed_arch(sample, verbose=False):
        built = NasBench201()
    assert list(frozen.state_dict()) == list(built.state_dict())
    assert frozen.chosen_ops() == built.chosen_ops() == sample
    out = built(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert not any(isinstance(m, LayerChoice) for m in built.modules())


def test_paper_architecture(space: retiarii.ModelSpace) -> None:
    model = space.freeze(dict.fromkeys(LABELS, "nor_conv_3x3"))
    assert isinstance(model.stem[0], tnn.Conv2d) and model.stem[0].out_channels == 16
    assert isinstance(model.stem[1], tnn.BatchNorm2d)
    kinds = [type(c).__name__ for c in model.cells]
    assert (
        kinds
        == ["NasBench201Cell"] * 5
        + ["ResNetBasicBlock"]
        + ["NasBench201Cell"] * 5
        + ["ResNetBasicBlock"]
        + ["NasBench201Cell"] * 5
    )
    channels = [c.out_features if isinstance(c, NasBench201Cell) else None for c in model.cells]
    assert channels[:5] == [16] * 5 and channels[6:11] == [32] * 5 and channels[12:] == [64] * 5
    conv = model.cells[0].layers[0][0]
    assert [type(m).__name__ for m in conv.op] == ["ReLU", "Conv2d", "BatchNorm2d"]
    assert isinstance(model.lastact[0], tnn.BatchNorm2d) and isinstance(model.lastact[1], tnn.ReLU)
    assert model.classifier.in_features == 64 and model.classifier.out_features == 10
    # the all-3x3 cell of the paper: 1.53 MB of parameters on CIFAR-10
    assert n_params(model) == 1_531_546


def test_operations_of_a_frozen_cell() -> None:
    sample = dict(zip(LABELS, (*NB201_OPS, "nor_conv_3x3")))
    with retiarii.fixed_arch(sample, verbose=False):
        model = NasBench201(stem_out_channels=4, num_modules_per_stack=1, num_labels=100)
    cell = model.cells[0]
    kinds = [type(op).__name__ for node in cell.layers for op in node]
    assert kinds == ["Zero", "Identity", "ReLUConvBN", "ReLUConvBN", "Pooling", "ReLUConvBN"]
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 100)
    assert cell.chosen_ops() == sample
    assert model.chosen_ops() == sample


def test_an_undecided_space_says_so(space: retiarii.ModelSpace) -> None:
    with pytest.raises(ValueError, match="not decided"):
        space.model.chosen_ops()


@pytest.mark.skipif(not TABLE.is_file(), reason=f"NAS-Bench-201 table not found at {TABLE}")
def test_parameter_counts_match_the_table() -> None:
    from retiarii.benchmark import arch_str_to_sample, load_nasbench201

    table = load_nasbench201(TABLE)
    rows = [table.rows[1462], table.rows[6111], *random.Random(0).sample(table.rows, 6)]
    assert table.rows[1462]["params_mb"] == pytest.approx(1.531546)
    for row in rows:
        with retiarii.fixed_arch(arch_str_to_sample(row.arch_str), verbose=False):
            model = NasBench201()
        assert n_params(model) / 1e6 == pytest.approx(row["params_mb"], abs=1e-6), row.arch_str
