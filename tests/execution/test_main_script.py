"""The executor as a user's script meets it: ``__main__`` classes, Ctrl-C, a dying driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import retiarii

from .support import is_running, wait_until

SCRIPT = Path(__file__).with_name("main_script.py")


@contextmanager
def script(mode: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Run ``main_script.py mode`` as a user would, and never leave it running."""
    src = os.path.dirname(os.path.dirname(os.path.abspath(retiarii.__file__)))
    with subprocess.Popen(
        [sys.executable, str(SCRIPT), mode, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": src},
        cwd=tmp_path,
    ) as process:
        try:
            yield process
        finally:
            process.kill()


def test_a_runner_defined_in_main_reaches_the_workers(tmp_path: Path) -> None:
    with script("run", tmp_path) as process:
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    result = json.loads(out)
    assert result["0"] == "TrialSucceeded" and result["metric"] == 101.0
    assert result["1"] == "TrialFailed"
    # The traceback names the user's file and shows the line, though the class travelled by value.
    assert f'File "{SCRIPT}"' in result["error"]
    assert 'raise KeyError("defined in __main__")' in result["error"]


def test_workers_exit_when_the_driver_is_killed(tmp_path: Path) -> None:
    with script("orphan", tmp_path) as process:
        assert process.stdout is not None
        workers = json.loads(process.stdout.readline())
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert len(workers) == 2
    assert wait_until(lambda: not any(map(is_running, workers)), timeout=5)


def test_ctrl_c_in_the_driver_shuts_the_pool_down(tmp_path: Path) -> None:
    with script("interrupt", tmp_path) as process:
        assert process.stdout is not None
        workers = json.loads(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    assert not any(map(is_running, workers))
