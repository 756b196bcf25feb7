"""The README's code blocks must run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python block"
    return blocks


def test_readme_quick_start_runs() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(_blocks()[0], "README.md", "exec"), namespace)
    space = namespace["space"]
    assert space.size == 12  # type: ignore[attr-defined]
    assert set(namespace["sample"]) == {"kernel", "act", "hidden_dim"}  # type: ignore[arg-type]


def test_readme_one_shot_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path))
    block = next(b for b in _blocks() if "DartsTrainer" in b)
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(block, "README.md", "exec"), namespace)
    exported = namespace["exp"].export_top_models(formatter="dict")  # type: ignore[attr-defined]
    assert exported and exported[0]["op"] in ("linear", "tanh")
