"""LayerChoice: candidates as a list, a dict or factories; NNI's container API; freezing."""

from __future__ import annotations

from collections import Counter, OrderedDict

import pytest
import torch
import torch.nn as tnn

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.mutable import LabelConflictError, SampleError
from retiarii.nn.pytorch import NotFrozenError


def _list_choice(label: str | None = "op") -> nn.LayerChoice:
    return nn.LayerChoice([nn.Linear(4, 4), nn.ReLU(), nn.Identity()], label=label)


def _dict_choice() -> nn.LayerChoice:
    return nn.LayerChoice(
        OrderedDict(lin=nn.Linear(4, 4), relu=nn.ReLU(), tanh=nn.Tanh()), label="act"
    )


# -- container API (what one-shot trainers and seed 001 rely on) ----------------------------------


def test_label_and_key() -> None:
    choice = _list_choice()
    assert choice.label == "op"
    assert choice.key == "op"


def test_list_candidates_api() -> None:
    choice = _list_choice()
    assert len(choice) == 3
    # In the space, candidates are retiarii's layer classes: subclasses of torch's.
    assert [type(m) for m in choice] == [nn.Linear, nn.ReLU, nn.Identity]
    assert isinstance(choice[0], tnn.Linear)
    assert choice[-1] is choice[2]
    assert choice["1"] is choice[1]
    assert [name for name, _ in choice.named_children()] == ["0", "1", "2"]
    assert choice.candidates == list(choice)


def test_dict_candidates_api() -> None:
    choice = _dict_choice()
    assert len(choice) == 3
    assert [name for name, _ in choice.named_children()] == ["lin", "relu", "tanh"]
    assert isinstance(choice["relu"], tnn.ReLU)
    assert choice[1] is choice["relu"]
    assert [type(m) for m in choice] == [nn.Linear, nn.ReLU, nn.Tanh]


def test_module_dict_from_named_children_as_in_seed_001() -> None:
    # DartsLayerChoice: nn.ModuleDict(layer_choice.named_children()), indexed by the sample value.
    for choice in (_list_choice(), _dict_choice()):
        ops = tnn.ModuleDict(choice.named_children())
        sample_values = ModelSpace(choice).to_json()[choice.label]["_value"]
        assert list(ops.keys()) == [str(v) for v in sample_values]
        for name, module in ops.items():
            assert module is choice[name]
    # Parameters of candidates are registered under the candidate names.
    assert {n for n, _ in _list_choice().named_parameters()} == {"0.weight", "0.bias"}
    assert {n for n, _ in _dict_choice().named_parameters()} == {"lin.weight", "lin.bias"}


def test_sample_values_are_candidate_names() -> None:
    assert ModelSpace(_list_choice()).to_json() == {
        "op": {"_type": "layer_choice", "_value": [0, 1, 2]}
    }
    assert ModelSpace(_dict_choice()).to_json() == {
        "act": {"_type": "layer_choice", "_value": ["lin", "relu", "tanh"]}
    }


def test_invalid_candidates() -> None:
    with pytest.raises(ValueError, match="empty"):
        nn.LayerChoice([], label="e")
    with pytest.raises(ValueError, match=r"'\.'"):
        nn.LayerChoice({"a.b": nn.ReLU()}, label="dot")
    with pytest.raises(TypeError, match="neither"):
        nn.LayerChoice([nn.ReLU(), 3], label="n")
    with pytest.raises(TypeError, match="not a Module"):
        nn.LayerChoice([nn.ReLU, lambda: 3], label="f")


def test_unfrozen_forward_raises_with_instructions() -> None:
    with pytest.raises(NotFrozenError, match=r"'op'.*fixed_arch"):
        _list_choice()(torch.randn(2, 4))


# -- freezing --------------------------------------------------------------------------------------


@model_wrapper
class ListNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(3, 4)
        self.op = _list_choice()
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.op(self.stem(x)))


@model_wrapper
class DictNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = _dict_choice()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x)


@pytest.mark.parametrize(
    ("value", "expected", "keys"),
    [
        (
            0,
            tnn.Linear,
            ["stem.weight", "stem.bias", "op.weight", "op.bias", "head.weight", "head.bias"],
        ),
        (1, tnn.ReLU, ["stem.weight", "stem.bias", "head.weight", "head.bias"]),
        (2, tnn.Identity, ["stem.weight", "stem.bias", "head.weight", "head.bias"]),
    ],
)
def test_freeze_list_choice(
    value: int, expected: type, keys: list[str], check_frozen, check_trains
) -> None:
    space = ModelSpace(ListNet())
    for model in (space.freeze({"op": value}), _fixed(ListNet, {"op": value})):
        check_frozen(model)
        assert type(model.op) is expected
        assert list(model.state_dict()) == keys
        check_trains(model, torch.randn(5, 3))


