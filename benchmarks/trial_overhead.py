"""What the execution layer costs per trial, measured side by side in one run.

Runs the same N trivial trials (a tiny torch op, one intermediate and one final result):

* ``loop``: a plain ``for`` loop calling the runner in this process — the cost of the work itself;
* ``inprocess``: :class:`InProcessExecutor` with output redirection — the per-trial framework code
  (``run_trial``: trial directory, ``trial.log``, reporter, events) without processes;
* ``local``: :class:`LocalExecutor` with ``--concurrency`` worker processes — what a user gets.
* ``ray``: :class:`RayExecutor` with ``--concurrency`` actors on a local Ray instance it starts
  (loopback only) — what a user gets with ``RetiariiExeConfig('ray')``.

Usage::

    python benchmarks/trial_overhead.py [--trials 200] [--concurrency 2]

Writes ``benchmarks/results/trial_overhead.csv`` and ``.md`` (the definitions are in the ``.md``).

* ``experiment``: the full path a user runs — ``RetiariiExperiment`` with ``GridSearch`` and a
  ``FunctionalEvaluator`` doing the same work: strategy, experiment loop, worker pool, model
  building (``ModelSpace.build``) and the SQLite store.
* ``ray_experiment``: the same experiment with ``RetiariiExeConfig('ray')``.

``--skip ray`` leaves out the Ray paths (e.g. where ray is not installed).

Add another path (e.g. Ray) as a function with the signature of :func:`measure_local` in
:data:`PATHS`; it then appears in the table and the CSV with no other change.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from retiarii.execution import Executor, InProcessExecutor, LocalExecutor, is_terminal
from retiarii.reporting import (
    Metric,
    report_final_result,
    report_intermediate_result,
    trial_reporter,
)

try:
    from _common import write_results
except ImportError:  # run as a module
    from benchmarks._common import write_results


class TinyTorchRunner:
    """A trial that does almost nothing, so what is measured is the machinery around it."""

    def setup(self) -> None:
        import torch

        self.torch = torch

    def run(self, sample: dict[str, Any], trial_dir: str) -> None:
        x = self.torch.full((8, 8), float(sample["x"]))
        value = float((x @ x).sum())
        report_intermediate_result(value)
        report_final_result(value)


@dataclass
class Measurement:
    path: str
    trials: int
    concurrency: int
    wall_s: float
    startup_s: float
    peak_rss_mb_per_worker: list[float] = field(default_factory=list)


class _NullReporter:
    def intermediate(self, metric: Metric) -> None:
        pass

    def final(self, metric: Metric) -> None:
        pass


def measure_loop(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """The baseline: the runner called in a loop, no framework at all."""
    begin = time.perf_counter()
    runner = TinyTorchRunner()
    runner.setup()
    startup = time.perf_counter() - begin
    with trial_reporter(_NullReporter()):
        for sample in samples[: 2 * concurrency]:  # warm-up, as for the executors
            runner.run(sample, root)
        begin = time.perf_counter()
        for i, sample in enumerate(samples):
            runner.run(sample, os.path.join(root, str(i)))
        wall = time.perf_counter() - begin
    return Measurement("loop", len(samples), 1, wall, startup)


def _drive(executor: Executor, samples: list[dict[str, Any]], root: str, first_id: int) -> None:
    """Keep every slot busy until all samples finished (what the experiment loop will do)."""
    pending = list(enumerate(samples, start=first_id))[::-1]
    unfinished = len(pending)
    while unfinished:
        for _ in range(min(executor.free_slots(), len(pending))):
            trial_id, sample = pending.pop()
            executor.submit(trial_id, sample, os.path.join(root, str(trial_id)))
        for event in executor.poll(None):
            if is_terminal(event):
                unfinished -= 1


def _measure_executor(
    name: str, executor: Executor, samples: list[dict[str, Any]], root: str, concurrency: int
) -> Measurement:
    with executor:
        begin = time.perf_counter()
        executor.start(TinyTorchRunner())
        startup = time.perf_counter() - begin
        _drive(executor, samples[: 2 * concurrency], root, first_id=len(samples))  # warm-up
        begin = time.perf_counter()
        _drive(executor, samples, root, first_id=0)
        wall = time.perf_counter() - begin
        pids = executor.worker_pids() if hasattr(executor, "worker_pids") else []
        rss = [_peak_rss_mb(pid) for pid in pids]
    return Measurement(name, len(samples), concurrency, wall, startup, rss)


def measure_inprocess(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """``run_trial`` in this process: framework cost without processes."""
    return _measure_executor("inprocess", InProcessExecutor(redirect_output=True), samples, root, 1)


def measure_local(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """The process pool."""
    executor = LocalExecutor(concurrency)
    return _measure_executor("local", executor, samples, root, concurrency)


def measure_ray(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """Ray actors on a local Ray instance started (and stopped) by the executor."""
    from retiarii.execution.ray_executor import RayExecutor

    executor = RayExecutor(concurrency)
    return _measure_executor("ray", executor, samples, root, concurrency)


def tiny_evaluation(model: Any) -> None:
    """The same work as :class:`TinyTorchRunner`, as a ``FunctionalEvaluator`` function."""
    import torch

    x = torch.full((8, 8), float(model.x))
    value = float((x @ x).sum())
    report_intermediate_result(value)
    report_final_result(value)


def _run_experiment(
    n_trials: int, warm: int, root: str, concurrency: int, platform: str = "local"
) -> tuple[float, float]:
    """Run a ``GridSearch`` experiment of ``n_trials``; ``(startup_s, wall_s)`` from its store.

    startup_s: from ``run`` to the end of the ``warm``-th trial (workers, torch import, store
    creation, warm-up trials); wall_s: from there to the end of the last trial.
    """
    import logging

    import retiarii.nn.pytorch as nn
    import retiarii.strategy as strategy
    from retiarii import model_wrapper
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

    @model_wrapper
    class TinySpace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x = nn.ValueChoice(list(range(n_trials)), label="x")

    logging.getLogger("retiarii").setLevel(logging.WARNING)
    exp = RetiariiExperiment(
        TinySpace(), FunctionalEvaluator(tiny_evaluation), None, strategy.GridSearch()
    )
    config = RetiariiExeConfig(platform)
    config.trial_concurrency = concurrency
    config.max_trial_number = n_trials
    config.experiment_working_directory = root
    begin = time.time()
    exp.run(config)
    assert exp.store.counts()["SUCCEEDED"] == n_trials, exp.store.counts()
    ends = sorted(t.ended_at or 0.0 for t in exp.store.trials())
    exp.close()
    return ends[warm - 1] - begin, ends[-1] - ends[warm - 1]


def measure_experiment(
    samples: list[dict[str, Any]], root: str, concurrency: int, platform: str = "local"
) -> Measurement:
    """The full path: GridSearch -> RetiariiExperiment loop -> executor -> SQLite store.

    One experiment of ``2 * concurrency + N`` trials; the first ``2 * concurrency`` are the
    warm-up (start-up), the wall time is from the end of the last of them to the end of the last
    trial, read from the store's timestamps.
    """
    warm = 2 * concurrency
    startup, wall = _run_experiment(warm + len(samples), warm, root, concurrency, platform)
    name = "experiment" if platform == "local" else f"{platform}_experiment"
    return Measurement(name, len(samples), concurrency, wall, startup)


def measure_ray_experiment(
    samples: list[dict[str, Any]], root: str, concurrency: int
) -> Measurement:
    """The full path on a local Ray instance (started once per experiment, like the workers)."""
    return measure_experiment(samples, root, concurrency, platform="ray")


#: Every path measured, in table order.
PATHS: dict[str, Callable[[list[dict[str, Any]], str, int], Measurement]] = {
    "loop": measure_loop,
    "inprocess": measure_inprocess,
    "local": measure_local,
    "ray": measure_ray,
    "experiment": measure_experiment,
    "ray_experiment": measure_ray_experiment,
}


def _peak_rss_mb(pid: int) -> float:
    """Peak resident set size (``VmHWM``) of a live process, in MiB; NaN where unavailable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, str]:
    import torch  # only to record its version

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": str(cpus),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--skip", action="append", default=[], help="leave out paths with this prefix"
    )
    args = parser.parse_args(argv)

    samples = [{"x": i % 7} for i in range(args.trials)]
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="retiarii-bench-") as root:
        for name, measure in PATHS.items():
            if any(name.startswith(prefix) for prefix in args.skip):
                continue
            results.append(measure(samples, os.path.join(root, name), args.concurrency))
    info = machine()
    rows = _rows(results, info)
    csv_path, md_path = write_results("trial_overhead", rows, _markdown(rows, info, args))
    print(_markdown_table(rows))
    print(f"\nwritten to {csv_path} and {md_path}")


