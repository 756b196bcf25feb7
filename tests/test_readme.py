"""The README's quick start must run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python block"
    namespace: dict[str, object] = {"__name__": "readme"}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    space = namespace["space"]
    assert space.size == 12  # type: ignore[attr-defined]
    assert set(namespace["sample"]) == {"kernel", "act", "hidden_dim"}  # type: ignore[arg-type]
