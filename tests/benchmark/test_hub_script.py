"""A smoke test of ``benchmarks/hub.py``: every registered space, small configurations."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
import torch

from retiarii.hub.pytorch.registry import SPACES

from .conftest import REPO


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    threads = torch.get_num_threads()  # the script uses one thread
    yield
    torch.set_num_threads(threads)


def load_script() -> ModuleType:
    path = REPO / "benchmarks" / "hub.py"
    spec = importlib.util.spec_from_file_location("hub_benchmark_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_script_measures_every_registered_space(capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script()
    args = ["--samples", "2", "--repeats", "1", "--test-config", "--no-architectures"]
    assert script.main([*args, "--no-write"]) == 0
    out = capsys.readouterr().out
    for name in SPACES:
        assert f"| {name} | test |" in out


def test_macs_are_half_the_counted_flops() -> None:
    script = load_script()
    layer = torch.nn.Linear(10, 20, bias=False)
    assert script.macs(layer, (10,)) == 200  # 10 * 20 multiply-adds for a batch of 1
