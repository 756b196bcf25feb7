"""``examples/hardware_aware_mnist.py`` runs at a tiny budget and stays inside its FLOPs limit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_example_runs_and_returns_a_front_under_the_limit(tmp_path) -> None:
    from retiarii.data import default_mnist_root

    if not any(default_mnist_root().glob("t10k-images*")):
        pytest.skip("MNIST is not in ../shared/data/mnist")
    spec = importlib.util.spec_from_file_location(
        "hardware_aware_mnist", ROOT / "examples" / "hardware_aware_mnist.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    front = example.main(
        [
            "--trials",
            "3",
            "--train-size",
            "128",
            "--inprocess",
            "--workdir",
            str(tmp_path),
            "--max-flops",
            "2000000",
        ]
    )
    assert front
    import torch

    from retiarii.hub.pytorch import MobileNetV3Space
    from retiarii.profiler import FlopsProfiler

    flops = FlopsProfiler(MobileNetV3Space(**example.SPACE_ARGS), torch.zeros(1, 3, 28, 28))
    assert all(flops.profile(sample) <= 2_000_000 for sample in front)
