"""A smoke test of ``benchmarks/nb201_multifidelity.py``: one retiarii run and one Optuna run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from .conftest import load_script


@pytest.mark.slow
@pytest.mark.parametrize("config", ["Random+SH", "optuna-TPE+SH"])
def test_a_run_spends_at_most_each_compute_fraction(nb201_path: Path, config: str) -> None:
    pytest.importorskip("optuna")
    script = load_script("nb201_multifidelity.py", "nb201_multifidelity_script")
    script._setup_worker(str(nb201_path))
    rows = script.run_one((config, "cifar10", 0))
    limit = script.reference_compute(script._WORKER["table"], "cifar10")
    assert [r["fraction"] for r in rows] == list(script.FRACTIONS)
    for row in rows:
        assert row["compute_gpu_h"] * 3600 <= row["fraction"] * limit + 1e-6
        assert 0 < row["full_trials"] <= row["trials"]
        assert not math.isnan(row["test_acc"]) and 80 < row["test_acc"] < 94.38
    assert rows[-1]["trials"] > rows[-1]["full_trials"]  # SH pruned some trials
