"""Failing trials: the trial fails with a reason in the store; the experiment carries on."""

from __future__ import annotations

from pathlib import Path

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store import TrialRecord

from .helpers import make_config
from .spaces import ModeNet, misbehave


def _run(tmp_path: Path, behaviours: dict[int, str], **fields) -> RetiariiExperiment:
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(misbehave, behaviours=behaviours),
        None,
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, **fields))
    return exp


def _by_mode(exp: RetiariiExperiment) -> dict[int, TrialRecord]:
    trials = exp.list_trial_jobs()
    assert len(trials) == 8, [(t.id, t.status) for t in trials]
    return {t.sample["mode"]: t for t in trials}


# -- in-process: what user code does wrong ------------------------------------------------------------


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory) -> dict[int, TrialRecord]:
    exp = _run(
        tmp_path_factory.mktemp("failures"),
        {2: "raise", 3: "nonnumber", 4: "nan", 5: "inf", 6: "inf_intermediate"},
        execution="inprocess",
    )
    assert exp.get_status() == "DONE"
    return _by_mode(exp)


def test_raising_evaluator_fails_its_trial_with_the_traceback(inprocess) -> None:
    trial = inprocess[2]
    assert trial.status == "FAILED"
    assert trial.final is None
    assert "Traceback" in trial.error
    assert "RuntimeError: evaluator exploded on purpose (mode 2)" in trial.error
    assert "misbehave" in trial.error  # the user's frame, by name


def test_the_experiment_continues_after_failures(inprocess) -> None:
    for mode in (1, 7, 8):
        assert inprocess[mode].status == "SUCCEEDED"
        assert inprocess[mode].final == float(mode)
    assert inprocess[2].id < inprocess[7].id


def test_reporting_a_non_number_fails_with_a_clear_message(inprocess) -> None:
    trial = inprocess[3]
    assert trial.status == "FAILED"
    assert "must be a number" in trial.error
    assert "'high'" in trial.error


def test_reporting_nan_fails(inprocess) -> None:
    assert inprocess[4].status == "FAILED"
    assert "NaN" in inprocess[4].error


def test_reporting_infinity_fails_the_trial_not_the_experiment(inprocess) -> None:
    # The store refuses infinite metrics; that must fail the trial, not crash the experiment.
    for mode in (5, 6):
        trial = inprocess[mode]
        assert trial.status == "FAILED", trial
        assert "infinite" in trial.error


def test_returning_a_number_instead_of_reporting(tmp_path) -> None:
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(lambda model: model.fc.out_features / 10),
        None,
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=2))
    assert [t.final for t in exp.list_trial_jobs()] == [0.1, 0.2]


def test_returning_a_non_metric_succeeds_without_a_metric(tmp_path) -> None:
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(lambda model: model),
        None,
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=2))
    trials = exp.list_trial_jobs()
    assert [(t.status, t.final) for t in trials] == [("SUCCEEDED", None)] * 2
    assert exp.export_top_models() == []


# -- in worker processes: crashes and timeouts ---------------------------------------------------------


@pytest.fixture(scope="module")
def processes(tmp_path_factory) -> dict[int, TrialRecord]:
    exp = _run(
        tmp_path_factory.mktemp("crashes"),
        {2: "raise", 3: "exit", 4: "sigkill", 5: "hang", 6: "nonnumber"},
        trial_concurrency=2,
        trial_timeout="3s",
    )
    assert exp.get_status() == "DONE"
    return _by_mode(exp)


@pytest.mark.slow
def test_worker_exit_fails_only_its_trial(processes) -> None:
    trial = processes[3]
    assert trial.status == "FAILED"
    assert "exited with code 1" in trial.error
    assert "mode 3: exit" in trial.error  # the end of the trial's log


@pytest.mark.slow
def test_worker_killed_by_a_signal_fails_only_its_trial(processes) -> None:
    trial = processes[4]
    assert trial.status == "FAILED"
    assert "SIGKILL" in trial.error


@pytest.mark.slow
def test_trial_timeout(processes) -> None:
    trial = processes[5]
    assert trial.status == "TIMEOUT"
    assert "trial_timeout" in trial.error
    assert trial.duration is not None and 2.5 < trial.duration < 20


@pytest.mark.slow
def test_evaluator_errors_in_a_worker(processes) -> None:
    assert processes[2].status == "FAILED"
    assert "RuntimeError: evaluator exploded on purpose (mode 2)" in processes[2].error
    assert processes[6].status == "FAILED"
    assert "must be a number" in processes[6].error


