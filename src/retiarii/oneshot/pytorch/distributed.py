"""Data-parallel one-shot search: the collectives the Lightning strategies use, and the launcher
that starts the other ranks of a ``strategy='ddp'`` search.

One-shot algorithms step their optimizers by hand, several backward passes per batch, each into
a subset of the parameters (``inputs=``). DistributedDataParallel's reducer expects one backward
pass into every parameter per forward pass, so :class:`~.lightning.OneShotModule` keeps it idle
and averages gradients itself, with :func:`average_gradients`, right before every optimizer step:
the same rule as DDP's (a rank that did not use a parameter contributes zeros), so the weights and
the architecture parameters stay identical on every rank.

Lightning's ``ddp`` strategy (``start_method='popen'``) starts the other ranks by running the
user's command line again, which would run the whole experiment script (or the whole test
session) once more per rank. :class:`RankProcesses` starts them as new interpreters that run
:func:`run_rank` instead: they load the search (cloudpickled), join the process group and train;
the current process is rank 0, so it keeps the experiment's store and its callbacks, and handles
Ctrl-C (the ranks ignore SIGINT, which a terminal sends them too). Only single-node ``ddp`` is
launched this way; processes that a cluster (or ``torchrun``) starts are left alone.

Everything here is a no-op in a single process.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import cloudpickle
import torch
import torch.distributed as dist
import torch.nn as tnn

from ...execution.process import exit_when_orphaned, import_paths, preserved_environ

__all__ = [
    "RankProcesses",
    "any_rank",
    "average_gradients",
    "broadcast_buffers",
    "broadcast_object",
    "broadcast_random_state",
    "close_process_group",
    "is_distributed",
    "launches_script",
    "process_state",
    "run_rank",
]

_logger = logging.getLogger("retiarii.oneshot")

T = TypeVar("T")

#: Environment variables that the launch sets in this process, restored afterwards.
_LAUNCH_ENV = (
    "LOCAL_RANK",
    "NODE_RANK",
    "WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "OMP_NUM_THREADS",  # Lightning divides the CPU threads between the ranks
)


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised default process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def close_process_group() -> None:
    """Destroy this process's default process group, if any, after collecting garbage (so that
    no unreachable DDP wrapper keeps the group alive through ``destroy``).

    A rank should before it exits: a group left to the interpreter's finalization, soon after
    the last collective, can abort the process ("terminate called without an active
    exception", SIGABRT): 4 of 50 spawned 2-rank searches on CPU
    (tests/oneshot/test_oneshot_limits.py), 0 of 50 after this."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Replace the gradients of ``params`` by their mean over all ranks (one ``all_reduce`` per
    device and dtype).

    As with DDP, a rank whose gradient is ``None`` contributes zeros; a parameter that has no
    gradient on any rank keeps ``None`` (so optimizers still skip it).
    """
    if not is_distributed():
        return
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    for (device, dtype), group in groups.items():
        has_grad = [p.grad is not None for p in group]
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in group]
            + [torch.tensor(has_grad, dtype=dtype, device=device)]
        )
        dist.all_reduce(flat)
        flat /= dist.get_world_size()
        used = flat[-len(group) :].tolist()
        offset = 0
        for p, u in zip(group, used):
            grad = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
            if u == 0:
                continue
            if p.grad is None:
                p.grad = grad.clone()
            else:
                p.grad.copy_(grad)


def broadcast_object(obj: T, src: int = 0) -> T:
    """``obj`` as rank ``src`` has it (any picklable object)."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src)
    return holder[0]


def broadcast_random_state(rng: random.Random, src: int = 0) -> None:
    """Give ``rng`` rank ``src``'s state, so that every rank draws the same choices."""
    if is_distributed():
        rng.setstate(broadcast_object(rng.getstate(), src))


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on at least one rank."""
    if not is_distributed():
        return flag
    value = torch.tensor(float(flag), device=_collective_device())
    dist.all_reduce(value)
    return bool(value.item() > 0)


def broadcast_buffers(module: tnn.Module, src: int = 0) -> None:
    """Give every rank rank ``src``'s buffers (BatchNorm statistics), as DDP does."""
    if not is_distributed():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src)


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# -- starting the other ranks of a `strategy='ddp'` search -----------------------------------------
@contextlib.contextmanager
def process_state() -> Iterator[None]:
    """Restores what launching ranks changes in this process: the rendezvous environment
    variables (Lightning's launchers leave ``MASTER_PORT`` behind) and torch's thread count."""
    threads = torch.get_num_threads()
    with preserved_environ(_LAUNCH_ENV):
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def launches_script(trainer: Any) -> bool:
    """Whether fitting ``trainer`` would make Lightning run this command line again per rank
    (single-node ``ddp`` started from a plain process)."""
    try:
        from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher
    except ImportError:  # pragma: no cover - a Lightning without it launches some other way
        return False
    launcher = getattr(trainer.strategy, "launcher", None)
    return (
        isinstance(launcher, _SubprocessScriptLauncher)
        and not launcher.cluster_environment.creates_processes_externally
        and trainer.num_nodes == 1
        and trainer.world_size > 1
    )


