"""The behaviour every executor backend promises (see ``Executor``'s docstring).

Each test runs once per backend, so a new backend (Ray) gets the same checks by adding it to
``BACKENDS`` in ``conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retiarii.execution import (
    Executor,
    FinalMetric,
    InProcessExecutor,
    IntermediateMetric,
    LocalExecutor,
    RunnerSetupError,
    TrialFailed,
    TrialStarted,
    TrialSucceeded,
)
from retiarii.execution.ray_executor import RayExecutor

from .support import FailingSetupRunner, ScriptedRunner, run_until_done


def kinds(events: list) -> list[str]:
    return [type(event).__name__ for event in events]


def test_metrics_arrive_in_order_between_started_and_succeeded(
    executor: Executor, tmp_path: Path
) -> None:
    executor.submit(7, {"steps": 3, "final": 0.9}, str(tmp_path / "7"))
    events = run_until_done(executor)[7]
    assert kinds(events) == [
        "TrialStarted",
        "IntermediateMetric",
        "IntermediateMetric",
        "IntermediateMetric",
        "FinalMetric",
        "TrialSucceeded",
    ]
    assert [e.metric for e in events if isinstance(e, IntermediateMetric)] == [0.0, 1.0, 2.0]
    assert events[4] == FinalMetric(7, 0.9, events[4].time)
    assert all(e.trial_id == 7 for e in events)
    times = [e.time for e in events]
    assert times == sorted(times)


def test_return_value_becomes_the_final_metric(executor: Executor, tmp_path: Path) -> None:
    executor.submit(1, {"returns": 3}, str(tmp_path / "1"))
    executor.submit(2, {"returns": {"default": 0.5, "loss": 2}}, str(tmp_path / "2"))
    executor.submit(3, {"final": 1.0, "returns": 2.0}, str(tmp_path / "3"))
    executor.submit(4, {"returns": "not a metric"}, str(tmp_path / "4"))
    events = run_until_done(executor)
    finals = {
        tid: [e.metric for e in evs if isinstance(e, FinalMetric)] for tid, evs in events.items()
    }
    assert finals == {1: [3.0], 2: [{"default": 0.5, "loss": 2.0}], 3: [1.0], 4: []}
    assert all(isinstance(evs[-1], TrialSucceeded) for evs in events.values())


def test_a_raising_trial_fails_with_its_traceback_and_the_next_one_runs(
    executor: Executor, tmp_path: Path
) -> None:
    executor.submit(1, {"steps": 1, "raise": "bad width"}, str(tmp_path / "1"))
    failed = run_until_done(executor)[1]
    assert kinds(failed) == ["TrialStarted", "IntermediateMetric", "TrialFailed"]
    failure = failed[-1]
    assert isinstance(failure, TrialFailed) and failure.reason == "error"
    assert failure.error.startswith("Traceback (most recent call last):")
    assert "support.py" in failure.error and "in run" in failure.error
    assert failure.error.rstrip().endswith("ValueError: bad width")

    executor.submit(2, {"final": 1.0}, str(tmp_path / "2"))
    assert isinstance(run_until_done(executor)[2][-1], TrialSucceeded)


def test_same_events_from_every_backend(tmp_path: Path, ray_instance: object) -> None:
    samples = [{"steps": 2, "final": 0.25}, {"returns": 4}, {"raise": "no"}, {}]

    def events_of(executor: Executor, name: str) -> list[tuple]:
        with executor:
            executor.start(ScriptedRunner())
            for i, sample in enumerate(samples):
                executor.submit(i, sample, str(tmp_path / name / str(i)))
            result = run_until_done(executor)
        flat = []
        for trial_id in sorted(result):
            for e in result[trial_id]:
                detail = getattr(e, "metric", getattr(e, "reason", None))
                flat.append((trial_id, type(e).__name__, detail))
        return flat

    local = events_of(LocalExecutor(2), "local")
    assert local == events_of(InProcessExecutor(), "inprocess")
    assert local == events_of(RayExecutor(2), "ray")
    assert len(local) == 12


def test_an_interrupt_raised_by_the_trial_is_its_failure_not_a_dead_worker(
    executor: Executor, tmp_path: Path
) -> None:
    if isinstance(executor, InProcessExecutor):
        pytest.skip(
            "in-process, Ctrl-C stops the debugging session (tests/execution/test_trial.py)"
        )
    executor.submit(1, {"steps": 1, "interrupt": "raised by user code"}, str(tmp_path / "1"))
    failure = run_until_done(executor)[1][-1]
    assert isinstance(failure, TrialFailed) and failure.reason == "error"  # not "crashed"
    assert failure.error.startswith("Traceback (most recent call last):")
    assert failure.error.rstrip().endswith("KeyboardInterrupt: raised by user code")
    executor.submit(2, {"final": 1.0}, str(tmp_path / "2"))
    assert isinstance(run_until_done(executor)[2][-1], TrialSucceeded)


def test_cancel_a_queued_trial(executor: Executor, tmp_path: Path) -> None:
    for i in range(3):
        executor.submit(i, {"sleep": 0.2}, str(tmp_path / str(i)))
    executor.cancel(2)
    executor.cancel(99)  # unknown: nothing happens
    events = run_until_done(executor, {0, 1, 2})
    assert kinds(events[2]) == ["TrialFailed"]
    assert events[2][0].reason == "canceled"
    assert isinstance(events[0][-1], TrialSucceeded) and isinstance(events[1][-1], TrialSucceeded)
    executor.cancel(0)  # finished: nothing happens
    assert executor.poll(0) == []


def test_running_and_free_slots_track_submitted_trials(executor: Executor, tmp_path: Path) -> None:
    capacity = executor.free_slots()
    assert capacity >= 1 and executor.running() == set()
    for i in range(capacity + 1):
        executor.submit(i, {"sleep": 0.1}, str(tmp_path / str(i)))
    assert executor.running() == set(range(capacity + 1))
    assert executor.free_slots() == 0
    with pytest.raises(ValueError, match="already"):
        executor.submit(0, {}, str(tmp_path / "again"))
    run_until_done(executor)
    assert executor.running() == set()
    assert executor.free_slots() == capacity


def test_poll_returns_at_once_when_nothing_is_in_flight(executor: Executor) -> None:
    assert executor.poll(None) == []


def test_shutdown_cancels_what_is_left_and_is_idempotent(
    executor: Executor, tmp_path: Path
) -> None:
    for i in range(4):
        executor.submit(i, {"sleep": 5}, str(tmp_path / str(i)))
    executor.shutdown()
    executor.shutdown()
    events = executor.poll(0)
    failed = [e for e in events if isinstance(e, TrialFailed)]
    assert sorted(e.trial_id for e in failed) == [0, 1, 2, 3]
    assert {e.reason for e in failed} == {"canceled"}
    assert executor.running() == set() and executor.free_slots() == 0
    with pytest.raises(Exception, match="shut down"):
        executor.submit(9, {}, str(tmp_path / "9"))


def make(backend: type, request: pytest.FixtureRequest) -> Executor:
    """A one-worker executor of ``backend`` (Ray ones on the shared Ray instance)."""
    if backend is RayExecutor:
        request.getfixturevalue("ray_instance")
    return backend() if backend is InProcessExecutor else backend(1)


ALL_BACKENDS = [LocalExecutor, InProcessExecutor, RayExecutor]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_setup_failure_raises_with_the_users_traceback(
    backend: type, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    executor = make(backend, request)
    with pytest.raises(RunnerSetupError, match="setup cannot reach the dataset") as info:
        executor.start(FailingSetupRunner(str(flag), str(tmp_path / "attempts")))
    assert "in setup" in str(info.value)
    executor.shutdown()


def test_submit_before_start_is_an_error(tmp_path: Path) -> None:
    for executor in (LocalExecutor(1), InProcessExecutor(), RayExecutor(1)):
        with pytest.raises(RuntimeError, match="start"):
            executor.submit(0, {}, str(tmp_path))


def test_a_trial_started_event_names_the_worker(executor: Executor, tmp_path: Path) -> None:
    executor.submit(0, {}, str(tmp_path / "0"))
    started = run_until_done(executor)[0][0]
    assert isinstance(started, TrialStarted)
    assert started.worker
    assert os.path.isdir(tmp_path / "0")


class _NoRun:
    def setup(self) -> None:
        pass


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_a_runner_without_run_is_refused_before_anything_starts(backend: type) -> None:
    executor = backend() if backend is InProcessExecutor else backend(1)
    with pytest.raises(TypeError, match=r"_NoRun has no run\(\)"):
        executor.start(_NoRun())
    executor.shutdown()


def test_request_stop_ends_a_running_trial_cleanly_at_its_next_report(
    executor: Executor, tmp_path: Path
) -> None:
    events: list = []

    def stop_after_first_report(event) -> None:
        events.append(event)
        if isinstance(event, IntermediateMetric) and event.metric == 0.0:
            executor.request_stop(1, "a pruner said so")

    if isinstance(executor, InProcessExecutor):
        executor.event_listener = stop_after_first_report  # what the experiment loop does
    executor.submit(1, {"steps": 100, "step_sleep": 0.02, "final": 1.0}, str(tmp_path / "1"))
    executor.submit(2, {"steps": 3, "final": 1.0}, str(tmp_path / "2"))  # not asked: unaffected
    deadline = os.times().elapsed + 30
    while executor.running() and os.times().elapsed < deadline:
        for event in executor.poll(0.2):
            stop_after_first_report(event)
    first = [e for e in events if e.trial_id == 1]
    assert isinstance(first[-1], TrialSucceeded)  # it stopped by itself: nothing was killed
    assert not any(isinstance(e, FinalMetric) for e in first)
    steps = [e for e in first if isinstance(e, IntermediateMetric)]
    assert 1 <= len(steps) < 20, len(steps)
    if isinstance(executor, InProcessExecutor):
        assert len(steps) == 1  # in-process the stop is seen by the report that triggered it
    log = (tmp_path / "1" / "trial.log").read_text()
    assert "retiarii: trial 1 early-stopped: a pruner said so" in log
    second = [e for e in events if e.trial_id == 2]
    assert kinds(second)[-2:] == ["FinalMetric", "TrialSucceeded"]
