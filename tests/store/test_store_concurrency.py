"""One writer, many readers, several threads, and a writer killed mid-experiment."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from retiarii.store import ExperimentStore, StoreLockedError


def test_reader_reads_while_writer_is_mid_transaction(db_path: Path) -> None:
    """A reader never waits for the writer, and sees only committed state."""
    seen: list[list[int]] = []
    reader: ExperimentStore | None = None

    def clock_that_reads() -> float:
        # Called by the writer inside its write transaction.
        if reader is not None:
            seen.append([t.id for t in reader.trials()])
        return time.time()

    with ExperimentStore(db_path, clock=clock_that_reads) as writer:
        first = writer.create_trial({"a": 1})
        reader = ExperimentStore(db_path, readonly=True)
        writer.create_trial({"a": 2})
        assert seen == [[first]]  # the second trial was not committed yet
        assert [t.id for t in reader.trials()] == [1, 2]
        reader.close()


def test_reader_in_another_process_while_writer_writes(db_path: Path, spawn_python: Any) -> None:
    with ExperimentStore(db_path) as writer:
        writer.init_experiment("e", {}, {}, "maximize")
        code = (
            "import sys, time\n"
            "from retiarii.store import ExperimentStore\n"
            "store = ExperimentStore(sys.argv[1], readonly=True)\n"
            "last = 0\n"
            "deadline = time.time() + 60\n"
            "while time.time() < deadline:\n"
            "    trials = store.trials()\n"
            "    assert len(trials) >= last, (len(trials), last)\n"
            "    last = len(trials)\n"
            "    for t in trials:\n"
            "        if t.status == 'SUCCEEDED':\n"
            "            assert t.final == {'default': t.id, 'loss': 0.5}, t\n"
            "    if last == 40 and all(t.finished for t in trials):\n"
            "        break\n"
            "print('read', last)\n"
        )
        child = spawn_python(code, str(db_path))
        for i in range(40):
            trial_id = writer.create_trial({"i": i})
            writer.mark_running(trial_id)
            writer.add_intermediate(trial_id, i)
            writer.finish_trial(trial_id, "SUCCEEDED", final={"default": trial_id, "loss": 0.5})
        out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.strip() == "read 40"


def test_only_one_writer(db_path: Path) -> None:
    with ExperimentStore(db_path):
        with pytest.raises(StoreLockedError, match="readonly=True"):
            ExperimentStore(db_path)
        ExperimentStore(db_path, readonly=True).close()  # readers are welcome
    ExperimentStore(db_path).close()  # the lock is gone with the writer


def test_threads_share_one_store(db_path: Path, clock: Any) -> None:
    errors: list[BaseException] = []
    with ExperimentStore(db_path, clock=clock) as store:

        def loop(worker: int) -> None:
            try:
                for i in range(25):
                    trial_id = store.create_trial({"worker": worker, "i": i})
                    store.mark_running(trial_id, worker=worker)
                    store.add_intermediate(trial_id, i)
                    store.finish_trial(trial_id, "SUCCEEDED", final=float(i))
                    store.counts()
                    store.trials()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=loop, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        trials = store.trials()
        assert [t.id for t in trials] == list(range(1, 101))
        assert store.counts()["SUCCEEDED"] == 100
        assert all(t.worker == str(t.sample["worker"]) for t in trials)
        assert all(len(store.intermediates(t.id)) == 1 for t in trials)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_committed_trials_survive_sigkill(db_path: Path, spawn_python: Any) -> None:
    code = (
        "import os, signal, sys\n"
        "from retiarii.store import ExperimentStore\n"
        "store = ExperimentStore(sys.argv[1])\n"
        "store.init_experiment('killed', {'max_trial_number': 5}, {}, 'maximize', exp_id='k1')\n"
        "store.set_status('running')\n"
        "for i in range(5):\n"
        "    t = store.create_trial({'x': i})\n"
        "    store.mark_running(t, worker=os.getpid())\n"
        "    store.add_intermediate(t, i / 10)\n"
        "    if i < 3:\n"
        "        store.set_final(t, {'default': i, 'loss': 1.0})\n"
        "        store.finish_trial(t, 'SUCCEEDED')\n"
        "store.save_strategy_state({'asked': 5})\n"
        "store.add_series('loss', 0.25)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = spawn_python(code, str(db_path))
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err

    with ExperimentStore(db_path, readonly=True) as reader:
        assert reader.experiment().status == "running"
        finished = reader.trials("SUCCEEDED")
        assert [(t.sample, t.final) for t in finished] == [
            ({"x": i}, {"default": i, "loss": 1.0}) for i in range(3)
        ]
        assert [t.id for t in reader.trials("RUNNING")] == [4, 5]
        assert [r.value for r in reader.intermediates()] == [0.0, 0.1, 0.2, 0.3, 0.4]
        assert reader.strategy_state() == {"asked": 5}
        assert [p.value for p in reader.series("loss")] == [0.25]

    # The dead writer's lock died with it: resume can open the store and re-run what was lost.
    with ExperimentStore(db_path) as resumed:
        lost = resumed.interrupt_unfinished()
        assert [(t.id, t.sample) for t in lost] == [(4, {"x": 3}), (5, {"x": 4})]
        assert resumed.create_trial(lost[0].sample, resumed_from=lost[0].id) == 6
