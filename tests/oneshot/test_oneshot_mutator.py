"""The classic Mutator API of seed 003."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch
from retiarii.nn.pytorch import InputChoice, LayerChoice
from retiarii.oneshot.pytorch import BaseMutator, Mutator, RandomMutator

from .helpers import Scale


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.LayerChoice([Scale(1.0), Scale(2.0), Scale(3.0)], label="a")
        self.b = nn.LayerChoice([Scale(1.0), Scale(2.0), Scale(3.0)], label="a")  # shares "a"
        self.inputs = nn.InputChoice(3, None, reduction="sum", label="in")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inputs([self.a(x), self.b(x), x])


# -- seed 003's example, verbatim (nni -> retiarii) -----------------------------------------------
class SeedRandomMutator(Mutator):
    def __init__(self, model):
        super().__init__(model)  # don't forget to call super
        # do something else

    def sample_search(self):
        result = dict()
        for mutable in self.mutables:  # this is all the mutable modules in user model
            # mutables share the same key will be de-duplicated
            if isinstance(mutable, LayerChoice):
                # decided that this mutable should choose `gen_index`
                gen_index = np.random.randint(mutable.length)
                result[mutable.key] = torch.tensor(
                    [i == gen_index for i in range(mutable.length)], dtype=torch.bool
                )
            elif isinstance(mutable, InputChoice):  # noqa: SIM102 (the seed's code)
                if mutable.n_chosen is None:  # n_chosen is None, then choose any number
                    result[mutable.key] = (
                        torch.randint(high=2, size=(mutable.n_candidates,)).view(-1).bool()
                    )
                # else do something else
        return result

    def sample_final(self):
        return self.sample_search()  # use the same logic here. you can do something different


def test_seed_003_random_mutator_trains_the_model_like_a_plain_model():
    np.random.seed(0)
    model = Net()
    mutator = SeedRandomMutator(model)
    assert [m.key for m in mutator.mutables] == ["a", "in"]
    assert isinstance(mutator.mutables[0], LayerChoice) and mutator.mutables[0].length == 3
    assert mutator.mutables[1].n_candidates == 3 and mutator.mutables[1].n_chosen is None
    x = torch.ones(2, 1)
    for _ in range(20):
        mutator.reset()
        masks = mutator.status()
        if not masks["in"].any():
            continue  # the seed's sampler may pick no input at all
        scale = float(torch.arange(1, 4)[masks["a"]].item())
        expected = (scale * masks["in"][0] + scale * masks["in"][1] + masks["in"][2]).item()
        assert model(x)[0, 0].item() == pytest.approx(expected)
    exported = mutator.export()
    assert set(exported) == {"a", "in"} and exported["a"].dtype == torch.bool


def test_an_input_choice_whose_mask_selects_nothing_returns_none():
    # NNI's classic mutator: no chosen input gives None, which ENAS-style cells test for.
    class Skip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inputs = nn.InputChoice(2, None, reduction="sum", label="in")
            self.listed = nn.InputChoice(2, None, reduction="none", label="listed")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.inputs([x, 2 * x])
            assert self.listed([x, x]) == []
            return x if out is None else out

    class Nothing(Mutator):
        def sample_search(self):
            return {"in": torch.zeros(2, dtype=torch.bool), "listed": torch.zeros(2).bool()}

        def sample_final(self):
            return self.sample_search()

    model = Skip()
    mutator = Nothing(model)
    mutator.reset()
    x = torch.ones(1, 1)
    assert model(x).item() == 1.0  # the model saw None and fell back to x


def test_float_masks_weight_the_candidates_and_reduce_with_the_reduction():
    class Weighted(Mutator):
        def sample_search(self):
            return {"a": torch.tensor([0.5, 0.0, 0.25]), "in": torch.tensor([1.0, 0.0, 2.0])}

        sample_final = sample_search

    model = Net()
    mutator = Weighted(model)
    mutator.reset()
    a = 0.5 * 1 + 0.25 * 3  # layer choices sum their (weighted) candidates
    assert model(torch.ones(1, 1)).item() == pytest.approx(1.0 * a + 2.0 * 1)
    assert mutator.export_sample() == {"a": 0, "in": [0, 2]}


def test_random_mutator_samples_are_valid_and_freeze():
    model = Net()
    mutator = RandomMutator(model, seed=1)
    space = ModelSpace(Net())
    for _ in range(10):
        mutator.reset()
        model(torch.ones(1, 1))
        sample = mutator.export_sample()
        assert space.validate(sample) == sample
    assert isinstance(ModelSpace(model).freeze(sample).a, Scale)  # the bound model is a space


def test_base_mutator_hooks_receive_the_model_choices():
    calls = []

    class Recording(BaseMutator):
        def on_forward_layer_choice(self, mutable, *inputs):
            calls.append(mutable.key)
            return mutable[1](*inputs), None

        def on_forward_input_choice(self, mutable, tensor_list):
            calls.append(mutable.key)
            return tensor_list[2], None

    model = Net()
    Recording(model)
    assert model(torch.ones(1, 1)).item() == 1.0
    assert calls == ["a", "a", "in"]


def test_binding_twice_or_rebinding_is_an_error():
    model = Net()
    mutator = RandomMutator(model)
    with pytest.raises(RuntimeError, match="already bound"):
        RandomMutator(model)
    with pytest.raises(AttributeError, match="binds to one model"):
        mutator.model = Net()
    assert list(mutator.parameters()) == []  # the model is not a submodule of the mutator


def test_missing_or_malformed_decisions_raise_clearly():
    model = Net()
    RandomMutator(model)
    with pytest.raises(KeyError, match=r"call mutator\.reset\(\)"):
        model(torch.ones(1, 1))

    class Bad(Mutator):
        def sample_search(self):
            return {"a": torch.tensor([1, 0]), "in": [True, False, True]}

    bad_model = Net()
    bad = Bad(bad_model)
    bad.reset()
    with pytest.raises(ValueError, match="has 2 entries, expected 3"):
        bad_model(torch.ones(1, 1))


def test_exported_sample_builds_with_fixed_arch():
    from retiarii import model_wrapper

    @model_wrapper
    class Wrapped(Net):
        pass

    mutator = RandomMutator(Wrapped(), seed=0)
    with fixed_arch(mutator.export_sample(), verbose=False):
        frozen = Wrapped()
    assert frozen(torch.ones(1, 1)).shape == (1, 1)
