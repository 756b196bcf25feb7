"""fixed_arch and @model_wrapper: errors that name the label or file, deterministic labels,
reproducible samples, and agreement with ModelSpace.freeze for every sample of a space."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as tnn

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.mutable import SampleError


class Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op = nn.LayerChoice([nn.Linear(4, 4), nn.ReLU()])
        self.fc = nn.Linear(4, nn.ValueChoice([4, 8]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.op(x))


@model_wrapper
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = Inner()
        self.mid = nn.Linear(nn.ValueChoice([4, 8], label="model_2"), 4)
        self.b = nn.LayerChoice([nn.Tanh(), nn.Sigmoid()])
        self.pick = nn.InputChoice(n_candidates=2, n_chosen=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mid(self.a(x))
        return self.pick([self.b(x), x])


LABELS = ["model_1", "model_2", "model_3", "model_4"]
SAMPLE = {"model_1": 0, "model_2": 8, "model_3": 1, "model_4": [0]}


def _build(sample: object) -> tnn.Module:
    with fixed_arch(sample):  # type: ignore[arg-type]
        return Net()


# -- labels ------------------------------------------------------------------------------------------


def test_automatic_labels_restart_for_every_construction() -> None:
    first = ModelSpace(Net()).labels
    ModelSpace(Net())  # building others in between does not matter
    nn.LayerChoice([nn.ReLU(), nn.Tanh()])  # nor do choices built outside a model
    assert ModelSpace(Net()).labels == first == LABELS


def test_explicit_label_shares_the_decision_with_an_automatic_one() -> None:
    # The explicit "model_2" equals the automatic label of Inner.fc's choice: one decision.
    space = ModelSpace(Net())
    model = space.freeze(SAMPLE)
    assert model.a.fc.out_features == model.mid.in_features == 8


def test_nested_model_wrapper_numbers_under_its_own_number() -> None:
    @model_wrapper
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.LayerChoice([nn.ReLU(), nn.Tanh()])

    @model_wrapper
    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = Block()
            self.second = Block()

    assert Block().op.label == "model_1"
    space = ModelSpace(Outer())
    # NNI 2.x: each nested @model_wrapper takes a number and numbers its own choices under it.
    assert space.labels == ["model_1_1", "model_2_1"]
    with fixed_arch({"model_1_1": 1, "model_2_1": 0}):
        model = Outer()
    assert (type(model.first.op), type(model.second.op)) == (tnn.Tanh, tnn.ReLU)


def test_model_wrapper_keeps_the_class() -> None:
    model = _build(SAMPLE)
    assert type(model) is Net
    assert isinstance(model, tnn.Module)
    assert Net.__name__ == "Net"
    with pytest.raises(TypeError, match="model_wrapper"):
        model_wrapper(object)  # type: ignore[type-var]


# -- agreement with ModelSpace.freeze ---------------------------------------------------------------


def test_fixed_arch_matches_freeze_for_every_sample(check_frozen, check_same_architecture) -> None:
    space = ModelSpace(Net())
    assert space.size == 2**4
    for sample in space.grid():
        built = _build(sample)
        check_frozen(built)
        check_same_architecture(built, space.freeze(sample))
        assert built(torch.randn(2, 4)).shape == (2, 4)


class Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.s = nn.ValueChoice([1.0, 2.0], label="scale")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.s


@model_wrapper
class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op = nn.LayerChoice([Scaled(), nn.Identity()], label="op")
        inner = nn.ValueChoice([1, 2], label="inner")
        self.k = nn.ValueChoice([inner, 10], label="k")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x) * self.k


def test_fixed_arch_accepts_every_sample_of_the_space(check_same_architecture) -> None:
    # Labels inside an unchosen candidate, or an unchosen branch of a nested choice, are part of
    # every sample the space produces; fixed_arch must accept them.
    space = ModelSpace(Branchy())
    assert space.labels == ["k", "inner", "op", "scale"]
    for sample in space.grid():
        with fixed_arch(sample):
            built = Branchy()
        frozen = space.freeze(sample)
        check_same_architecture(built, frozen)
        assert built.k == frozen.k
        x = torch.ones(2)
        assert torch.equal(built(x), frozen(x))


def test_fixed_arch_checks_values_in_unchosen_branches() -> None:
    good = {"k": 1, "inner": 2, "op": 1, "scale": 2.0}
    with (
        pytest.raises(SampleError, match=r"'scale'.*\[1\.0, 2\.0\]"),
        fixed_arch({**good, "scale": 3.0}),
    ):
        Branchy()
    with pytest.raises(SampleError, match=r"'inner'"), fixed_arch({**good, "inner": 5}):
        Branchy()
    with pytest.raises(SampleError, match=r"'typo'"), fixed_arch({**good, "typo": 1}):
        Branchy()


def test_fixed_arch_accepts_canonically_equal_values() -> None:
    model = _build({**SAMPLE, "model_2": 8.0, "model_4": 0})
    assert model.mid.in_features == 8
    assert isinstance(model.mid.in_features, int)
    assert model.pick.chosen == [0]


def test_json_round_trip_of_samples() -> None:
    space = ModelSpace(Net())
    for seed in range(5):
        sample = space.random(seed)
        decoded = json.loads(json.dumps(sample))
        assert space.validate(decoded) == space.validate(sample)
        assert list(_build(decoded).state_dict()) == list(space.freeze(sample).state_dict())


def test_random_is_reproducible_across_constructions() -> None:
    assert [ModelSpace(Net()).random(s) for s in range(5)] == [
        ModelSpace(Net()).random(s) for s in range(5)
    ]
    samples = {json.dumps(ModelSpace(Net()).random(s), sort_keys=True) for s in range(30)}
    assert len(samples) > 5


def test_frozen_model_pickles() -> None:
    model = _build(SAMPLE)
    clone = pickle.loads(pickle.dumps(model))
    assert type(clone) is Net
    x = torch.randn(2, 4)
    torch.testing.assert_close(clone(x), model(x))


# -- errors ----------------------------------------------------------------------------------------------


def test_missing_label_is_named() -> None:
    sample = dict(SAMPLE)
    del sample["model_3"]
    with pytest.raises(SampleError, match="'model_3'"):
        _build(sample)


def test_missing_value_choice_label_is_named() -> None:
    sample = dict(SAMPLE)
    del sample["model_2"]
    with pytest.raises(SampleError, match="'model_2'"):
        _build(sample)


def test_unknown_label_is_named() -> None:
    with pytest.raises(SampleError, match=r"'hidden_dim'"):
        _build({**SAMPLE, "hidden_dim": 64})


def test_value_not_a_candidate_lists_the_allowed_values() -> None:
    with pytest.raises(SampleError, match=r"'model_2'.*\[4, 8\]"):
        _build({**SAMPLE, "model_2": 16})
    with pytest.raises(SampleError, match=r"'model_1'.*\[0, 1\]"):
        _build({**SAMPLE, "model_1": 2})
    with pytest.raises(SampleError, match="'model_4'"):
        _build({**SAMPLE, "model_4": [0, 1]})


def test_sample_must_be_a_dict_or_a_path() -> None:
    with pytest.raises((SampleError, TypeError)):
        _build([("model_1", 0)])


def test_fixed_arch_from_a_json_file(tmp_path: Path, check_same_architecture) -> None:
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(SAMPLE))
    check_same_architecture(_build(path), _build(SAMPLE))
    check_same_architecture(_build(str(path)), _build(SAMPLE))


@pytest.mark.parametrize("content", ["[0, 1]", '"model_1"', "{not json"])
def test_fixed_arch_json_path_that_is_not_a_sample(tmp_path: Path, content: str) -> None:
    path = tmp_path / "model_code.json"
    path.write_text(content)
    with pytest.raises(SampleError, match=r"model_code\.json"):
        _build(path)


def test_fixed_arch_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        _build(tmp_path / "nowhere.json")


def test_fixed_arch_without_model_wrapper_warns() -> None:
    class Plain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="op")

    with pytest.warns(UserWarning, match="model_wrapper"), fixed_arch({"op": 0}):
        Plain()


def test_fixed_arch_with_a_plain_model_does_not_warn() -> None:
    @model_wrapper
    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fixed_arch({}):
            model = Fixed()
    assert type(model.fc) is tnn.Linear


def test_fixed_arch_context_is_reset_after_the_block() -> None:
    _build(SAMPLE)
    space_again = Net()  # outside the block: a space again
    assert isinstance(space_again.b, nn.LayerChoice)
    with pytest.raises(SampleError):
        _build({})
    assert isinstance(Net().b, nn.LayerChoice)