def _rows(results: list[Measurement], info: dict[str, str]) -> list[dict[str, Any]]:
    loop = next(r for r in results if r.path == "loop")
    rows = []
    for r in results:
        # Slot-seconds the path used per trial beyond what the plain loop needed for the same work.
        overhead_ms = (r.wall_s * r.concurrency - loop.wall_s) / r.trials * 1000
        row = asdict(r)
        row["wall_s"] = round(r.wall_s, 4)
        row["startup_s"] = round(r.startup_s, 3)
        row["ms_per_trial"] = round(r.wall_s / r.trials * 1000, 3)
        row["overhead_ms_per_trial"] = round(overhead_ms, 3)
        row["peak_rss_mb_per_worker"] = " ".join(f"{m:.0f}" for m in r.peak_rss_mb_per_worker)
        row.update(info)
        rows.append(row)
    return rows


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = [
        "path",
        "trials",
        "concurrency",
        "wall_s",
        "ms_per_trial",
        "overhead_ms_per_trial",
        "startup_s",
        "peak_rss_mb_per_worker",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _markdown(rows: list[dict[str, Any]], info: dict[str, str], args: argparse.Namespace) -> str:
    machine_line = ", ".join(f"{k} {v}" for k, v in info.items())
    return f"""# Per-trial overhead of the execution layer

`python benchmarks/trial_overhead.py --trials {args.trials} --concurrency {args.concurrency}`

Machine: {machine_line}.

{_markdown_table(rows)}

Each path runs the same {args.trials} trivial trials (an 8x8 torch matmul, one intermediate and
one final result), after a warm-up of 2 x concurrency trials that is not timed.

- **loop**: the runner called in a plain `for` loop in one process: the work itself.
- **inprocess**: `InProcessExecutor(redirect_output=True)`: the shared per-trial code (`run_trial`:
  trial directory, `trial.log` redirection, reporter, events) and the executor API, no processes.
- **local**: `LocalExecutor(concurrency)`: long-lived worker processes, as users run trials.
- **ray**: `RayExecutor(concurrency)`: one Ray actor per slot on a local Ray instance that the
  executor starts (its startup_s includes `ray.init`); events stream back as Ray generators.
- **experiment**: the full user path: `RetiariiExperiment` + `GridSearch` + `FunctionalEvaluator`
  (experiment loop, worker pool, `ModelSpace.build` per trial, SQLite store with a commit per
  event). One experiment of 2c + N trials; from the store's timestamps, startup_s is from `run()`
  to the end of the 2c-th trial (worker start, torch import, store creation, 2c warm-up trials)
  and wall_s from there to the end of the last trial.
- **ray_experiment**: the same, with `RetiariiExeConfig('ray')` (a Ray instance per experiment).

Definitions:

- `wall_s`: wall time from the first submit to the last terminal event (for loop: the loop).
- `ms_per_trial` = wall_s / trials: throughput as seen by the experiment.
- `overhead_ms_per_trial` = (wall_s x concurrency - wall_s of loop) / trials: the worker-slot time
  each trial costs beyond the work itself. With perfect parallelism and no overhead, the pool's
  wall time would be the loop's divided by concurrency and this would be 0. It is an upper bound on
  the framework's cost: it also counts the driver and the workers competing for the same cores.
- `startup_s`: `start()` — starting the workers, unpickling the runner, `setup()` (which imports
  torch), until every worker is ready. For loop: `setup()` in this process. Paid once per experiment.
  For inprocess it is close to 0 because the loop already imported torch in this process.
- `peak_rss_mb_per_worker`: `VmHWM` from `/proc/<pid>/status` of each worker after the run.
"""


if __name__ == "__main__":
    main()
