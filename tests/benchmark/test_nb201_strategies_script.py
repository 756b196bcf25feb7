"""A smoke test of ``benchmarks/nb201_strategies.py`` at tiny settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import load_script


@pytest.mark.slow
def test_script_runs_the_grid_at_tiny_settings(
    nb201_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = load_script("nb201_strategies.py", "nb201_strategies_script")
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
    script = load_script("nb201_strategies.py", "nb201_strategies_script")
    script._setup_worker(str(nb201_path))
    for name in ("REA-small", "TPE", "LocalSearch", "PolicyBasedRL"):
        long = script.run_one((name, "cifar100", 3, [8, 20]))
        short = script.run_one((name, "cifar100", 3, [8]))
        assert long[0]["budget"] == short[0]["budget"] == 8
        assert long[0]["arch_str"] == short[0]["arch_str"], name
        assert long[0]["test_acc"] == short[0]["test_acc"]
