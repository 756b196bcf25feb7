"""InputChoice: chosen indices, reductions, wrong call arity (frozen and unfrozen), any-subset."""

from __future__ import annotations

import pytest
import torch

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.mutable import SampleError
from retiarii.nn.pytorch import ChosenInputs, NotFrozenError


@model_wrapper
class Picker(nn.Module):
    def __init__(self, n_chosen: int | None = 1, reduction: str = "sum") -> None:
        super().__init__()
        self.pick = nn.InputChoice(
            n_candidates=3, n_chosen=n_chosen, reduction=reduction, label="pick"
        )

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.pick(xs)


def _inputs() -> list[torch.Tensor]:
    # Tensor i is filled with i + 1, shape (2, 2).
    return [torch.full((2, 2), float(i + 1)) for i in range(3)]


def _build(sample: dict, **kwargs: object) -> Picker:
    with fixed_arch(sample):
        return Picker(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reduction", "chosen", "expected"),
    [
        ("sum", [2], [[3.0, 3.0]] * 2),
        ("sum", [0, 2], [[4.0, 4.0]] * 2),
        ("mean", [0, 2], [[2.0, 2.0]] * 2),
        ("mean", [1], [[2.0, 2.0]] * 2),
        ("concat", [0, 2], [[1.0, 1.0, 3.0, 3.0]] * 2),
        ("concat", [1], [[2.0, 2.0]] * 2),
    ],
)
def test_reductions(reduction: str, chosen: list[int], expected: list, check_frozen) -> None:
    n_chosen = len(chosen)
    model = _build({"pick": chosen}, n_chosen=n_chosen, reduction=reduction)
    check_frozen(model)
    assert type(model.pick) is ChosenInputs
    assert model(_inputs()).tolist() == expected
    space = ModelSpace(Picker(n_chosen=n_chosen, reduction=reduction))
    assert space.freeze({"pick": chosen})(_inputs()).tolist() == expected


def test_reduction_none_returns_the_chosen_list() -> None:
    model = _build({"pick": [2, 0]}, n_chosen=2, reduction="none")
    out = model(_inputs())
    assert isinstance(out, list)
    assert [t[0, 0].item() for t in out] == [1.0, 3.0]  # sorted indices


def test_unknown_reduction() -> None:
    with pytest.raises(ValueError, match="reduction"):
        nn.InputChoice(n_candidates=2, reduction="max", label="r")


def test_sample_is_a_sorted_list_of_indices() -> None:
    space = ModelSpace(Picker(n_chosen=2))
    assert space.to_json() == {
        "pick": {"_type": "input_choice", "_value": {"candidates": [0, 1, 2], "n_chosen": 2}}
    }
    assert space.size == 3
    assert list(space.grid()) == [{"pick": [0, 1]}, {"pick": [0, 2]}, {"pick": [1, 2]}]
    assert space.validate({"pick": (2, 1)}) == {"pick": [1, 2]}
    for seed in range(10):
        sample = space.random(seed)
        assert sample["pick"] == sorted(sample["pick"]) and len(set(sample["pick"])) == 2


def test_n_chosen_none_means_any_non_empty_subset() -> None:
    space = ModelSpace(Picker(n_chosen=None, reduction="sum"))
    assert space.size == 7
    samples = list(space.grid())
    assert len(samples) == 7
    assert {"pick": [0, 1, 2]} in samples
    outputs = sorted(space.freeze(s)(_inputs())[0, 0].item() for s in samples)
    assert outputs == [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0]
    with pytest.raises(SampleError, match="'pick'"):
        space.validate({"pick": []})
    model = _build({"pick": [0, 1, 2]}, n_chosen=None, reduction="mean")
    assert model(_inputs())[0, 0].item() == 2.0


@pytest.mark.parametrize("bad", [[0, 1], [3], [0, 0], [], [-1]])
def test_invalid_choice_is_rejected(bad: list[int]) -> None:
    space = ModelSpace(Picker(n_chosen=1))
    with pytest.raises(SampleError, match="'pick'"):
        space.freeze({"pick": bad})
    with pytest.raises(SampleError, match="'pick'"):
        _build({"pick": bad}, n_chosen=1)


def test_wrong_number_of_tensors_unfrozen() -> None:
    space_model = Picker()
    with pytest.raises(ValueError, match=r"'pick'.*n_candidates=3.*2 tensors"):
        space_model(_inputs()[:2])
    with pytest.raises(TypeError, match=r"'pick'.*list of 3 tensors"):
        space_model(_inputs()[0])
    # The right number of tensors: not runnable yet, with instructions.
    with pytest.raises(NotFrozenError, match="fixed_arch"):
        space_model(_inputs())


def test_wrong_number_of_tensors_frozen() -> None:
    for model in (_build({"pick": [0]}), ModelSpace(Picker()).freeze({"pick": [0]})):
        with pytest.raises(ValueError, match=r"'pick'.*n_candidates=3.*4 tensors"):
            model([*_inputs(), _inputs()[0]])
        with pytest.raises(TypeError, match=r"'pick'.*list of 3 tensors"):
            model(_inputs()[0])
    # A tuple is fine.
    assert _build({"pick": [1]})(tuple(_inputs()))[0, 0].item() == 2.0


def test_n_candidates_is_required() -> None:
    with pytest.raises(ValueError, match="n_candidates is required"):
        nn.InputChoice(n_chosen=1, label="x")


def test_n_chosen_larger_than_candidates() -> None:
    with pytest.raises(ValueError, match="n_chosen"):
        nn.InputChoice(n_candidates=2, n_chosen=3, label="x")


def test_frozen_input_choice_has_no_parameters_or_state() -> None:
    model = _build({"pick": [1]})
    assert list(model.state_dict()) == []
    assert model.pick.chosen == [1]
