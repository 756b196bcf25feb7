"""A smoke test of ``benchmarks/joint_search.py`` at tiny settings."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from .conftest import REPO


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()  # the script uses one thread
    yield
    torch.set_num_threads(threads)


def load_script() -> ModuleType:
    path = REPO / "benchmarks" / "joint_search.py"
    spec = importlib.util.spec_from_file_location("joint_search_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_script_compares_arch_only_and_joint_search(capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script()
    argv = ["--seeds", "1", "--budget", "3", "--strategies", "Random", "TPE", "--no-write"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    for row in ("| Random | arch-only lr=1e-3 |", "| Random | joint |", "| TPE | joint |"):
        assert row in out
    assert "Random, vs arch-only lr=1e-2: val" in out
