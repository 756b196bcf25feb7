"""ValueChoice in a model space: layer arguments (with expressions and tuples), @basic_unit
modules, plain attributes used in forward, nested choices, and shared labels."""

from __future__ import annotations

import pytest
import torch
import torch.nn as tnn

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, basic_unit, fixed_arch, model_wrapper
from retiarii.mutable import LabelConflictError, SampleError
from retiarii.nn.pytorch import NotFrozenError


def _fixed(cls: type, sample: dict, *args: object) -> tnn.Module:
    with fixed_arch(sample):
        return cls(*args)


# -- layer arguments -------------------------------------------------------------------------


@model_wrapper
class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        k = nn.ValueChoice([1, 3, 5], label="k")
        width = nn.ValueChoice([8, 16], label="width")
        self.conv = nn.Conv2d(3, width, kernel_size=k, padding=k // 2)
        self.rect = nn.Conv2d(
            width,
            width * 2,
            kernel_size=nn.ValueChoice([(1, 3), (3, 1)], label="shape"),
            padding=nn.ValueChoice([(0, 1), (1, 0)], label="pad"),
        )
        self.bn = nn.BatchNorm2d(width * 2)
        self.drop = nn.Dropout(p=nn.ValueChoice([0.0, 0.5], label="p"))
        self.fc = nn.Linear(width * 2, 10, bias=nn.ValueChoice([True, False], label="bias"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.rect(self.conv(x)))
        return self.fc(self.drop(x).mean((2, 3)))


GOOD = {"k": 5, "width": 16, "shape": [3, 1], "pad": [1, 0], "p": 0.5, "bias": False}


def test_layer_arguments_become_decisions() -> None:
    space = ModelSpace(ConvNet())
    # Labels in the order the walk meets them (positional arguments first).
    assert space.labels == ["width", "k", "shape", "pad", "p", "bias"]
    assert space.size == 3 * 2 * 2 * 2 * 2 * 2
    assert space.to_json()["shape"] == {"_type": "choice", "_value": [[1, 3], [3, 1]]}


def test_layer_with_choices_is_built_with_the_largest_candidate() -> None:
    # Weight-sharing supernets slice the biggest weight, so the space holds it.
    model = ConvNet()
    assert model.conv.weight.shape == (16, 3, 5, 5)
    assert model.fc.in_features == 32


def test_layer_with_undecided_arguments_cannot_run() -> None:
    model = ConvNet()
    with pytest.raises(NotFrozenError, match=r"labels \['k', 'width'\].*fixed_arch"):
        model.conv(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize("build", ["freeze", "fixed_arch"])
def test_frozen_layer_arguments(build: str, check_frozen, check_trains) -> None:
    model = ModelSpace(ConvNet()).freeze(GOOD) if build == "freeze" else _fixed(ConvNet, GOOD)
    check_frozen(model)
    assert type(model.conv) is tnn.Conv2d
    assert model.conv.weight.shape == (16, 3, 5, 5)
    assert model.conv.padding == (2, 2)
    assert model.rect.kernel_size == (3, 1)
    assert model.rect.padding == (1, 0)
    assert model.rect.weight.shape == (32, 16, 3, 1)
    assert type(model.bn) is tnn.BatchNorm2d and model.bn.num_features == 32
    assert type(model.drop) is tnn.Dropout and model.drop.p == 0.5
    assert model.fc.bias is None
    assert list(model.state_dict()) == [
        "conv.weight",
        "conv.bias",
        "rect.weight",
        "rect.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
        "fc.weight",
    ]
    check_trains(model, torch.randn(2, 3, 8, 8))


def test_every_conv_sample_runs() -> None:
    space = ModelSpace(ConvNet())
    x = torch.randn(1, 3, 6, 6)
    for sample in space.grid():
        out = space.freeze(sample)(x)
        assert out.shape == (1, 10)


def test_plain_torch_layers_are_untouched_by_retiarii() -> None:
    layer = nn.Linear(3, 4)
    assert isinstance(layer, tnn.Linear)
    assert layer(torch.randn(2, 3)).shape == (2, 4)
    assert ModelSpace(layer).size == 1
    assert type(ModelSpace(layer).freeze({})) is tnn.Linear


def test_wrong_value_for_a_layer_argument_names_the_label() -> None:
    space = ModelSpace(ConvNet())
    with pytest.raises(SampleError, match=r"'k'.*\[1, 3, 5\]"):
        space.freeze({**GOOD, "k": 7})
    with pytest.raises(SampleError, match=r"'k'.*\[1, 3, 5\]"):
        _fixed(ConvNet, {**GOOD, "k": 7})


def test_shared_label_in_two_linears() -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(10, nn.ValueChoice([32, 64, 128], label="hidden_dim")),
                nn.Linear(nn.ValueChoice([32, 64, 128], label="hidden_dim"), 3),
            )

    space = ModelSpace(Net())
    assert space.labels == ["hidden_dim"]
    for sample in space.grid():
        model = space.freeze(sample)
        assert model.net[0].out_features == model.net[1].in_features == sample["hidden_dim"]
        assert model.net(torch.randn(2, 10)).shape == (2, 3)


def test_shared_label_with_different_candidates_conflicts() -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(10, nn.ValueChoice([32, 64], label="hidden_dim"))
            self.b = nn.Linear(nn.ValueChoice([32, 128], label="hidden_dim"), 3)

    with pytest.raises(LabelConflictError, match="'hidden_dim'"):
        ModelSpace(Net())


def test_invalid_representative_combination_falls_back_to_first_candidates() -> None:
    # The largest candidates (groups=4, channels=6) are invalid together; the first ones work.
    conv = nn.Conv2d(
        4,
        nn.ValueChoice([4, 6], label="c"),
        3,
        groups=nn.ValueChoice([1, 4], label="g"),
    )
    assert conv.weight.shape == (4, 4, 3, 3)
    frozen = ModelSpace(conv).freeze({"c": 6, "g": 1})
    assert frozen.weight.shape == (6, 4, 3, 3)


def test_impossible_layer_arguments_raise_at_construction() -> None:
    with pytest.raises(TypeError, match="Conv2d"):
        nn.Conv2d(3, 4, kernel_size=nn.ValueChoice(["big", "small"], label="ks"))


# -- @basic_unit ----------------------------------------------------------------------------------------


BUILT: list[tuple[int, float]] = []


@basic_unit
class ScaledLinear(nn.Module):
    def __init__(self, width: int, scale: float = 1.0) -> None:
        super().__init__()
        BUILT.append((width, scale))
        assert isinstance(width, int)  # user code sees plain values
        self.lin = nn.Linear(4, width)
        self.width = width
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * self.scale


@model_wrapper
class UnitNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        width = nn.ValueChoice([8, 16], label="width")
        self.unit = ScaledLinear(width, scale=nn.ValueChoice([0.5, 2.0], label="scale"))
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.unit(x))


@pytest.mark.parametrize("build", ["freeze", "fixed_arch"])
def test_basic_unit_is_rebuilt_with_frozen_arguments(
    build: str, check_frozen, check_trains
) -> None:
    sample = {"width": 8, "scale": 2.0}
    model = ModelSpace(UnitNet()).freeze(sample) if build == "freeze" else _fixed(UnitNet, sample)
    check_frozen(model)
    assert type(model.unit) is ScaledLinear
    assert type(model.unit.lin) is tnn.Linear
    assert model.unit.width == 8 and model.unit.scale == 2.0
    assert model.unit.lin.weight.shape == (8, 4)
    assert model.head.weight.shape == (2, 8)
    assert list(model.state_dict()) == [
        "unit.lin.weight",
        "unit.lin.bias",
        "head.weight",
        "head.bias",
    ]
    check_trains(model, torch.randn(3, 4))


def test_basic_unit_is_built_once_inside_fixed_arch() -> None:
    BUILT.clear()
    _fixed(UnitNet, {"width": 16, "scale": 0.5})
    assert BUILT == [(16, 0.5)]


def test_basic_unit_arguments_are_recorded() -> None:
    unit = ScaledLinear(8, scale=0.5)
    assert retiarii.get_init_args(unit) == (ScaledLinear, (8,), {"scale": 0.5})
    assert ModelSpace(unit).size == 1


def test_basic_unit_labels_and_unfrozen_forward() -> None:
    space = ModelSpace(UnitNet())
    assert space.labels == ["width", "scale"]
    with pytest.raises(NotFrozenError, match="fixed_arch"):
        space.model(torch.randn(1, 4))


def test_blackbox_module_is_basic_unit() -> None:
    assert retiarii.blackbox_module is basic_unit


def test_subclassing_a_layer_with_choices_requires_basic_unit() -> None:
    class MyLinear(nn.Linear):
        pass

    layer = MyLinear(4, nn.ValueChoice([2, 3], label="out"))
    with pytest.raises(TypeError, match="basic_unit"):
        ModelSpace(layer).freeze({"out": 2})


# -- plain attributes ----------------------------------------------------------------------------------


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.factor = nn.ValueChoice([1.0, 3.0], label="factor")
        self.mode = nn.ValueChoice(["add", "mul"], label="mode")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor if self.mode == "mul" else x + self.factor


@model_wrapper
class AttrNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = Scale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(x)


@pytest.mark.parametrize("build", ["freeze", "fixed_arch"])
def test_choice_stored_as_attribute_is_frozen_to_its_value(build: str, check_frozen) -> None:
    sample = {"factor": 3.0, "mode": "mul"}
    model = ModelSpace(AttrNet()).freeze(sample) if build == "freeze" else _fixed(AttrNet, sample)
    check_frozen(model)
    assert model.scale.factor == 3.0
    assert model.scale.mode == "mul"
    assert model(torch.ones(2)).tolist() == [3.0, 3.0]


def test_attribute_choices_are_part_of_the_space() -> None:
    space = ModelSpace(AttrNet())
    assert space.labels == ["factor", "mode"]
    assert space.size == 4
    outputs = sorted(space.freeze(s)(torch.ones(1)).item() for s in space.grid())
    assert outputs == [1.0, 2.0, 3.0, 4.0]


def test_choice_in_a_structure_attribute() -> None:
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cfg = {"depth": nn.ValueChoice([1, 2], label="depth"), "name": "x"}
            self.dims = [nn.ValueChoice([4, 8], label="dim") * 2, 3]

    model = ModelSpace(Holder()).freeze({"depth": 2, "dim": 8})
    assert model.cfg == {"depth": 2, "name": "x"}
    assert model.dims == [16, 3]


# -- nested choices ---------------------------------------------------------------------------------------


def test_value_choice_of_value_choices() -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            small = nn.ValueChoice([2, 4], label="small")
            big = nn.ValueChoice([32, 64], label="big")
            self.fc = nn.Linear(3, nn.ValueChoice([small, big], label="size"))

    space = ModelSpace(Net())
    assert space.labels == ["size", "small", "big"]
    assert space.to_json()["size"] == {"_type": "choice", "_value": [0, 1]}  # chosen by index
    outs = sorted({space.freeze(s).fc.out_features for s in space.grid()})
    assert outs == [2, 4, 32, 64]
    assert space.freeze({"size": 1, "small": 2, "big": 64}).fc.out_features == 64
    with fixed_arch({"size": 0, "small": 4, "big": 32}):
        built = Net()
    assert built.fc.out_features == 4


def test_value_choice_inside_layer_choice_candidates(check_frozen) -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.LayerChoice(
                [nn.Linear(4, nn.ValueChoice([4, 8], label="inner")), nn.Identity()], label="op"
            )

    space = ModelSpace(Net())
    assert space.labels == ["op", "inner"]
    model = space.freeze({"op": 0, "inner": 8})
    check_frozen(model)
    assert type(model.op) is tnn.Linear and model.op.out_features == 8
    # A label inside an unchosen candidate is still part of every sample of the space.
    assert type(space.freeze({"op": 1, "inner": 4}).op) is tnn.Identity
    with pytest.raises(SampleError, match="'inner'"):
        space.freeze({"op": 1})
