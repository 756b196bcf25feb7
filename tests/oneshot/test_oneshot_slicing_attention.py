"""``nn.MultiheadAttention`` with value-choice ``embed_dim``/``num_heads``: frozen to torch's
layer, and weight-sliced in a path-sampling supernet (the sliced forward is the frozen layer's)."""

from __future__ import annotations

import random

import pytest
import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii.oneshot.pytorch.sampling import PathSamplingSupernet
from retiarii.oneshot.pytorch.slicing import SlicedMultiheadAttention


@retiarii.model_wrapper
class Attention(nn.Module):
    def __init__(self, batch_first: bool = True, kdim: bool = False, **kwargs: object) -> None:
        super().__init__()
        self.heads = nn.ValueChoice([2, 4], label="heads")
        self.head_dim = nn.ValueChoice([4, 8], label="head_dim")
        embed = self.heads * self.head_dim
        extra = {"kdim": nn.ValueChoice([6, 10], label="kdim"), "vdim": 7} if kdim else {}
        self.proj = nn.Linear(5, embed)
        self.kv = nn.Linear(5, extra["kdim"]) if kdim else None
        self.attn = nn.MultiheadAttention(
            embed,
            self.heads,
            batch_first=batch_first,
            **extra,
            **kwargs,  # type: ignore[arg-type]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.proj(x)
        if self.kv is None:
            return self.attn(q, q, q)[0]
        k = self.kv(x)
        v = torch.nn.functional.pad(x, (0, 2))  # vdim 7
        return self.attn(q, k, v)[0]


def test_it_freezes_to_torchs_layer_and_names_impossible_combinations() -> None:
    space = retiarii.ModelSpace(Attention())
    assert space.labels == ["heads", "head_dim"]
    model = space.freeze({"heads": 2, "head_dim": 8})
    assert type(model.attn) is torch.nn.MultiheadAttention
    assert (model.attn.embed_dim, model.attn.num_heads) == (16, 2)
    assert model(torch.randn(3, 6, 5)).shape == (3, 6, 16)
    with retiarii.fixed_arch({"heads": 4, "head_dim": 4}, verbose=False):
        built = Attention()
    assert type(built.attn) is torch.nn.MultiheadAttention and built.attn.head_dim == 4


def test_a_non_divisible_embed_dim_is_a_clear_error() -> None:
    @retiarii.model_wrapper
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(
                nn.ValueChoice([12, 16], label="e"), nn.ValueChoice([3, 4], label="h")
            )

    message = r"MultiheadAttention cannot be built with the sample's values \(e=16, h=3\)"
    with pytest.raises(ValueError, match=message):
        retiarii.ModelSpace(Bad()).freeze({"e": 16, "h": 3})
    with pytest.raises(ValueError, match=message), retiarii.fixed_arch({"e": 16, "h": 3}):
        Bad()
    model = Bad()
    PathSamplingSupernet(model)
    with pytest.raises(ValueError, match="embed_dim=16 is not divisible by num_heads=3"):
        retiarii.ModelSpace(model).freeze({"e": 16, "h": 3})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_first": True},
        {"batch_first": False, "add_bias_kv": True},
        {"kdim": True, "bias": False},
    ],
    ids=["batch_first", "bias_kv", "kdim_vdim"],
)
def test_the_sliced_layer_computes_what_the_frozen_layer_computes(kwargs: dict) -> None:
    torch.manual_seed(0)
    model = Attention(**kwargs)
    supernet = PathSamplingSupernet(model)
    assert isinstance(model.attn, SlicedMultiheadAttention)
    space = retiarii.ModelSpace(model)
    model.eval()
    x = torch.randn(3, 6, 5)
    rng = random.Random(0)
    for _ in range(6):
        supernet.random(rng)
        sample = supernet.sample()
        frozen = space.freeze(sample)
        assert type(frozen.attn) is torch.nn.MultiheadAttention
        assert frozen.attn.embed_dim == sample["heads"] * sample["head_dim"]
        torch.testing.assert_close(model(x), frozen(x))


def test_sliced_weights_are_the_largest_layers_and_train_in_place() -> None:
    model = Attention()
    weight = model.attn.in_proj_weight  # (3 * 32, 32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    supernet = PathSamplingSupernet(model)
    assert model.attn.in_proj_weight is weight
    supernet.set_sample({"heads": 2, "head_dim": 4})  # embed_dim 8
    before = weight.detach().clone()
    model(torch.randn(2, 3, 5)).sum().backward()
    optimizer.step()
    changed = (weight.detach() != before).any(1)
    rows = torch.zeros(96, dtype=torch.bool)
    rows[0:8] = rows[32:40] = rows[64:72] = True
    assert not changed[~rows].any() and changed[rows].any()
    assert not (weight.detach() != before)[:, 8:].any()
