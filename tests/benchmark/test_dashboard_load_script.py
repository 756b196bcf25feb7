"""A smoke test of ``benchmarks/dashboard_load.py``: the poll-cost part on a small store."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .conftest import REPO


def load_script() -> ModuleType:
    path = REPO / "benchmarks" / "dashboard_load.py"
    spec = importlib.util.spec_from_file_location("dashboard_load_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_poll_costs_of_a_small_store(tmp_path: Path) -> None:
    script = load_script()
    script.build_big_store(tmp_path, n_trials=40, metric_keys=50, points=5)
    rows = script.poll_costs(tmp_path, repeat=2)
    by_name = {row["poll"].split(" (")[0]: row for row in rows}
    steady = [row for row in rows if row["poll"].startswith("steady")]
    assert len(steady) == 2 and all(row["bytes"] < 5000 for row in steady)
    trial_page = next(row for row in rows if row["poll"].startswith("trial page"))
    assert trial_page["bytes"] > 50 * 10  # the full metric dict is on the trial page only
    assert by_name
