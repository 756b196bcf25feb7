"""The README's code runs as written (the docs site's blocks run in ``tests/test_docs.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_complete_search_runs_as_a_script(tmp_path: Path) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(block.strip().splitlines()) <= 35  # a short, complete example
    script = tmp_path / "search.py"
    script.write_text(block)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "RETIARII_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "'hidden':" in done.stdout and "'act':" in done.stdout
    (experiment,) = (tmp_path / "home").iterdir()
    assert (experiment / "experiment.db").is_file()
