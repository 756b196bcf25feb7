"""Property-based tests over small random model spaces.

A space is a stack of blocks, each one of: a LayerChoice of same-width ops (list or dict, modules
or factories), a Linear whose out_features is a ValueChoice (feeding everything after it), an
InputChoice over earlier activations of the current width, or a Repeat (1..3) of a block. For any
such space: samples validate and survive JSON, freezing is deterministic, fixed_arch builds the
same network as ModelSpace.freeze, the frozen network trains, and the grid and size agree.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper

OPS = {
    "linear": lambda w: nn.Linear(w, w),
    "relu": lambda w: nn.ReLU(),
    "tanh": lambda w: nn.Tanh(),
    "identity": lambda w: nn.Identity(),
}

layer_block = st.tuples(
    st.just("layer"),
    st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=4, unique=True),
    st.booleans(),  # as a dict (names) or a list (indices)
    st.booleans(),  # candidates as factories or as modules
)
width_block = st.tuples(
    st.just("width"), st.lists(st.integers(2, 6), min_size=1, max_size=3, unique=True)
)
input_block = st.tuples(
    st.just("input"), st.sampled_from(["one", "all", "any"]), st.sampled_from(["sum", "mean"])
)
repeat_block = st.tuples(
    st.just("repeat"), st.sampled_from(["module", "factory", "list"]), st.booleans()
)
plans = st.lists(st.one_of(layer_block, width_block, input_block, repeat_block), max_size=5)


def _layer_choice(names: list[str], as_dict: bool, factories: bool, width: Any) -> nn.LayerChoice:
    def make(name: str) -> Any:
        return (lambda: OPS[name](width)) if factories else OPS[name](width)

    if as_dict:
        return nn.LayerChoice({name: make(name) for name in names})
    return nn.LayerChoice([make(name) for name in names])


@model_wrapper
class Stack(nn.Module):
    """A model space built from a plan; forward adds every InputChoice to the running tensor so
    that every parameter of the frozen network is on the path to the output."""

    def __init__(self, plan: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.stem = nn.Linear(3, 4)
        width: Any = 4
        token = 0  # which activations share a width
        tokens = [token]
        self.kinds: list[str] = []
        self.same_width: list[list[int]] = []
        blocks = []
        for spec in plan:
            kind = spec[0]
            same: list[int] = []
            if kind == "layer":
                block = _layer_choice(spec[1], spec[2], spec[3], width)
            elif kind == "width":
                new_width = nn.ValueChoice(spec[1])
                block = nn.Linear(width, new_width)
                width, token = new_width, token + 1
            elif kind == "input":
                same = [i for i, t in enumerate(tokens) if t == token]
                n = len(same)
                n_chosen = {"one": 1, "all": n, "any": None}[spec[1]]
                block = nn.InputChoice(n_candidates=n, n_chosen=n_chosen, reduction=spec[2])
            else:
                block = self._repeat(spec[1], spec[2], width)
            self.kinds.append(kind)
            self.same_width.append(same)
            blocks.append(block)
            tokens.append(token)
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width, 2)

    @staticmethod
    def _repeat(kind: str, with_choice: bool, width: Any) -> nn.Repeat:
        def make() -> nn.Module:
            if with_choice:
                return nn.LayerChoice([nn.Linear(width, width), nn.Tanh()])
            return nn.Sequential(nn.Linear(width, width), nn.ReLU())

        if kind == "module":
            return nn.Repeat(make(), (1, 3))
        if kind == "factory":
            return nn.Repeat(make, (1, 3))
        return nn.Repeat([make() for _ in range(3)], (1, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        acts = [x]
        for kind, same, block in zip(self.kinds, self.same_width, self.blocks):
            x = x + block([acts[i] for i in same]) if kind == "input" else block(x)
            acts.append(x)
        return self.head(x)


def _arch(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def _size_from_json(spec: dict[str, dict[str, Any]]) -> int:
    size = 1
    for entry in spec.values():
        if entry["_type"] == "input_choice":
            n = len(entry["_value"]["candidates"])
            k = entry["_value"]["n_chosen"]
            size *= 2**n - 1 if k is None else math.comb(n, k)
        else:
            size *= len(entry["_value"])
    return size


@settings(max_examples=25, deadline=None)
@given(plan=plans, seed=st.integers(0, 2**16))
def test_random_spaces(plan: list[tuple[Any, ...]], seed: int, check_frozen, check_trains) -> None:
    space = ModelSpace(Stack(plan))
    # Labels are deterministic: the same plan builds the same space.
    again = ModelSpace(Stack(plan))
    assert again.labels == space.labels
    assert again.to_json() == space.to_json()

    # The NNI JSON round-trips and agrees with the exact size.
    spec = space.to_json()
    assert json.loads(json.dumps(spec)) == spec
    assert _size_from_json(spec) == space.size

    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(seed))
    for offset in range(2):
        sample = space.random(seed + offset)
        assert space.random(seed + offset) == sample
        assert space.validate(sample) == sample
        assert space.validate(json.loads(json.dumps(sample))) == sample

        first = space.freeze(sample)
        second = space.freeze(sample)
        assert _arch(first) == _arch(second)
        with fixed_arch(json.loads(json.dumps(sample))):
            built = Stack(plan)
        assert _arch(built) == _arch(first)
        assert [type(m) for m in built.modules()] == [type(m) for m in first.modules()]
        check_frozen(first)
        check_frozen(built)

        out = check_trains(first, x)
        assert out.shape == (4, 2)
        built.load_state_dict(first.state_dict(), strict=True)
        torch.testing.assert_close(built(x), out)

    if space.size <= 200:
        keys = [json.dumps(s, sort_keys=True) for s in space.grid()]
        assert len(keys) == space.size
        assert len(set(keys)) == space.size
        for key in keys[:: max(1, len(keys) // 10)]:
            assert space.validate(json.loads(key)) == json.loads(key)
