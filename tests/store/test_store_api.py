"""Behaviour of ExperimentStore that the experiment loop, the dashboard and the CLI rely on."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from retiarii.store import (
    EXPERIMENT_STATUSES,
    FINISHED_STATUSES,
    TRIAL_STATUSES,
    ExperimentRecord,
    ExperimentStore,
    ReadOnlyStoreError,
    SeriesPoint,
    StoreError,
    TrialFinishedError,
    TrialRecord,
    TrialStateError,
    UnknownTrialError,
)

SEARCH_SPACE = {"width": {"_type": "choice", "_value": [16, 32]}}


class Recorder:
    """Wraps a store and remembers which public attributes were used through it."""

    def __init__(self, store: ExperimentStore) -> None:
        self._store = store
        self.used: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.used.add(name)
        return getattr(self._store, name)


def public_api() -> set[str]:
    return {name for name in dir(ExperimentStore) if not name.startswith("_")}


def test_every_public_method_round_trips(db_path: Path, clock: Any) -> None:
    """One full experiment through every public method; fails if a new method is left untested."""
    store = Recorder(ExperimentStore(db_path, clock=clock))
    assert store.path == db_path
    assert store.experiment_dir == db_path.parent
    assert store.readonly is False

    exp = store.init_experiment(
        "mnist", {"max_trial_number": 3}, SEARCH_SPACE, "maximize", exp_id="abc123"
    )
    assert exp == store.experiment()
    assert exp.id == "abc123" and exp.status == "created" and exp.optimize_mode == "maximize"
    assert exp.config == {"max_trial_number": 3} and exp.search_space == SEARCH_SPACE
    store.set_status("running")
    store.update_info({"version": "0.1"})
    store.update_info({"host": "x"})
    assert store.experiment().info == {"version": "0.1", "host": "x"}
    assert store.experiment().status == "running"

    sample = {"width": 32, "op": "conv3x3", "skip": [0, 1], "ünï": {"nested": None}}
    first = store.create_trial(sample)
    second = store.create_trial({"width": 16})
    assert (first, second) == (1, 2)
    store.mark_running(first, worker=4242, log_path=db_path.parent / "trials" / "1.log")
    assert store.add_intermediate(first, 0.5) == 0
    assert store.add_intermediate(first, {"default": 0.6, "loss": 1.2}) == 1
    store.set_final(first, {"default": 0.9, "loss": 0.3})
    done = store.finish_trial(first, "SUCCEEDED")
    store.finish_trial(second, "FAILED", error="Traceback ...\nValueError: boom")

    assert done == store.trial(first)
    assert done.sample == sample
    assert done.status == "SUCCEEDED" and done.finished
    assert done.final == {"default": 0.9, "loss": 0.3} and done.final_value == 0.9
    assert done.worker == "4242" and done.log_path == "trials/1.log"
    assert done.started_at is not None and done.ended_at is not None
    assert done.created_at < done.started_at < done.ended_at
    assert done.duration == done.ended_at - done.started_at
    assert store.trial(second).error == "Traceback ...\nValueError: boom"
    assert store.trial(second).duration is None  # never started

    assert [(r.sequence, r.value, r.value_num) for r in store.intermediates(first)] == [
        (0, 0.5, 0.5),
        (1, {"default": 0.6, "loss": 1.2}, 0.6),
    ]
    assert len(store.intermediates()) == 2

    third = store.create_trial({"width": 32})
    store.mark_running(third)
    interrupted = store.interrupt_unfinished()
    assert [(t.id, t.sample, t.status) for t in interrupted] == [
        (third, {"width": 32}, "INTERRUPTED")
    ]

    assert [t.id for t in store.trials()] == [1, 2, 3]
    assert [t.id for t in store.trials("FAILED")] == [2]
    assert [t.id for t in store.best_trials(5)] == [1]
    assert store.answer(5) == store.best_trials(5)  # multi-trial: the answer is the best
    assert store.counts() == {
        "WAITING": 0,
        "RUNNING": 0,
        "SUCCEEDED": 1,
        "FAILED": 1,
        "TIMEOUT": 0,
        "CANCELED": 0,
        "INTERRUPTED": 1,
        "EARLY_STOPPED": 0,
    }

    assert store.strategy_state() is None
    store.save_strategy_state({"rng": [1, 2, 3], "population": [{"width": 16}]})
    store.save_strategy_state({"rng": [4], "population": []})
    assert store.strategy_state() == {"rng": [4], "population": []}

    assert store.add_series("train/loss", 2.5) == 0
    assert store.add_series("train/loss", 2.0) == 1
    assert store.add_series("arch/probs", {"op": [0.2, 0.8]}, epoch=0) == 0
    assert store.series_names() == ["arch/probs", "train/loss"]
    assert [(p.step, p.value) for p in store.series("train/loss")] == [(0, 2.5), (1, 2.0)]
    assert len(store.series()) == 3
    assert store.last_series_point("train/loss").value == 2.0  # type: ignore[union-attr]
    assert store.last_series_point("nothing") is None

    # what the dashboard reads: slim rows, change cursors, numeric curves
    slim = store.trial_summaries()
    assert [t.id for t in slim] == [1, 2, 3] and all(t.final is None for t in slim)
    assert slim[0].final_value == 0.9 and slim[0].sample == sample
    stamp, rowid = store.change_cursor()
    assert rowid == store.intermediate_cursor() == 2
    assert store.trial_summaries(changed_since=stamp + 1) == []
    assert store.trial_summaries(changed_since=stamp) != []  # the last-stamped trial
    assert [t.id for t in store.trial_summaries_of([1], after_id=2)] == [1, 3]
    assert store.intermediate_points() == {1: ([0, 1], [0.5, 0.6])}
    assert store.intermediate_points(after_rowid=1) == {1: ([0, 1], [0.5, 0.6])}
    assert store.intermediate_points(after_rowid=2) == store.intermediate_points([2]) == {}
    assert store.latest_intermediates([1, 2]) == {1: 0.6}
    assert isinstance(store.data_version(), int)

    store.close()
    store.close()  # harmless twice
    with pytest.raises(StoreError, match="closed"):
        store.trials()

    missing = public_api() - store.used
    assert not missing, f"public methods not exercised by this test: {sorted(missing)}"

    # Everything is still there for a reader, in a new connection.
    with ExperimentStore(db_path, readonly=True) as reader:
        assert reader.experiment().info == {"version": "0.1", "host": "x"}
        assert reader.trial(first) == done
        assert reader.strategy_state() == {"rng": [4], "population": []}
        assert len(reader.series()) == 3


def test_records_are_frozen_and_typed(store: ExperimentStore) -> None:
    store.init_experiment("e", {}, {}, "minimize")
    trial = store.trial(store.create_trial({"a": 1}))
    assert isinstance(trial, TrialRecord)
    assert isinstance(store.experiment(), ExperimentRecord)
    with pytest.raises(AttributeError):
        trial.status = "RUNNING"  # type: ignore[misc]


def test_generated_experiment_ids_are_short_and_distinct(tmp_path: Path) -> None:
    ids = set()
    for i in range(5):
        with ExperimentStore(tmp_path / str(i) / "experiment.db") as store:
            ids.add(store.init_experiment("e", {}, {}, "maximize").id)
    assert len(ids) == 5
    assert all(len(i) == 8 and i.isalnum() for i in ids)


def test_init_experiment_only_once(store: ExperimentStore) -> None:
    store.init_experiment("e", {}, {}, "maximize", exp_id="first")
    with pytest.raises(StoreError, match="already holds experiment 'first'"):
        store.init_experiment("e", {}, {}, "maximize")


def test_experiment_writes_need_init(store: ExperimentStore) -> None:
    with pytest.raises(StoreError, match="init_experiment"):
        store.experiment()
    with pytest.raises(StoreError, match="init_experiment"):
        store.set_status("running")
    with pytest.raises(StoreError, match="init_experiment"):
        store.update_info({"a": 1})


# ---------------------------------------------------------------- finished trials are immutable


@pytest.mark.parametrize("status", sorted(FINISHED_STATUSES))
def test_finished_trials_are_never_modified(store: ExperimentStore, status: str) -> None:
    trial_id = store.create_trial({"a": 1})
    store.mark_running(trial_id)
    store.add_intermediate(trial_id, 0.1)
    store.finish_trial(trial_id, status, final=0.5 if status == "SUCCEEDED" else None)
    before = store.trial(trial_id)

    writes = [
        lambda: store.mark_running(trial_id),
        lambda: store.add_intermediate(trial_id, 0.2),
        lambda: store.set_final(trial_id, 0.7),
        lambda: store.finish_trial(trial_id, "FAILED", error="late"),
        lambda: store.finish_trial(trial_id, status),
    ]
    for write in writes:
        with pytest.raises(TrialFinishedError, match=f"trial {trial_id} .*{status}") as info:
            write()
        assert info.value.trial_id == trial_id and info.value.status == status

    assert store.trial(trial_id) == before
    assert len(store.intermediates(trial_id)) == 1
    assert store.interrupt_unfinished() == []


def test_unknown_trial_is_a_clear_key_error(store: ExperimentStore) -> None:
    with pytest.raises(UnknownTrialError, match="no trial with id 7") as info:
        store.trial(7)
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "no trial with id 7 in this experiment"
    for write in (
        lambda: store.mark_running(7),
        lambda: store.add_intermediate(7, 1.0),
        lambda: store.set_final(7, 1.0),
        lambda: store.finish_trial(7, "FAILED"),
        lambda: store.create_trial({"a": 1}, resumed_from=7),
    ):
        with pytest.raises(KeyError):
            write()
    with pytest.raises(TypeError, match="trial id is an int"):
        store.trial("1")  # type: ignore[arg-type]


def test_invalid_status_lists_the_allowed_ones(store: ExperimentStore) -> None:
    trial_id = store.create_trial({"a": 1})
    with pytest.raises(ValueError, match=r"invalid finished trial status 'DONE'.*SUCCEEDED"):
        store.finish_trial(trial_id, "DONE")
    with pytest.raises(ValueError, match="RUNNING"):
        store.trials("running")
    store.init_experiment("e", {}, {}, "maximize")
    with pytest.raises(ValueError, match=", ".join(EXPERIMENT_STATUSES)):
        store.set_status("finished")
    with pytest.raises(ValueError, match="maximize, minimize"):
        store.best_trials(1, "max")
    assert store.trial(trial_id).status == "WAITING"


def test_mark_running_only_from_waiting(store: ExperimentStore) -> None:
    trial_id = store.create_trial({"a": 1})
    store.mark_running(trial_id, worker="w1")
    with pytest.raises(TrialStateError, match="already RUNNING"):
        store.mark_running(trial_id, worker="w2")
    assert store.trial(trial_id).worker == "w1"


def test_metrics_before_running_and_final_before_end(store: ExperimentStore) -> None:
    """Events may arrive before the RUNNING mark; the final metric precedes the end."""
    trial_id = store.create_trial({"a": 1})
    store.add_intermediate(trial_id, 1)
    store.set_final(trial_id, 0.25)
    store.set_final(trial_id, 0.5)  # replaced while unfinished
    assert store.trial(trial_id).final == 0.5
    assert store.trial(trial_id).status == "WAITING"
    assert store.finish_trial(trial_id, "CANCELED").final_value == 0.5


def test_failed_write_changes_nothing(store: ExperimentStore) -> None:
    trial_id = store.create_trial({"a": 1})
    with pytest.raises(ValueError):
        store.finish_trial(trial_id, "SUCCEEDED", final=math.nan)
    assert store.trial(trial_id).status == "WAITING"
    assert store.trial(trial_id).final is None


# ---------------------------------------------------------------- metrics and samples


@pytest.mark.parametrize(
    ("metric", "error", "message"),
    [
        ("0.9", TypeError, "intermediate metric of trial 1: metric must be a number"),
        (None, TypeError, "intermediate metric of trial 1: metric must be a number"),
        (True, TypeError, "must be a number"),
        ({"acc": 0.9}, ValueError, "needs a 'default' key"),
        ({"default": "high"}, TypeError, r"metric\['default'\] must be a number"),
        (math.nan, ValueError, "NaN"),
        (math.inf, ValueError, "infinite"),
        ({"default": 1.0, "extra": object()}, TypeError, "JSON-serializable"),
        ({"default": 1.0, "extra": math.nan}, ValueError, r"metric\['extra'\] is NaN"),
        ({"default": 1.0, "extra": math.inf}, ValueError, r"metric\[.extra.\] is infinite"),
    ],
)
def test_malformed_metric_is_rejected_clearly(
    store: ExperimentStore, metric: Any, error: type[Exception], message: str
) -> None:
    trial_id = store.create_trial({"a": 1})
    with pytest.raises(error, match=message):
        store.add_intermediate(trial_id, metric)
    with pytest.raises(error):
        store.set_final(trial_id, metric)
    assert store.intermediates(trial_id) == []
    assert store.trial(trial_id).final is None


def test_numpy_scalars_are_accepted_as_metrics(store: ExperimentStore) -> None:
    np = pytest.importorskip("numpy")
    trial_id = store.create_trial({"a": 1})
    store.add_intermediate(trial_id, np.float32(0.5))
    store.set_final(trial_id, {"default": np.float64(0.75), "epochs": np.int64(3)})
    assert store.intermediates(trial_id)[0].value == 0.5
    final = store.trial(trial_id).final
    assert final == {"default": 0.75, "epochs": 3.0}
    assert type(final["default"]) is float  # type: ignore[index]


def test_samples_must_be_json_dicts(store: ExperimentStore) -> None:
    with pytest.raises(TypeError, match="a sample must be a dict"):
        store.create_trial([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sample labels must be strings, got 3"):
        store.create_trial({3: "a"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="sample label 'op'"):
        store.create_trial({"op": object()})
    with pytest.raises(ValueError, match="sample label 'lr'"):
        store.create_trial({"lr": math.inf})
    assert store.trials() == []
    # Stored in JSON form: a tuple comes back as a list.
    trial_id = store.create_trial({"kernel": (3, 3)})
    assert store.trial(trial_id).sample == {"kernel": [3, 3]}


def test_non_json_config_and_state_are_rejected(store: ExperimentStore) -> None:
    with pytest.raises(TypeError, match="experiment config must be JSON-serializable"):
        store.init_experiment("e", {"path": Path("/x")}, {}, "maximize")
    with pytest.raises(TypeError, match="strategy state must be JSON-serializable"):
        store.save_strategy_state({"rng": object()})
    with pytest.raises(ValueError, match="series 'loss' contains NaN"):
        store.add_series("loss", math.nan)
    assert store.strategy_state() is None and store.series() == []


# ---------------------------------------------------------------- resume, best trials, series


def test_interrupt_unfinished_returns_what_to_rerun(store: ExperimentStore) -> None:
    waiting = store.create_trial({"w": 1})
    running = store.create_trial({"w": 2})
    done = store.create_trial({"w": 3})
    store.mark_running(running)
    store.mark_running(done)
    store.finish_trial(done, "SUCCEEDED", final=1.0)

    interrupted = store.interrupt_unfinished()
    assert [t.id for t in interrupted] == [waiting, running]
    assert [t.sample for t in interrupted] == [{"w": 1}, {"w": 2}]
    assert all(t.status == "INTERRUPTED" and t.ended_at is not None for t in interrupted)
    assert store.trial(done).status == "SUCCEEDED"
    assert store.interrupt_unfinished() == []

    rerun = store.create_trial(interrupted[1].sample, resumed_from=interrupted[1].id)
    assert store.trial(rerun).resumed_from == running
    assert store.trial(rerun).status == "WAITING"


def _finished(store: ExperimentStore, value: float | None, status: str = "SUCCEEDED") -> int:
    trial_id = store.create_trial({"v": value})
    store.mark_running(trial_id)
    return store.finish_trial(trial_id, status, final=value).id


def test_best_trials_maximize_and_minimize(store: ExperimentStore) -> None:
    store.init_experiment("e", {}, {}, "minimize")
    a = _finished(store, 0.5)
    b = _finished(store, 0.9)
    c = _finished(store, 0.1)
    d = _finished(store, 0.9)  # tie with b: lower id first
    _finished(store, 5.0, status="FAILED")  # a failed trial never counts
    _finished(store, None)  # succeeded without a final metric: not ranked
    store.create_trial({"v": 100})  # unfinished

    assert [t.id for t in store.best_trials(3, "maximize")] == [b, d, a]
    assert [t.id for t in store.best_trials(10, "minimize")] == [c, a, b, d]
    assert [t.id for t in store.best_trials()] == [c]  # the experiment's optimize_mode
    assert store.best_trials(0) == []
    with pytest.raises(ValueError, match="non-negative"):
        store.best_trials(-1)


def test_answer_of_a_oneshot_search_is_its_newest_export(store: ExperimentStore) -> None:
    store.init_experiment("e", {}, {}, "maximize", info={"oneshot": True})
    first = _finished(store, 0.9)  # the first run's export, better metric
    _finished(store, 0.1, status="FAILED")
    resumed = _finished(store, None)  # a resumed run stopped before an epoch: no metric
    assert [t.id for t in store.answer(5)] == [resumed, first]  # newest first, both kept
    assert [t.id for t in store.answer(1, "minimize")] == [resumed]  # the mode does not rank
    assert [t.id for t in store.answer(1, oneshot=False)] == [first]  # as the caller says
    assert store.answer(0) == []
    with pytest.raises(ValueError, match="non-negative"):
        store.answer(-1)


def test_trials_filter_by_several_statuses(store: ExperimentStore) -> None:
    ok = _finished(store, 1.0)
    bad = _finished(store, None, status="TIMEOUT")
    waiting = store.create_trial({"v": 1})
    assert [t.id for t in store.trials(["SUCCEEDED", "TIMEOUT"])] == [ok, bad]
    assert [t.id for t in store.trials("WAITING")] == [waiting]
    assert set(store.counts()) == set(TRIAL_STATUSES)


def test_series_steps_epochs_and_values(store: ExperimentStore) -> None:
    assert store.add_series("loss", 3.0, epoch=0) == 0
    assert store.add_series("loss", 2.0, epoch=0) == 1
    assert store.add_series("loss", 1.0, step=10, epoch=1) == 10
    assert store.add_series("loss", 0.5) == 11
    assert store.add_series("alpha", {"cell1": [0.1, 0.9]}, epoch=1) == 0
    points = store.series("loss")
    assert [(p.step, p.epoch, p.value, p.value_num) for p in points] == [
        (0, 0, 3.0, 3.0),
        (1, 0, 2.0, 2.0),
        (10, 1, 1.0, 1.0),
        (11, None, 0.5, 0.5),
    ]
    (alpha,) = store.series("alpha")
    assert alpha == SeriesPoint("alpha", 0, 1, {"cell1": [0.1, 0.9]}, None, alpha.timestamp)
    assert [p.name for p in store.series()] == ["alpha"] + ["loss"] * 4
    assert store.series("nothing") == []
    with pytest.raises(ValueError, match="series name"):
        store.add_series("", 1.0)


def test_log_path_outside_experiment_dir_is_kept_absolute(
    store: ExperimentStore, tmp_path: Path
) -> None:
    inside = store.create_trial({"a": 1})
    outside = store.create_trial({"a": 2})
    store.mark_running(inside, log_path="trials/1/log.txt")
    store.mark_running(outside, log_path=tmp_path / "elsewhere.log")
    assert store.trial(inside).log_path == "trials/1/log.txt"
    assert store.trial(outside).log_path == str(tmp_path / "elsewhere.log")


# ---------------------------------------------------------------- read-only stores


def test_readonly_store_refuses_every_write(store: ExperimentStore, db_path: Path) -> None:
    store.init_experiment("e", {}, {}, "maximize")
    trial_id = store.create_trial({"a": 1})
    with ExperimentStore(db_path, readonly=True) as reader:
        assert reader.readonly
        writes = {
            "init_experiment": lambda: reader.init_experiment("e", {}, {}, "maximize"),
            "set_status": lambda: reader.set_status("done"),
            "update_info": lambda: reader.update_info({"a": 1}),
            "create_trial": lambda: reader.create_trial({"a": 1}),
            "mark_running": lambda: reader.mark_running(trial_id),
            "add_intermediate": lambda: reader.add_intermediate(trial_id, 1.0),
            "set_final": lambda: reader.set_final(trial_id, 1.0),
            "finish_trial": lambda: reader.finish_trial(trial_id, "FAILED"),
            "interrupt_unfinished": reader.interrupt_unfinished,
            "save_strategy_state": lambda: reader.save_strategy_state({}),
            "add_series": lambda: reader.add_series("loss", 1.0),
        }
        for method, write in writes.items():
            with pytest.raises(ReadOnlyStoreError, match=rf"{method}\(\) needs a writable store"):
                write()
        assert reader.trial(trial_id).status == "WAITING"
        assert reader.counts()["WAITING"] == 1


def test_readonly_store_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no experiment store"):
        ExperimentStore(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_a_trial_and_the_strategy_state_that_proposed_it_are_saved_together(
    store: ExperimentStore,
) -> None:
    store.init_experiment("atomic", {}, {}, "maximize")
    first = store.create_trial({"a": 1}, strategy_state={"position": 1})
    assert store.strategy_state() == {"position": 1}
    # a state that cannot be saved leaves no trial behind either (one transaction)
    with pytest.raises((TypeError, ValueError)):
        store.create_trial({"a": 2}, strategy_state={"position": math.nan})
    assert [t.id for t in store.trials()] == [first]
    assert store.strategy_state() == {"position": 1}
    store.create_trial({"a": 2}, strategy_state={"position": 2})
    assert store.strategy_state() == {"position": 2} and len(store.trials()) == 2
