"""The search-space algebra works without torch, and ``import retiarii`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# The ``src`` directory, for subprocesses (works whether or not retiarii is installed).
_SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {_SRC!r})\n{textwrap.dedent(code)}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_mutable_works_when_torch_cannot_be_imported() -> None:
    result = _run(
        """
        import sys
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        import retiarii
        import retiarii.mutable as m

        a = m.Categorical([1, 2, 3], label="a")
        space = m.SearchSpace([a, m.InputSubset(3, 1, label="i")])
        sample = space.random(0)
        assert space.validate(sample) == sample
        assert (a * 2).freeze({"a": 3}) == 6
        assert space.size == 9
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_retiarii_does_not_import_heavy_dependencies() -> None:
    result = _run(
        """
        import json, sys
        import retiarii
        import retiarii.mutable
        heavy = ["torch", "lightning", "pytorch_lightning", "ray", "fastapi", "uvicorn", "plotly"]
        print(json.dumps([name for name in heavy if name in sys.modules]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_public_names_of_retiarii_resolve_lazily() -> None:
    result = _run(
        """
        import sys
        import retiarii
        assert "torch" not in sys.modules
        from retiarii import fixed_arch, model_wrapper, ModelSpace, basic_unit, serialize
        assert "torch" in sys.modules
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
