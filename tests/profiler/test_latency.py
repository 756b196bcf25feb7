"""LatencyProfiler (measured, cached) and the optional OnnxLatencyProfiler."""

from __future__ import annotations

import importlib.util
import pickle
import sys

import pytest
import torch

import retiarii.nn.pytorch as nn
from retiarii.profiler import LatencyProfiler, OnnxLatencyProfiler, RangeProfilerFilter

HAS_ORT = importlib.util.find_spec("onnxruntime") is not None


def space() -> nn.Module:
    return nn.Sequential(nn.Linear(8, nn.ValueChoice([4, 64], label="w")), nn.ReLU())


def test_latency_is_measured_once_per_sample(tmp_path) -> None:
    profiler = LatencyProfiler(
        space(), torch.zeros(2, 8), cache_path=tmp_path / "lat.json", repeats=3, warmup=1
    )
    small = profiler.profile({"w": 4})
    assert small > 0
    assert profiler.profile({"w": 4}) == small
    profiler.profile({"w": 64})
    assert profiler.measured == 2
    # the on-disk table answers a new profiler without measuring again
    again = LatencyProfiler(space(), torch.zeros(2, 8), cache_path=tmp_path / "lat.json")
    assert again.profile({"w": 4}) == small and again.measured == 0
    assert RangeProfilerFilter(profiler, max=1e9)({"w": 64})


def test_onnx_profiler_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install .*onnx"):
        OnnxLatencyProfiler(space(), torch.zeros(2, 8))


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, nn.ValueChoice([4, 64], label="w"))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + y.sum()


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime is not installed (optional extra 'onnx')")
def test_onnx_latency_is_measured_once_per_sample_and_pickles() -> None:
    profiler = OnnxLatencyProfiler(TwoInputs(), (torch.zeros(2, 8), torch.ones(3)), repeats=3)
    small = profiler.profile({"w": 4})
    assert 0 < small < 1000
    assert profiler.profile({"w": 4}) == small  # cached: the same number, not a new measurement
    # an experiment pickles its objectives to resume: the copy measures on its own
    again = pickle.loads(pickle.dumps(profiler))
    assert again.profile({"w": 64}) > 0
    assert again.profile({"w": 4}) == small  # the cache travelled with it
