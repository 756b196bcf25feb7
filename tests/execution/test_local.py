"""What only the process pool does: isolation, crashes, timeouts, output capture, clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retiarii.execution import (
    ExecutorError,
    FinalMetric,
    LocalExecutor,
    RunnerSetupError,
    TrialFailed,
    TrialStarted,
    TrialSucceeded,
)

from .support import (
    BlobRunner,
    CountingSetupRunner,
    EnvRunner,
    FailingSetupRunner,
    ScriptedRunner,
    UnpicklableRunner,
    child_pids,
    is_running,
    run_until_done,
    wait_for_start,
    wait_until,
)


def assert_full_capacity(executor: LocalExecutor, tmp_path: Path) -> None:
    """Both slots have a live worker and run trials side by side again."""
    begin = time.monotonic()
    executor.submit(100, {"sleep": 1.0}, str(tmp_path / "100"))
    executor.submit(101, {"sleep": 1.0}, str(tmp_path / "101"))
    events = run_until_done(executor, {100, 101})
    assert time.monotonic() - begin < 1.8  # one after the other would take >= 2 s
    assert all(isinstance(evs[-1], TrialSucceeded) for evs in events.values())
    workers = {evs[0].worker for evs in events.values() if isinstance(evs[0], TrialStarted)}
    assert len(workers) == 2
    assert len(executor.worker_pids()) == 2 and all(map(is_running, executor.worker_pids()))


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ({"exit_code": 3}, "exited with code 3"),
        ({"signal": "SIGKILL"}, "killed by SIGKILL"),
        ({"segfault": True}, "killed by SIGSEGV"),
    ],
)
def test_a_dying_worker_fails_only_its_trial(
    local: LocalExecutor, tmp_path: Path, sample: dict, expected: str
) -> None:
    local.submit(1, {"sleep": 0.3, "final": 1.0}, str(tmp_path / "1"))
    local.submit(2, {"print": "last words", **sample}, str(tmp_path / "2"))
    events = run_until_done(local)
    assert isinstance(events[1][-1], TrialSucceeded)
    failure = events[2][-1]
    assert isinstance(failure, TrialFailed) and failure.reason == "crashed"
    assert expected in failure.error
    assert "stdout: last words" in failure.error and "trial.log" in failure.error
    assert_full_capacity(local, tmp_path)


def test_a_worker_killed_from_outside_fails_its_trial(local: LocalExecutor, tmp_path: Path) -> None:
    local.submit(1, {"sleep": 30}, str(tmp_path / "1"))
    started = wait_for_start(local, 1)
    pid = int(next(e for e in started if isinstance(e, TrialStarted)).worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    failure = run_until_done(local, {1}, timeout=5)[1][-1]
    assert isinstance(failure, TrialFailed) and failure.reason == "crashed"
    assert "SIGKILL" in failure.error
    assert pid not in local.worker_pids()
    assert_full_capacity(local, tmp_path)


def test_a_trial_past_its_timeout_is_killed(tmp_path: Path) -> None:
    with LocalExecutor(1, trial_timeout=0.5) as executor:
        executor.start(ScriptedRunner())
        begin = time.monotonic()
        executor.submit(1, {"print": "working", "sleep": 30}, str(tmp_path / "1"))
        failure = run_until_done(executor, timeout=10)[1][-1]
        assert 0.5 <= time.monotonic() - begin < 3
        assert isinstance(failure, TrialFailed) and failure.reason == "timeout"
        assert "trial_timeout=0.5" in failure.error and "stdout: working" in failure.error
        executor.submit(2, {"sleep": 0.1, "final": 2.0}, str(tmp_path / "2"))
        assert isinstance(run_until_done(executor)[2][-1], TrialSucceeded)


def test_cancel_kills_a_running_trial_and_its_child_processes(
    local: LocalExecutor, tmp_path: Path
) -> None:
    local.submit(1, {"child_sleep": 60, "sleep": 60}, str(tmp_path / "1"))
    wait_for_start(local, 1)
    assert wait_until(lambda: (tmp_path / "1" / "child.pid").exists())
    child = int((tmp_path / "1" / "child.pid").read_text())
    local.cancel(1)
    assert local.running() == set()
    failure = run_until_done(local, {1}, timeout=5)[1][-1]
    assert isinstance(failure, TrialFailed) and failure.reason == "canceled"
    assert wait_until(lambda: not is_running(child), timeout=5)
    assert_full_capacity(local, tmp_path)


def test_processes_a_trial_starts_end_with_it_even_when_it_succeeds(
    local: LocalExecutor, tmp_path: Path
) -> None:
    local.submit(1, {"child_sleep": 60, "final": 1.0}, str(tmp_path / "1"))
    assert isinstance(run_until_done(local, {1})[1][-1], TrialSucceeded)
    child = int((tmp_path / "1" / "child.pid").read_text())
    assert wait_until(lambda: not is_running(child), timeout=5)  # not left to the next trial
    assert (
        "ended 1 process(es) this trial left running" in (tmp_path / "1" / "trial.log").read_text()
    )
    assert_full_capacity(local, tmp_path)  # the worker itself lives on


def test_trial_output_goes_to_its_log_at_file_descriptor_level(
    local: LocalExecutor, tmp_path: Path
) -> None:
    for i in range(4):  # more trials than workers: each worker's output is restored in between
        local.submit(i, {"print": f"trial {i}"}, str(tmp_path / str(i)))
    run_until_done(local)
    for i in range(4):
        log = (tmp_path / str(i) / "trial.log").read_text()
        assert f"stdout: trial {i}\n" in log and f"stderr: trial {i}\n" in log
        assert all(f"trial {j}" not in log for j in range(4) if j != i)


def test_output_of_c_code_and_subprocesses_is_captured(tmp_path: Path) -> None:
    with LocalExecutor(1) as executor:
        executor.start(_OutputRunner())
        executor.submit(0, {}, str(tmp_path / "0"))
        assert isinstance(run_until_done(executor)[0][-1], TrialSucceeded)
    log = (tmp_path / "0" / "trial.log").read_text()
    assert "from os.write" in log and "from a subprocess" in log and "from libc printf" in log


class _OutputRunner:
    def setup(self) -> None:
        pass

    def run(self, sample: dict, trial_dir: str) -> None:
        import ctypes
        import subprocess

        os.write(1, b"from os.write\n")
        subprocess.run(["echo", "from a subprocess"], check=True)
        ctypes.CDLL(None).printf(b"from libc printf\n")  # buffered by C stdio, not Python


def test_two_workers_run_in_parallel(local: LocalExecutor, tmp_path: Path) -> None:
    begin = time.monotonic()
    local.submit(1, {"sleep": 0.5}, str(tmp_path / "1"))
    local.submit(2, {"sleep": 0.5}, str(tmp_path / "2"))
    run_until_done(local)
    assert time.monotonic() - begin < 0.9


def test_the_runner_is_set_up_once_per_worker(tmp_path: Path) -> None:
    setups = tmp_path / "setups"
    with LocalExecutor(2) as executor:
        executor.start(CountingSetupRunner(str(setups)))
        for i in range(8):
            executor.submit(i, {}, str(tmp_path / str(i)))
        pids = {int(evs[-2].metric) for evs in run_until_done(executor).values()}
    assert len(setups.read_text().split()) == 2
    assert pids == set(map(int, setups.read_text().split()))


def test_shutdown_leaves_no_child_processes(tmp_path: Path) -> None:
    before = child_pids()
    executor = LocalExecutor(2)
    executor.start(ScriptedRunner())
    workers = executor.worker_pids()
    assert set(workers) <= child_pids()
    executor.submit(1, {"child_sleep": 60, "sleep": 60}, str(tmp_path / "1"))
    wait_for_start(executor, 1)
    assert wait_until(lambda: (tmp_path / "1" / "child.pid").exists())
    grandchild = int((tmp_path / "1" / "child.pid").read_text())
    begin = time.monotonic()
    executor.shutdown()
    assert time.monotonic() - begin < 2
    assert child_pids() == before
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    assert wait_until(lambda: not is_running(grandchild), timeout=5)


def test_environment_of_the_workers(tmp_path: Path) -> None:
    with LocalExecutor(2, threads_per_worker=3, gpus_per_trial=2, gpu_indices=[4, 5, 6, 7]) as ex:
        ex.start(EnvRunner())
        ex.submit(0, {"sleep": 0}, str(tmp_path / "0"))
        ex.submit(1, {"sleep": 0}, str(tmp_path / "1"))
        finals = [evs[-2].metric for evs in run_until_done(ex).values()]
    assert {(m["omp"], m["mkl"]) for m in finals} == {("3", "3")}
    # Both trials were sent at once, so each ran on its own worker, with its own GPUs.
    assert len({m["pid"] for m in finals}) == 2
    assert sorted(m["cuda"] for m in finals) == ["4,5", "6,7"]


def test_trials_without_gpus_see_none(tmp_path: Path) -> None:
    from retiarii.execution import process

    assert process.gpu_slices(2, 0, None) == ["", ""]
    assert process.gpu_slices(2, 1, ["0", "1"]) == ["0", "1"]


def test_not_enough_gpus_is_an_error_up_front() -> None:
    with pytest.raises(ValueError, match=r"needs 4 GPUs, but only 3"):
        LocalExecutor(2, gpus_per_trial=2, gpu_indices=[0, 1, 2])


def test_a_runner_that_cannot_be_unpickled_in_the_worker(tmp_path: Path) -> None:
    before = child_pids()
    with pytest.raises(RunnerSetupError, match="could not unpickle") as info:
        LocalExecutor(2).start(UnpicklableRunner())
    assert "this runner cannot be loaded here" in str(info.value)
    assert child_pids() == before


def test_a_setup_that_fails_in_replacement_workers_is_not_retried_forever(tmp_path: Path) -> None:
    flag, attempts = tmp_path / "flag", tmp_path / "attempts"
    with LocalExecutor(1) as executor:
        executor.start(FailingSetupRunner(str(flag), str(attempts)))
        flag.touch()  # from now on every new worker fails to set up
        executor.submit(1, {"crash": True}, str(tmp_path / "1"))
        executor.submit(2, {}, str(tmp_path / "2"))
        events = run_until_done(executor, timeout=20)
        assert events[1][-1].reason == "crashed"
        failure = events[2][-1]
        assert isinstance(failure, TrialFailed) and failure.reason == "error"
        assert "setup cannot reach the dataset" in failure.error
        assert executor.free_slots() == 0
        with pytest.raises(ExecutorError, match="setup cannot reach the dataset"):
            executor.submit(3, {}, str(tmp_path / "3"))
    assert len(attempts.read_text().split()) == 1 + 3  # the first worker, then three replacements


def test_threads_default_to_a_share_of_the_cpus() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert LocalExecutor(2).threads_per_worker == max(1, cpus // 2)


def test_the_driver_side_does_not_import_torch() -> None:
    code = "import sys, retiarii.execution; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_large_runner_reaches_every_worker_uncapped(tmp_path: Path) -> None:
    size = 16 * 2**20  # far past the 64 KB cap NNI had
    with LocalExecutor(2) as executor:
        executor.start(BlobRunner(size))
        executor.submit(0, {}, str(tmp_path / "0"))
        executor.submit(1, {}, str(tmp_path / "1"))
        finals = [evs[-2].metric for evs in run_until_done(executor).values()]
    assert finals == [float(size)] * 2


def test_workers_are_recycled_after_max_trials_per_worker(tmp_path: Path) -> None:
    with LocalExecutor(1, max_trials_per_worker=2) as one:
        one.start(ScriptedRunner())
        pids = []
        for trial_id in range(1, 6):
            one.submit(trial_id, {"pid": True}, str(tmp_path / str(trial_id)))
            end = run_until_done(one, {trial_id})[trial_id]
            assert isinstance(end[-1], TrialSucceeded)
            pids.append(int(next(e.metric for e in end if isinstance(e, FinalMetric))))
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]  # a fresh process every 2 trials


def test_a_trial_over_the_memory_limit_fails_with_that_reason(tmp_path: Path) -> None:
    with LocalExecutor(1, memory_limit=300 * 2**20) as one:
        one.start(ScriptedRunner())
        one.submit(1, {"allocate_mb": 600, "hold": 5}, str(tmp_path / "1"))
        failure = run_until_done(one, {1}, timeout=60)[1][-1]
        assert isinstance(failure, TrialFailed) and failure.reason == "crashed"
        assert "exceeded the memory limit" in failure.error  # not "the out-of-memory killer"
        assert "trial_memory_limit=300 MiB" in (tmp_path / "1" / "trial.log").read_text()
        one.submit(2, {"final": 1.0}, str(tmp_path / "2"))  # the worker was replaced
        assert isinstance(run_until_done(one, {2})[2][-1], TrialSucceeded)
