"""Early stopping inside experiments: statuses, what the strategy is told, budget, prompt stop in
worker processes, a trial that ignores the stop, and resume with a pruner."""

from __future__ import annotations

import time

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment import MedianStop, Pruner, RetiariiExperiment, SuccessiveHalving
from retiarii.experiment.callbacks import ExperimentCallback
from retiarii.experiment.engine import ExperimentLoop
from retiarii.strategy import TrialResult

from .helpers import make_config
from .pruning_spaces import curve, stubborn_curve
from .spaces import TinyNet


class StopAfterTrials(MedianStop):
    """MedianStop that also stops the experiment once ``n`` trials (of all runs) have ended."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def on_trial_ended(self, loop: ExperimentLoop, trial) -> None:
        super().on_trial_ended(loop, trial)
        if len(self.history) == self.n:
            loop.stop_event.set()


class Told(strategy.GridSearch):
    """GridSearch that remembers what it was told."""

    def tell(self, result: TrialResult) -> None:
        self.__dict__.setdefault("told", []).append(result)
        super().tell(result)


def _run(tmp_path, execution="inprocess", pruner=None, evaluator=None, search=None, **fields):
    exp = RetiariiExperiment(
        TinyNet(),
        evaluator or FunctionalEvaluator(curve),
        None,
        search or strategy.GridSearch(shuffle=False),
        pruner=pruner if pruner is not None else MedianStop(),
    )
    exp.run(make_config(tmp_path, execution=execution, **fields))
    return exp


def test_in_process_pruned_trials_stop_at_the_report_that_decided(tmp_path) -> None:
    search = Told(shuffle=False)
    exp = _run(tmp_path, search=search, max_trial_number=6)
    trials = exp.list_trial_jobs()
    # quality 3.0 and 3.5 first (they complete), then every other trial is below the median
    assert [t.status for t in trials] == ["SUCCEEDED"] * 2 + ["EARLY_STOPPED"] * 4
    for trial in trials[2:]:
        steps = exp.store.intermediates(trial.id)
        assert len(steps) == 1  # in-process, the decision reaches the very report it was made on
        assert trial.final_value == steps[-1].value_num  # the last intermediate is the metric
        assert trial.error.startswith("MedianStop: best result")
    told = {result.trial_id: result for result in search.told}
    assert [told[t.id].status for t in trials] == [t.status for t in trials]
    assert all(told[t.id].value == t.final_value for t in trials)
    assert all(told[t.id].succeeded for t in trials)  # strategies learn from pruned trials
    # the returned architecture is a trial that ran to the end
    assert exp.export_top_models(1)[0] == trials[1].sample


def test_pruned_trials_count_in_the_budget(tmp_path) -> None:
    exp = _run(tmp_path, max_trial_number=4)
    counts = exp.store.counts()
    assert counts["SUCCEEDED"] + counts["EARLY_STOPPED"] == 4 == len(exp.list_trial_jobs())
    assert counts["EARLY_STOPPED"] == 2
    assert exp.store.experiment().info["end_reason"] == "max_trial_number reached"


def test_a_worker_process_stops_promptly_and_is_reused(tmp_path) -> None:
    exp = _run(
        tmp_path,
        "process",
        evaluator=FunctionalEvaluator(curve, steps=20, delay=0.1),
        max_trial_number=4,
        trial_concurrency=1,
    )
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 2 + ["EARLY_STOPPED"] * 2
    assert len({t.worker for t in trials}) == 1  # no worker was killed
    for trial in trials[2:]:
        steps = exp.store.intermediates(trial.id)
        # decided on step 1; the worker sees it asynchronously, usually at its next report,
        # a little later on a busy machine: long before its 20 steps (2 s)
        assert 1 <= len(steps) <= 12, len(steps)
        assert trial.final_value == steps[-1].value_num
        log = (exp.experiment_dir / "trials" / str(trial.id) / "trial.log").read_text()
        assert f"trial {trial.id} early-stopped: MedianStop" in log


@pytest.mark.parametrize("pruner", [MedianStop(), SuccessiveHalving(reduction_factor=2)])
def test_concurrent_worker_processes_and_the_budget(tmp_path, pruner) -> None:
    exp = _run(
        tmp_path,
        "process",
        pruner=pruner,
        evaluator=FunctionalEvaluator(curve, steps=10, delay=0.05),
        max_trial_number=6,
        trial_concurrency=2,
    )
    trials = exp.list_trial_jobs()
    assert len(trials) == 6
    assert {t.status for t in trials} <= {"SUCCEEDED", "EARLY_STOPPED"}
    assert any(t.status == "EARLY_STOPPED" for t in trials)
    assert len({t.worker for t in trials}) == 2  # two workers, neither killed
    for trial in trials:
        if trial.status == "EARLY_STOPPED":
            assert len(exp.store.intermediates(trial.id)) < 10


def test_a_trial_that_ignores_the_stop_is_canceled_after_the_timeout(tmp_path) -> None:
    start = time.monotonic()
    exp = _run(
        tmp_path,
        "process",
        pruner=MedianStop(stop_timeout=1.0),
        evaluator=FunctionalEvaluator(stubborn_curve),
        max_trial_number=3,
        trial_concurrency=1,
    )
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED", "SUCCEEDED", "EARLY_STOPPED"]
    stubborn = trials[2]
    assert "did not stop by itself in time" in stubborn.error
    assert stubborn.final_value == exp.store.intermediates(stubborn.id)[-1].value_num
    log = (exp.experiment_dir / "trials" / str(stubborn.id) / "trial.log").read_text()
    assert "ignoring the stop" in log
    assert time.monotonic() - start < 60


def test_resume_with_a_pruner_decides_as_an_uninterrupted_run(tmp_path) -> None:
    whole = _run(tmp_path / "whole", max_trial_number=6)
    expected = [(t.sample, t.status, t.final_value) for t in whole.list_trial_jobs()]
    whole.close()

    first = _run(tmp_path / "parts", pruner=StopAfterTrials(3), max_trial_number=6)
    assert first.get_status() == "STOPPED"
    assert len(first.list_trial_jobs()) == 3
    directory = first.experiment_dir
    first.close()
    resumed = RetiariiExperiment.resume(directory)
    assert isinstance(resumed.pruner, StopAfterTrials)
    got = [(t.sample, t.status, t.final_value) for t in resumed.list_trial_jobs()]
    assert got == expected
    resumed.close()


def test_pruner_rebuilds_its_state_from_the_store(tmp_path) -> None:
    exp = _run(tmp_path, max_trial_number=6)
    pruner = exp.pruner
    fresh = MedianStop()

    class _Loop:
        store = exp.store

    fresh.on_experiment_start(_Loop())  # type: ignore[arg-type]
    assert (fresh.history, fresh.completed, fresh.pruned) == (
        pruner.history,
        pruner.completed,
        pruner.pruned,
    )


def test_callbacks_hear_every_hook_in_order(tmp_path) -> None:
    heard: list[tuple] = []

    class Listen(ExperimentCallback):
        def on_experiment_start(self, loop):
            heard.append(("start",))

        def on_trial_started(self, loop, trial_id):
            heard.append(("started", trial_id))

        def on_intermediate_result(self, loop, trial_id, step, value):
            heard.append(("intermediate", trial_id, step))

        def on_trial_ended(self, loop, trial):
            heard.append(("ended", trial.id, trial.status))

        def on_experiment_end(self, loop, reason):
            heard.append(("end", reason))

    class Both(MedianStop):
        def __init__(self) -> None:
            super().__init__()
            self.listen = Listen()

        def __getattribute__(self, name):  # forward every hook to Listen too
            attr = object.__getattribute__(self, name)
            if name.startswith("on_"):
                other = getattr(object.__getattribute__(self, "listen"), name)

                def both(*args):
                    other(*args)
                    return attr(*args)

                return both
            return attr

    _run(tmp_path, pruner=Both(), max_trial_number=3)
    assert heard[0] == ("start",) and heard[-1] == ("end", "max_trial_number reached")
    assert heard[1:7] == [("started", 1)] + [("intermediate", 1, s) for s in range(1, 6)]
    assert ("ended", 3, "EARLY_STOPPED") in heard


def test_pruner_must_be_a_pruner() -> None:
    with pytest.raises(TypeError, match="pruner must be"):
        RetiariiExperiment(TinyNet(), FunctionalEvaluator(curve), pruner=object())
    assert issubclass(MedianStop, Pruner)