@pytest.mark.parametrize(
    ("name", "expected"), [("lin", tnn.Linear), ("relu", tnn.ReLU), ("tanh", tnn.Tanh)]
)
def test_freeze_dict_choice(name: str, expected: type, check_frozen) -> None:
    space = ModelSpace(DictNet())
    model = space.freeze({"act": name})
    check_frozen(model)
    assert type(model.act) is expected
    with fixed_arch({"act": name}):
        built = DictNet()
    assert type(built.act) is type(model.act)


def test_freeze_rejects_index_for_a_dict_choice() -> None:
    space = ModelSpace(DictNet())
    with pytest.raises(SampleError, match=r"'act'.*'lin', 'relu', 'tanh'"):
        space.freeze({"act": 0})


def _fixed(cls: type, sample: dict) -> tnn.Module:
    with fixed_arch(sample):
        return cls()


# -- factory candidates -----------------------------------------------------------------------------


factory_calls: Counter[str] = Counter()


def _counting(name: str, make):
    def factory() -> tnn.Module:
        factory_calls[name] += 1
        return make()

    return factory


@model_wrapper
class FactoryNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op = nn.LayerChoice(
            {
                "lin": _counting("lin", lambda: nn.Linear(4, 4)),
                "relu": _counting("relu", nn.ReLU),
                "wide": _counting("wide", lambda: nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 4))),
            },
            label="op",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def test_factories_are_all_called_in_a_space() -> None:
    factory_calls.clear()
    space = ModelSpace(FactoryNet())
    assert factory_calls == {"lin": 1, "relu": 1, "wide": 1}
    assert [type(m) for m in space.model.op] == [nn.Linear, nn.ReLU, tnn.Sequential]


@pytest.mark.parametrize("name", ["lin", "relu", "wide"])
def test_fixed_arch_calls_only_the_chosen_factory(
    name: str, check_frozen, check_same_architecture
) -> None:
    factory_calls.clear()
    with fixed_arch({"op": name}):
        model = FactoryNet()
    assert factory_calls == {name: 1}
    check_frozen(model)
    check_same_architecture(model, ModelSpace(FactoryNet()).freeze({"op": name}))
    assert model(torch.randn(2, 4)).shape == (2, 4)


def test_factory_classes_are_called() -> None:
    choice = nn.LayerChoice([nn.ReLU, nn.Tanh], label="cls")
    assert [type(m) for m in choice] == [nn.ReLU, nn.Tanh]


def test_factory_choices_get_their_own_labels() -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.LayerChoice(
                {"a": lambda: nn.Linear(4, nn.ValueChoice([4, 8])), "b": nn.Identity}
            )
            self.after = nn.Linear(4, nn.ValueChoice([2, 3]))

    assert ModelSpace(Net()).labels == [
        "model_1",
        "model_1/a/model_1",
        "model_2",
    ]


def test_skipping_a_factory_does_not_renumber_later_labels(check_same_architecture) -> None:
    # Choices built after a LayerChoice keep their labels whether or not fixed_arch skipped the
    # factories that create choices of their own.
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = nn.LayerChoice(
                [lambda: nn.LayerChoice([nn.ReLU(), nn.Tanh()]), nn.Identity]
            )
            self.second = nn.LayerChoice([nn.Sigmoid(), nn.Tanh()])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.second(self.first(x))

    space = ModelSpace(Net())
    for sample in space.grid():
        with fixed_arch(sample):
            built = Net()
        check_same_architecture(built, space.freeze(sample))


# -- shared labels and shared modules ----------------------------------------------------------------


def test_layer_choices_with_a_shared_label_decide_together(check_frozen) -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.LayerChoice([nn.Linear(4, 4), nn.ReLU()], label="shared")
            self.b = nn.LayerChoice([nn.Linear(4, 4), nn.Tanh()], label="shared")

    space = ModelSpace(Net())
    assert space.labels == ["shared"]
    model = space.freeze({"shared": 1})
    check_frozen(model)
    assert (type(model.a), type(model.b)) == (tnn.ReLU, tnn.Tanh)
    with fixed_arch({"shared": 0}):
        built = Net()
    assert (type(built.a), type(built.b)) == (tnn.Linear, tnn.Linear)


def test_layer_choices_with_a_shared_label_but_different_names_conflict() -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.LayerChoice([nn.Linear(4, 4), nn.ReLU()], label="shared")
            self.b = nn.LayerChoice([nn.Linear(4, 4), nn.ReLU(), nn.Tanh()], label="shared")

    with pytest.raises(LabelConflictError, match="'shared'"):
        ModelSpace(Net())


def test_a_module_shared_by_two_places_is_frozen_once() -> None:
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            shared = nn.Linear(nn.ValueChoice([4, 6], label="w"), 4)
            self.a = nn.LayerChoice([shared, nn.Identity()], label="x")
            self.b = nn.LayerChoice([shared, nn.ReLU()], label="y")
            self.c = shared

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(x) + self.c(x)

    space = ModelSpace(Net())
    model = space.freeze({"w": 6, "x": 0, "y": 0})
    assert model.a is model.b is model.c
    assert type(model.a) is tnn.Linear
    assert model.a.in_features == 6
    # Parameters shared once: named_parameters (which deduplicates) finds one weight.
    assert len(list(model.parameters())) == 2
