"""Every registered hub space: profiled parameters and FLOPs equal the built model's (registry-driven)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import retiarii.hub.pytorch  # noqa: F401  (registers the spaces)
from retiarii.hub.pytorch.registry import SPACES, SpaceEntry
from retiarii.nn.pytorch import ModelSpace
from retiarii.profiler import FlopsProfiler, NumParamsProfiler


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(e, id=name, marks=[pytest.mark.slow] if e.slow else [])
        for name, e in sorted(SPACES.items())
    ],
)
def test_hub_space_profile_is_exact(entry: SpaceEntry) -> None:
    torch.set_num_threads(1)
    space = ModelSpace(entry.factory(**entry.test_kwargs))
    x = torch.zeros(1, *entry.input_size)
    params, flops = NumParamsProfiler(space), FlopsProfiler(space, x)
    for seed in range(3):
        sample = space.random(seed)
        model = space.build(sample).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        assert params.profile(sample) == sum(p.numel() for p in model.parameters())
        assert flops.profile(sample) == counter.get_total_flops() // 2
    assert params.fallbacks == [] and flops.fallbacks == []
