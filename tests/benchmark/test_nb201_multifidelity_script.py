"""A smoke test of ``benchmarks/nb201_multifidelity.py``: one retiarii run and one Optuna run."""

from __future__ import annotations

import importlib.util
import math
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
    path = REPO / "benchmarks" / "nb201_multifidelity.py"
    spec = importlib.util.spec_from_file_location("nb201_multifidelity_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("config", ["Random+SH", "optuna-TPE+SH"])
def test_a_run_spends_at_most_each_compute_fraction(nb201_path: Path, config: str) -> None:
    pytest.importorskip("optuna")
    script = load_script()
    script._setup_worker(str(nb201_path))
    rows = script.run_one((config, "cifar10", 0))
    limit = script.reference_compute(script._WORKER["table"], "cifar10")
    assert [r["fraction"] for r in rows] == list(script.FRACTIONS)
    for row in rows:
        assert row["compute_gpu_h"] * 3600 <= row["fraction"] * limit + 1e-6
        assert 0 < row["full_trials"] <= row["trials"]
        assert not math.isnan(row["test_acc"]) and 80 < row["test_acc"] < 94.38
    assert rows[-1]["trials"] > rows[-1]["full_trials"]  # SH pruned some trials
