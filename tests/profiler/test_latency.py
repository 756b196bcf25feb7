"""LatencyProfiler (measured, cached) and the optional OnnxLatencyProfiler."""

from __future__ import annotations

import importlib.util

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


@pytest.mark.skipif(HAS_ORT, reason="onnxruntime is installed")
def test_onnx_profiler_says_how_to_install() -> None:
    with pytest.raises(ImportError, match="onnx"):
        OnnxLatencyProfiler(space(), torch.zeros(2, 8))


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime is not installed (optional extra 'onnx')")
def test_onnx_latency() -> None:
    profiler = OnnxLatencyProfiler(space(), torch.zeros(2, 8), repeats=3)
    assert profiler.profile({"w": 64}) > 0
