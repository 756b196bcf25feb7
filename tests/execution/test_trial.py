"""``run_trial``, the per-trial logic every backend shares, called directly."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from retiarii.execution import Event, FinalMetric, TrialFailed, TrialSucceeded, run_trial
from retiarii.execution.trial import redirect_output
from retiarii.reporting import report_final_result


class FunctionRunner:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def setup(self) -> None:
        pass

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        return self.fn(sample)


def trial(fn: Any, tmp_path: Path, *, redirect: bool = False) -> list[Event]:
    events: list[Event] = []
    run_trial(
        FunctionRunner(fn), 5, {}, str(tmp_path / "t"), events.append, worker="w", redirect=redirect
    )
    return events


def test_sys_exit_zero_ends_the_trial_normally(tmp_path: Path) -> None:
    assert isinstance(trial(lambda s: sys.exit(0), tmp_path)[-1], TrialSucceeded)


def test_sys_exit_with_an_error_code_fails_the_trial(tmp_path: Path) -> None:
    end = trial(lambda s: sys.exit(2), tmp_path)[-1]
    assert isinstance(end, TrialFailed) and end.reason == "error" and "SystemExit: 2" in end.error


def test_keyboard_interrupt_is_not_swallowed(tmp_path: Path) -> None:
    def interrupt(sample: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trial(interrupt, tmp_path)


def test_a_nan_return_value_fails_the_trial(tmp_path: Path) -> None:
    end = trial(lambda s: math.nan, tmp_path)[-1]
    assert isinstance(end, TrialFailed) and "NaN" in end.error


def test_only_the_first_final_result_counts(tmp_path: Path) -> None:
    def twice(sample: dict) -> None:
        report_final_result(1.0)
        report_final_result(2.0)

    finals = [e.metric for e in trial(twice, tmp_path) if isinstance(e, FinalMetric)]
    assert finals == [1.0]


def test_an_unwritable_trial_dir_fails_the_trial(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("a file, not a directory")
    events = trial(lambda s: 1.0, tmp_path, redirect=True)
    assert [type(e).__name__ for e in events] == ["TrialStarted", "TrialFailed"]


def test_redirect_output_restores_the_file_descriptors(tmp_path: Path) -> None:
    log = tmp_path / "trial.log"
    before = (os.fstat(1).st_ino, os.fstat(2).st_ino)
    with redirect_output(str(log)):
        os.write(1, b"one\n")
        os.write(2, b"two\n")
    assert (os.fstat(1).st_ino, os.fstat(2).st_ino) == before
    with redirect_output(str(log)):  # appends
        os.write(1, b"three\n")
    assert log.read_text() == "one\ntwo\nthree\n"


def test_a_trial_log_keeps_its_head_and_tail_under_the_limit(tmp_path: Path) -> None:
    import time

    log = tmp_path / "trial.log"
    limit = 64 * 1024
    with redirect_output(str(log), limit=limit):
        os.write(1, b"FIRST LINE\n")
        for i in range(40):  # 4 MB over about a second: the cap acts while it is written
            os.write(1, (f"line {i:04d} " + "x" * 100_000 + "\n").encode())
            time.sleep(0.025)
        os.write(2, b"LAST LINE (a traceback would be here)\n")
    data = log.read_bytes()
    assert len(data) <= limit + 1024
    assert data.startswith(b"FIRST LINE\n")
    assert data.endswith(b"LAST LINE (a traceback would be here)\n")
    assert b"bytes of this trial's output were dropped here" in data
    assert data.count(b"[retiarii: about") == 1  # one note, rewritten as more is dropped


def test_a_log_under_the_limit_is_untouched_and_zero_means_no_limit(tmp_path: Path) -> None:
    small, unlimited = tmp_path / "small.log", tmp_path / "unlimited.log"
    with redirect_output(str(small), limit=1024):
        os.write(1, b"short\n")
    assert small.read_bytes() == b"short\n"
    with redirect_output(str(unlimited), limit=0):
        os.write(1, b"y" * 200_000)
    assert unlimited.stat().st_size == 200_000
