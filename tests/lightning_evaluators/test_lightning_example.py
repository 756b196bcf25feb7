"""``examples/mnist_lightning/search.py --quick`` runs end to end (search, then retrain and test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist_lightning" / "search.py"


@pytest.mark.slow
def test_mnist_lightning_example_quick(tmp_path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = tmp_path / "results.json"
    command = [sys.executable, str(EXAMPLE), "--quick", "--workdir", str(tmp_path / "exps")]
    result = subprocess.run(
        [*command, "--json", str(out)], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["trials"] == results["succeeded"] == 2
    assert set(results["best"]) == {
        "channels1",
        "channels2",
        "kernel",
        "extra_conv",
        "dropout",
        "hidden",
    }
    assert 0.5 < results["test_accuracy"] <= 1.0  # 2,000 images, one epoch: well above chance
    retrain = Path(results["experiment_dir"]) / "retrain" / "lightning_logs" / "version_0"
    assert (retrain / "metrics.csv").exists()
    assert list(cwd.iterdir()) == []
