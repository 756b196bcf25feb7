"""A smoke test of ``benchmarks/hub.py``: every registered space, small configurations."""

from __future__ import annotations

import pytest
import torch

from retiarii.hub.pytorch.registry import SPACES

from .conftest import load_script


def test_script_measures_every_registered_space(capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script("hub.py", "hub_benchmark_script")
    args = ["--samples", "2", "--build-samples", "1", "--repeats", "1", "--test-config"]
    args += ["--no-architectures"]
    assert script.main([*args, "--no-write"]) == 0
    out = capsys.readouterr().out
    for name in SPACES:
        assert f"| {name} | test |" in out


def test_macs_are_half_the_counted_flops() -> None:
    script = load_script("hub.py", "hub_benchmark_script")
    layer = torch.nn.Linear(10, 20, bias=False)
    assert script.macs(layer, (10,)) == 200  # 10 * 20 multiply-adds for a batch of 1
