"""``examples/oneshot_darts_mnist.py --quick`` runs end to end on the real MNIST files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from retiarii import ModelSpace
from retiarii.data import default_mnist_root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not default_mnist_root().is_dir(), reason="MNIST files not available")
def test_quick_darts_search_on_mnist(tmp_path, capsys):
    example = _load("oneshot_darts_mnist")
    sample = example.main(["--quick", "--workdir", str(tmp_path)])
    space_module = _load("oneshot_mnist_space")
    assert ModelSpace(space_module.MnistCellNet(c=8)).validate(sample) == sample
    out = capsys.readouterr().out
    assert "architecture:" in out and "with fixed_arch(" in out
