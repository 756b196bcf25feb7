"""A full disk stops the experiment cleanly, with one message, and resume continues it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store import DiskFullError, ExperimentStore

from .helpers import make_config
from .spaces import TinyNet, fill_the_disk_once


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (skipped where mounting is not permitted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_interrupts_cleanly_and_resume_continues(
    small_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "filled"
    exp = RetiariiExperiment(
        TinyNet(),
        FunctionalEvaluator(fill_the_disk_once, marker=str(marker)),
        None,
        strategy.GridSearch(shuffle=False),
    )
    with pytest.raises(DiskFullError) as info:
        exp.run(make_config(small_disk, max_trial_number=3, trial_concurrency=1))
    message = str(info.value)
    assert str(small_disk) in message and "is full" in message and "resume" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # one clear error
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "interrupted" in errors[0].getMessage()
    directory = exp.experiment_dir
    assert directory is not None
    exp.close()

    for filler in directory.glob("trials/*/filler.bin"):  # the user frees some space
        filler.unlink()
    resumed = RetiariiExperiment.resume(directory)
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        ended = [t for t in store.trials() if t.status == "SUCCEEDED"]
        assert len(ended) == 3 and store.experiment().status == "done"
    resumed.close()
    shutil.rmtree(directory, ignore_errors=True)
