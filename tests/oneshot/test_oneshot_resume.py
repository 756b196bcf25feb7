"""A one-shot experiment killed with SIGKILL resumes from its last epoch's checkpoint and ends
with the architecture (and probabilities) of a run that was never killed: searched by a strategy
(the Lightning driver) or by a classic trainer (the plain driver)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store import ExperimentStore

from .resume_search import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("searcher", ["strategy", "trainer"])
def test_sigkill_then_resume_gives_the_export_of_an_uninterrupted_run(tmp_path, searcher):
    flags = ["--trainer"] if searcher == "trainer" else []
    reference = run(str(tmp_path / "reference"), trainer=bool(flags))
    expected = reference.export_top_models(formatter="dict")[0]
    expected_probs = reference.store.series("arch_prob/op")
    reference.close()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.oneshot.resume_search", str(killed), "--slow", *flags],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(killed.glob("*/oneshot/last.ckpt")):
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.02)
        proc.kill()  # SIGKILL: no cleanup of any kind
    finally:
        proc.wait()
    [directory] = killed.glob("*/")
    store = ExperimentStore(directory / "experiment.db", readonly=True)
    epochs_before = len(store.series("arch_prob/op"))
    assert store.experiment().status == "running" and 1 <= epochs_before < 5
    store.close()

    exp = RetiariiExperiment.resume(directory)
    assert exp.store.experiment().status == "done"
    assert exp.export_top_models(formatter="dict")[0] == expected
    got = exp.store.series("arch_prob/op")
    assert [p.epoch for p in got] == [p.epoch for p in expected_probs] == [0, 1, 2, 3, 4]
    for a, b in zip(got, expected_probs):
        assert a.value == pytest.approx(b.value, abs=1e-6)
    exp.close()
