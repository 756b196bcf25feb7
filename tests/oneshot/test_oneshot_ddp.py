"""One-shot strategies on two CPU processes (gloo): ``Trainer(accelerator='cpu', devices=2,
strategy='ddp' | 'ddp_spawn' | 'ddp_fork')`` searches like one process, with one experiment
record and one exported architecture.

A Lightning callback in the evaluator's trainer runs on every rank and writes what that rank saw
(its rank, the world size, the examples it trained on, its parameters) to a file per rank.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning")

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger

import retiarii.evaluator.pytorch.lightning as pl
from retiarii import ModelSpace
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.strategy import DARTS, ENAS, OneShotStrategy, RandomOneShot

from .helpers import UsefulOrZero, separable

N_EXAMPLES = 256
BATCH = 32
EPOCHS = 2


class RankRecorder(Callback):
    """Writes ``rank<global rank>.json`` into ``directory`` when training ends on that rank."""

    def __init__(self, directory: Path) -> None:
        self.directory = str(directory)
        self.examples = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        train = batch["train"] if isinstance(batch, dict) else batch
        self.examples += len(train[1])

    def on_train_end(self, trainer, pl_module) -> None:
        record = {
            "global_rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "examples": self.examples,
            "arch": [p.detach().tolist() for p in pl_module.arch_parameters()],
            "params": {n: p.detach().tolist() for n, p in pl_module.named_parameters()},
        }
        path = Path(self.directory) / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps(record))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path / "experiments"))
    return tmp_path


def search(
    tmp_path: Path, algorithm: OneShotStrategy, **trainer: Any
) -> tuple[RetiariiExperiment, dict[str, Any]]:
    """Searches with ``algorithm``; ``trainer`` are Lightning's Trainer arguments (``devices``,
    ``strategy``)."""
    tmp_path.mkdir(exist_ok=True)
    data = separable(N_EXAMPLES)
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=BATCH, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.01,
        max_epochs=EPOCHS,
        default_root_dir=str(tmp_path / "lightning"),
        accelerator="cpu",
        callbacks=[RankRecorder(tmp_path)],
        **trainer,
    )
    exp = RetiariiExperiment(UsefulOrZero(), evaluator, None, algorithm)
    exp.run()
    [sample] = exp.export_top_models(formatter="dict")
    return exp, sample


def ranks(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(tmp_path.glob("rank*.json"))]


def same_format(sample: dict[str, Any], reference: dict[str, Any]) -> bool:
    return sample.keys() == reference.keys() and all(
        type(sample[k]) is type(reference[k]) for k in sample
    )


@pytest.mark.slow  # each search starts processes (a few seconds on 2 cores)
@pytest.mark.parametrize(
    ("ddp", "make_strategy"),
    [
        ("ddp", lambda: DARTS(arc_learning_rate=0.05)),
        ("ddp_spawn", lambda: RandomOneShot(population_size=4, evolution_cycles=1, seed=0)),
        ("ddp_fork", lambda: ENAS(ctrl_lr=0.01, ctrl_steps_aggregate=2)),
    ],
    ids=["DARTS-ddp", "RandomOneShot-ddp_spawn", "ENAS-ddp_fork"],
)
def test_two_processes_search_like_one(home, ddp, make_strategy):
    _, reference = search(home / "single", make_strategy(), devices=1)
    [one] = ranks(home / "single")
    assert one["world_size"] == 1 and one["examples"] == N_EXAMPLES * EPOCHS

    before = set((home / "experiments").iterdir())
    exp, sample = search(home, make_strategy(), devices=2, strategy=ddp)
    assert exp.get_status() == "DONE"
    assert same_format(sample, reference), (sample, reference)
    assert ModelSpace(UsefulOrZero()).validate(sample) == sample

    rank0, rank1 = ranks(home)
    assert (rank0["global_rank"], rank1["global_rank"]) == (0, 1)
    assert rank0["world_size"] == rank1["world_size"] == 2
    # Lightning's DistributedSampler: each rank trained on its half of the examples
    assert rank0["examples"] == rank1["examples"] == N_EXAMPLES * EPOCHS // 2
    # averaged gradients: the same supernet (weights and architecture parameters) on both ranks
    assert rank0["arch"] == rank1["arch"]
    assert rank0["params"] == rank1["params"]
    assert isinstance(make_strategy(), RandomOneShot) or rank0["arch"]

    # one experiment, recorded once (by rank 0): one point per epoch, one trial
    assert set((home / "experiments").iterdir()) - before == {exp.experiment_dir}
    assert [p.epoch for p in exp.store.series("loss")] == list(range(EPOCHS))
    assert [p.epoch for p in exp.store.series("metric/val_acc")] == list(range(EPOCHS))
    assert len(exp.list_trial_jobs()) == 1
    if not isinstance(make_strategy(), RandomOneShot):
        assert exp.export_top_models(formatter="instance")[0](torch.randn(2, 8)).shape == (2, 2)
    # this process is left as it was: no process group, no rank in the environment
    assert not torch.distributed.is_initialized()
    assert "LOCAL_RANK" not in os.environ and "MASTER_PORT" not in os.environ


class GroupAtFinalize(CSVLogger):
    """Writes ``group<rank>.txt``: whether the rank's process group was still open when Lightning
    ended its loggers, the last thing it does in a rank."""

    def finalize(self, status: str) -> None:
        super().finalize(status)
        rank = os.environ.get("LOCAL_RANK", "0")
        path = Path(self.save_dir) / f"group{rank}.txt"
        path.write_text(str(torch.distributed.is_initialized()))


@pytest.mark.slow
def test_darts_alphas_come_back_from_spawned_processes(home):
    exp, sample = search(
        home, DARTS(arc_learning_rate=0.05), devices=2, strategy="ddp_spawn",
        logger=GroupAtFinalize(home / "logs"),
    )  # fmt: skip
    # each spawned rank closed its process group when training ended: left to the interpreter's
    # exit, the group (gloo) aborted a rank now and then, failing a fit that had trained
    assert [(home / "logs" / f"group{r}.txt").read_text() for r in (0, 1)] == ["False"] * 2
    rank0, rank1 = ranks(home)
    assert rank0["arch"] == rank1["arch"]
    trained = [torch.tensor(a) for a in rank0["arch"]]
    driver = exp._oneshot_trainer  # the search's Lightning driver (exp.evaluator is the user's)
    here = driver.module.arch_parameters()  # the parent's module, after fit
    assert all(torch.equal(a, b.detach()) for a, b in zip(trained, here))
    assert sample == driver.export()
    assert [p.epoch for p in exp.store.series("arch_prob/op")] == list(range(EPOCHS))


TO_STOP: list[Any] = []  # the experiment StopAfterFirstEpoch stops (in rank 0's process)


class StopAfterFirstEpoch(Callback):
    """Asks the experiment to stop at the end of the first epoch, as a user would."""

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        for exp in TO_STOP:
            exp.stop()


@pytest.mark.slow
def test_a_stop_on_rank_0_stops_every_rank(home):
    data = separable(N_EXAMPLES)
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=BATCH),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        max_epochs=50,
        default_root_dir=str(home / "lightning"),
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        callbacks=[RankRecorder(home), StopAfterFirstEpoch()],
    )
    exp = RetiariiExperiment(UsefulOrZero(), evaluator, None, DARTS())
    TO_STOP[:] = [exp]
    try:
        exp.run()
    finally:
        TO_STOP.clear()
    assert exp.get_status() == "STOPPED"
    assert [p.epoch for p in exp.store.series("loss")] == [0]
    assert len(exp.export_top_models()) == 1
    rank0, rank1 = ranks(home)
    assert rank0["examples"] == rank1["examples"] == N_EXAMPLES // 2  # one epoch on each rank


def test_sharding_strategies_are_refused():
    from types import SimpleNamespace

    from lightning.pytorch.strategies import FSDPStrategy

    from retiarii.oneshot.pytorch.lightning import check_strategy

    trainer: Any = SimpleNamespace(world_size=2, strategy=FSDPStrategy())
    with pytest.raises(ValueError, match=r"DARTS\(\): .* DDP strategy .* FSDPStrategy"):
        check_strategy(trainer, "DARTS")


def _fail_to_load() -> None:
    raise ImportError("this rank cannot load the search")


class Unloadable:
    """A job that rank 1 cannot unpickle."""

    def __reduce__(self):
        return (_fail_to_load, ())


@pytest.mark.slow
def test_a_rank_that_cannot_load_the_search_fails_rank_0_at_once():
    from retiarii.oneshot.pytorch.distributed import RankProcesses

    with (
        pytest.raises(RuntimeError, match=r"rank 1 .* exited with code 1 before training"),
        RankProcesses(Unloadable(), world_size=2, port=29555),
    ):
        pass
    assert "LOCAL_RANK" not in os.environ


def test_unpicklable_searches_are_refused_naming_cloudpickle():
    import threading

    from retiarii.oneshot.pytorch.distributed import RankProcesses

    with (
        pytest.raises(TypeError, match=r"cloudpickle.*ddp_fork"),
        RankProcesses(threading.Lock(), world_size=2, port=29555),
    ):
        pass


def _average_on_rank(rank: int, directory: str) -> None:
    from retiarii.oneshot.pytorch.distributed import average_gradients

    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{directory}/store", rank=rank, world_size=2
    )
    used_by_0, unused, used_by_both = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    if rank == 0:
        used_by_0.grad = torch.tensor([2.0, 4.0])
    used_by_both.grad = torch.tensor([1.0, 3.0]) if rank == 0 else torch.tensor([3.0, 5.0])
    average_gradients([used_by_0, unused, used_by_both])
    result = [
        None if p.grad is None else p.grad.tolist() for p in (used_by_0, unused, used_by_both)
    ]
    Path(directory, f"grads{rank}.json").write_text(json.dumps(result))
    torch.distributed.destroy_process_group()


def test_gradients_are_averaged_as_ddp_does(tmp_path):
    import torch.multiprocessing as mp

    mp.start_processes(_average_on_rank, args=(str(tmp_path),), nprocs=2, start_method="fork")
    for rank in (0, 1):
        used_by_0, unused, used_by_both = json.loads((tmp_path / f"grads{rank}.json").read_text())
        assert used_by_0 == [1.0, 2.0]  # a rank that did not use it counts as zeros
        assert unused is None  # no rank used it: optimizers still skip it
        assert used_by_both == [2.0, 4.0]


@pytest.mark.slow
def test_under_torchrun_every_process_searches_and_only_rank_0_records(home):
    import subprocess
    import sys

    script = Path(__file__).with_name("torchrun_search.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    subprocess.run(
        [*command, "--nproc_per_node=2", str(script), str(home)], check=True, timeout=300
    )
    rank0, rank1 = (json.loads((home / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world_size"] == rank1["world_size"] == 2
    assert rank0["export"] == rank1["export"]  # the same supernet on both ranks
    # every process ran the script; rank 0 recorded the experiment, rank 1 kept a throwaway copy
    assert rank0["epochs"] == [0, 1] and rank1["epochs"] == []
    assert len(list((home / "experiments").iterdir())) == 1
    assert rank1["experiment_dir"] != rank0["experiment_dir"]
    assert not Path(rank1["experiment_dir"]).exists()  # removed by close()
