"""The README's demo, as a new user runs it: experiments go to the one default home, and the
commands it prints (``retiarii list/view/export``) work exactly as printed."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_demo_prints_commands_that_work_as_printed(tmp_path: Path) -> None:
    from retiarii.data import default_mnist_root

    if not any(default_mnist_root().glob("t10k-images*")):
        pytest.skip("MNIST is not in ../shared/data/mnist")
    env = {**os.environ, "RETIARII_HOME": str(tmp_path / "home")}
    env["PATH"] = os.pathsep.join(  # as after the README's set-up: .venv/bin is not on PATH
        p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != Path(sys.executable).parent
    )
    args = ["--trials", "2", "--train-size", "500", "--port", "0", "--keep-open", "0"]
    demo = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-4000:]
    assert "dashboard closed" in demo.stdout
    printed = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in demo.stdout.splitlines()
        if line.startswith(("list experiments:", "view it again:", "export the best:"))
    }
    assert set(printed) == {"list experiments", "view it again", "export the best"}
    (experiment,) = (tmp_path / "home").iterdir()  # the default home, not ./retiarii-experiments
    assert printed["view it again"].endswith(f"view {experiment.name}")

    def run(command: str) -> str:
        done = subprocess.run(
            shlex.split(command), env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
        return done.stdout

    assert experiment.name in run(printed["list experiments"])
    exported = json.loads(run(printed["export the best"]))
    assert exported["experiment"] == experiment.name and exported["top"]
