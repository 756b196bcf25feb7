"""Fixtures of the CLI tests: experiments made through the public API, and a way to run the
installed ``retiarii`` console script."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

from .spaces import CliNet, score

TESTS = Path(__file__).resolve().parents[1]
#: The console script installed with the package (``[project.scripts]``).
RETIARII = Path(sys.executable).parent / "retiarii"


def run_cli(
    *args: str,
    cwd: Path | None = None,
    home: Path | None = None,
    pythonpath: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``retiarii ARGS`` through the console script and capture its output."""
    assert RETIARII.exists(), f"the console script is not installed at {RETIARII}"
    env = dict(os.environ)
    env.pop("RETIARII_DEBUG", None)
    if pythonpath:  # the experiment's code (tests/cli/spaces.py) is importable as cli.spaces
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    else:
        env.pop("PYTHONPATH", None)
    if home is not None:
        env["RETIARII_HOME"] = str(home)
    return subprocess.run(
        [str(RETIARII), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def make_experiment(
    working_dir: Path, name: str, trials: int, delay: float = 0.0, grid: bool = False
) -> Any:
    config = RetiariiExeConfig("local")
    config.experiment_working_directory = str(working_dir)
    config.experiment_name = name
    config.max_trial_number = trials
    config.execution = "inprocess"  # no worker processes: quick, and resume runs the same way
    search = strategy.GridSearch(shuffle=False) if grid else strategy.Random(dedup=True, seed=1)
    exp = RetiariiExperiment(CliNet(), FunctionalEvaluator(score, delay=delay), None, search)
    return exp, config


@pytest.fixture(scope="session")
def working_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def done_experiment(working_dir: Path) -> Any:
    """A finished experiment that tried all 6 samples (the best: width 3 with Tanh, 31)."""
    exp, config = make_experiment(working_dir, "finished search", 6, grid=True)
    logger = logging.getLogger("retiarii")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        exp.run(config)
    finally:
        logger.setLevel(level)
    exp.store.close()  # the driver is done: release the writer lock, as its process ending would
    return exp


def _succeeded(exp: Any) -> int:
    try:
        return int(exp.store.counts()["SUCCEEDED"])
    except RuntimeError:  # not created yet
        return 0


@pytest.fixture(scope="session")
def stopped_experiment(working_dir: Path, done_experiment: Any) -> Any:
    """An experiment stopped after its first trial (budget 4), to resume."""
    exp, config = make_experiment(working_dir, "stopped search", 4, delay=0.3)
    thread = threading.Thread(target=exp.run, args=(config,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not _succeeded(exp):
        assert time.monotonic() < deadline, "no trial finished in 60 s"
        time.sleep(0.02)
    exp.stop()
    thread.join(60)
    assert exp.get_status() == "STOPPED"
    exp.store.close()  # release the writer lock, as the process ending would
    return exp