#: A rank's interpreter: SIGINT ignored before anything is imported, then :func:`run_rank`.
_RANK_MAIN = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from retiarii.oneshot.pytorch.distributed import run_rank; run_rank(sys.argv[1])"
)


class RankProcesses:
    """Runs ranks ``1..world_size-1`` of a search in new interpreters while this process is rank 0.

    ``job`` must have a ``run()`` method (it builds its own ``lightning.Trainer`` and fits); it is
    cloudpickled to a temporary file, so what a user defines in ``__main__`` travels too. Use as
    a context manager around rank 0's own ``job.run()``: entering starts the ranks and waits
    until each has loaded the job (a rank that fails to load raises here, at once, instead of
    leaving rank 0 waiting for it); leaving restores this process's environment, destroys the
    process group and waits for the ranks to exit (killing them if rank 0 failed).

    Args:
        job: what every rank runs.
        world_size: number of processes, this one included.
        port: the TCP port of the process group's rendezvous on 127.0.0.1.
    """

    def __init__(self, job: Any, world_size: int, port: int) -> None:
        self.job = job
        self.world_size = world_size
        self.port = port
        self.procs: list[subprocess.Popen[bytes]] = []
        self._state = process_state()
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> RankProcesses:
        try:
            blob = cloudpickle.dumps(self.job)
        except Exception as error:
            raise TypeError(
                "strategy='ddp' sends the search (the model space, the evaluator's module, "
                "dataloaders and Trainer arguments) to the other ranks with cloudpickle, which "
                f"failed: {error}. Make them picklable, or use strategy='ddp_fork' (no pickling)"
            ) from error
        self._dir = tempfile.TemporaryDirectory(prefix="retiarii-ddp-")
        payload = Path(self._dir.name) / "job.pkl"
        payload.write_bytes(blob)
        env = {
            "NODE_RANK": "0",
            "WORLD_SIZE": str(self.world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(self.port),
        }
        self._state.__enter__()
        try:
            for rank in range(1, self.world_size):
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", _RANK_MAIN, str(payload)],
                        env={
                            **os.environ,
                            **env,
                            "LOCAL_RANK": str(rank),
                            # what this process imports from (retiarii, the user's modules)
                            "PYTHONPATH": os.pathsep.join(import_paths()),
                        },
                    )
                )
            os.environ.update({**env, "LOCAL_RANK": "0"})
            self._wait_until_loaded(payload)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _wait_until_loaded(self, payload: Path) -> None:
        pending = set(range(1, self.world_size))
        while pending:
            for rank in list(pending):
                if payload.with_name(f"loaded.{rank}").exists():
                    pending.discard(rank)
                elif (code := self.procs[rank - 1].poll()) is not None:
                    raise RuntimeError(
                        f"rank {rank} of the data-parallel search exited with code {code} before "
                        "training (its traceback is printed above)"
                    )
            time.sleep(0.02)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state.__exit__(None, None, None)
        close_process_group()
        failed = exc_type is not None
        for rank, proc in enumerate(self.procs, start=1):
            if failed:  # rank 0 gave up: the others may wait for it in a collective forever
                proc.kill()  # (SIGTERM would not do: Lightning's handler only sets a flag)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if code != 0 and not failed:
                _logger.warning(
                    "rank %d of the data-parallel search exited with code %d", rank, code
                )
        self.procs = []
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def run_rank(payload: str) -> None:
    """What a rank that :class:`RankProcesses` started runs: the job cloudpickled in ``payload``."""
    exit_when_orphaned(os.getppid())  # rank 0 died: do not wait for it in a collective
    path = Path(payload)
    job = cloudpickle.loads(path.read_bytes())
    path.with_name(f"loaded.{os.environ['LOCAL_RANK']}").touch()
    try:
        job.run()
    finally:
        close_process_group()