@pytest.mark.slow
def test_other_trials_succeed_on_replacement_workers(processes) -> None:
    for mode in (1, 7, 8):
        assert processes[mode].status == "SUCCEEDED"
        assert processes[mode].final == float(mode)
    crashed_workers = {processes[3].worker, processes[4].worker}
    assert processes[7].worker not in crashed_workers
    assert processes[8].worker not in crashed_workers


# -- retries of trials whose worker died ---------------------------------------------------------------


class TellLog(strategy.GridSearch):
    """GridSearch that remembers what it was told."""

    def __init__(self) -> None:
        super().__init__(shuffle=False)
        self.told: list[tuple[int, str]] = []

    def tell(self, result) -> None:
        self.told.append((result.sample["mode"], result.status))
        super().tell(result)


def test_a_crashed_trial_is_retried_and_does_not_use_the_budget(tmp_path: Path) -> None:
    from .spaces import crash_first_attempt

    flags = tmp_path / "flags"
    flags.mkdir()
    tell_log = TellLog()
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(crash_first_attempt, flags=str(flags), modes=[2, 5]),
        None,
        tell_log,
    )
    exp.run(make_config(tmp_path, trial_concurrency=2, max_trial_number=8, max_trial_retries=1))
    trials = exp.list_trial_jobs()
    crashed = [t for t in trials if t.status == "FAILED"]
    assert sorted(t.sample["mode"] for t in crashed) == [2, 5]
    assert all("retry 1 of 1" in (t.error or "") for t in crashed)
    for trial in crashed:
        (retry,) = [t for t in trials if t.resumed_from == trial.id]
        assert retry.sample == trial.sample and retry.status == "SUCCEEDED"
    # the budget of 8 is 8 distinct samples; the strategy heard once of each, never of a crash
    succeeded = [t for t in trials if t.status == "SUCCEEDED"]
    assert sorted(t.sample["mode"] for t in succeeded) == list(range(1, 9))
    assert sorted(tell_log.told) == [(mode, "SUCCEEDED") for mode in range(1, 9)]


def test_without_retries_a_crashed_trial_stays_failed(tmp_path: Path) -> None:
    from .spaces import crash_first_attempt

    flags = tmp_path / "flags"
    flags.mkdir()
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(crash_first_attempt, flags=str(flags), modes=[3]),
        None,
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, trial_concurrency=2, max_trial_number=4))
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert all(t.resumed_from is None for t in trials)


class _HoldsALock:
    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()


def test_an_unpicklable_evaluator_is_named_and_leaves_nothing_behind(tmp_path) -> None:
    import pytest

    import retiarii.strategy as strategy
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment.pytorch import RetiariiExperiment

    from .helpers import make_config
    from .spaces import TinyNet, score_tiny

    def fit(model, state):
        return score_tiny(model)

    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(fit, state={"cache": _HoldsALock()}), None, strategy.Random()
    )
    with pytest.raises(
        TypeError,
        match=r"cannot pickle experiment\['evaluator'\]\.arguments\['state'\]\['cache'\]\.lock \(a _thread\.lock\)",
    ):
        exp.run(make_config(tmp_path, max_trial_number=1))
    assert list(tmp_path.iterdir()) == []  # no empty experiment directory


def test_a_failed_start_marks_the_experiment_failed_with_the_reason(tmp_path) -> None:
    import socket

    import pytest

    import retiarii.strategy as strategy
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment.pytorch import RetiariiExperiment

    from .helpers import make_config
    from .spaces import TinyNet, score_tiny

    exp = RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny), None, strategy.Random())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError, match="choose another port"):
            exp.run(make_config(tmp_path, max_trial_number=1), busy.getsockname()[1])
    record = exp.store.experiment()
    assert record.status == "failed"  # not 'created' for good
    assert record.info["end_reason"].startswith("could not start: OSError")
    assert "choose another port" in record.info["end_reason"]


def test_a_trial_that_prints_gigabytes_cannot_fill_the_disk(tmp_path) -> None:
    import retiarii.strategy as strategy
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment.pytorch import RetiariiExperiment

    from .helpers import make_config
    from .spaces import TinyNet, print_a_lot

    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(print_a_lot, megabytes=4), None, strategy.Random()
    )
    exp.run(make_config(tmp_path, max_trial_number=1, trial_log_limit="64KB"))
    (trial,) = exp.store.trials()
    assert trial.status == "SUCCEEDED"
    log = (exp.experiment_dir / "trials" / "1" / "trial.log").read_bytes()
    assert len(log) <= 64 * 1024 + 1024  # 4 MB printed
    assert log.startswith(b"START OF THE TRIAL") and log.rstrip().endswith(b"END OF THE TRIAL")
    assert b"were dropped here to keep the log under trial_log_limit=65536 bytes" in log
