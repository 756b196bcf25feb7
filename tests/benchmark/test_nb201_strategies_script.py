"""A smoke test of ``benchmarks/nb201_strategies.py`` at tiny settings."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import REPO


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()  # the script's worker set-up uses one thread
    yield
    torch.set_num_threads(threads)


def load_script() -> ModuleType:
    path = REPO / "benchmarks" / "nb201_strategies.py"
    spec = importlib.util.spec_from_file_location("nb201_strategies_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_script_runs_the_grid_at_tiny_settings(
    nb201_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script()
    names = list(script.strategies())
    assert (
        script.main(
            [
                "--seeds",
                "2",
                "--datasets",
                "cifar10",
                "imagenet16",
                "--budgets",
                "5",
                "12",
                "--workers",
                "1",
                "--table",
                str(nb201_path),
                "--no-write",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    for name in names:
        assert f"| {name} | 5 |" in out and f"| {name} | 12 |" in out
    assert "| random search @100 | 93.80 | 45.40 |" in out
    assert "Strategy overhead per suggestion" in out


@pytest.mark.slow
def test_a_smaller_budget_is_the_prefix_of_a_larger_one(nb201_path: Path) -> None:
    script = load_script()
    script._setup_worker(str(nb201_path))
    for name in ("REA-small", "TPE", "LocalSearch", "PolicyBasedRL"):
        long = script.run_one((name, "cifar100", 3, [8, 20]))
        short = script.run_one((name, "cifar100", 3, [8]))
        assert long[0]["budget"] == short[0]["budget"] == 8
        assert long[0]["arch_str"] == short[0]["arch_str"], name
        assert long[0]["test_acc"] == short[0]["test_acc"]
