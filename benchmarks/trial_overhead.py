"""What the execution layer costs per trial, measured side by side in one run.

Runs the same N trivial trials (a tiny torch op, one intermediate and one final result):

* ``loop``: a plain ``for`` loop calling the runner in this process — the cost of the work itself;
* ``inprocess``: :class:`InProcessExecutor` with output redirection — the per-trial framework code
  (``run_trial``: trial directory, ``trial.log``, reporter, events) without processes;
* ``local``: :class:`LocalExecutor` with ``--concurrency`` worker processes — what a user gets.

Usage::

    python benchmarks/trial_overhead.py [--trials 200] [--concurrency 2]

Writes ``benchmarks/results/trial_overhead.csv`` and ``.md`` (the definitions are in the ``.md``).

* ``experiment``: the full path a user runs — ``RetiariiExperiment`` with ``GridSearch`` and a
  ``FunctionalEvaluator`` doing the same work: strategy, experiment loop, worker pool, model
  building (``ModelSpace.build``) and the SQLite store.

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
        pids = executor.worker_pids() if isinstance(executor, LocalExecutor) else []
        rss = [_peak_rss_mb(pid) for pid in pids]
    return Measurement(name, len(samples), concurrency, wall, startup, rss)


def measure_inprocess(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """``run_trial`` in this process: framework cost without processes."""
    return _measure_executor("inprocess", InProcessExecutor(redirect_output=True), samples, root, 1)


def measure_local(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """The process pool."""
    executor = LocalExecutor(concurrency)
    return _measure_executor("local", executor, samples, root, concurrency)


def tiny_evaluation(model: Any) -> None:
    """The same work as :class:`TinyTorchRunner`, as a ``FunctionalEvaluator`` function."""
    import torch

    x = torch.full((8, 8), float(model.x))
    value = float((x @ x).sum())
    report_intermediate_result(value)
    report_final_result(value)


def _run_experiment(n_trials: int, root: str, concurrency: int) -> float:
    """Wall time of a whole ``RetiariiExperiment.run`` of ``n_trials`` grid trials."""
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
    config = RetiariiExeConfig("local")
    config.trial_concurrency = concurrency
    config.max_trial_number = n_trials
    config.experiment_working_directory = root
    begin = time.perf_counter()
    exp.run(config)
    wall = time.perf_counter() - begin
    assert exp.store.counts()["SUCCEEDED"] == n_trials, exp.store.counts()
    return wall


def measure_experiment(samples: list[dict[str, Any]], root: str, concurrency: int) -> Measurement:
    """The full path: GridSearch -> RetiariiExperiment loop -> LocalExecutor -> SQLite store.

    An experiment always starts its own workers, so the per-trial time is the difference between
    an experiment of ``2 * concurrency + N`` trials and one of ``2 * concurrency`` trials (the
    latter is reported as start-up: workers, torch import, store creation, warm-up trials).
    """
    warm = 2 * concurrency
    startup = _run_experiment(warm, os.path.join(root, "warm"), concurrency)
    total = _run_experiment(warm + len(samples), os.path.join(root, "full"), concurrency)
    return Measurement("experiment", len(samples), concurrency, total - startup, startup)


#: Every path measured, in table order.
PATHS: dict[str, Callable[[list[dict[str, Any]], str, int], Measurement]] = {
    "loop": measure_loop,
    "inprocess": measure_inprocess,
    "local": measure_local,
    "experiment": measure_experiment,
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
    args = parser.parse_args(argv)

    samples = [{"x": i % 7} for i in range(args.trials)]
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="retiarii-bench-") as root:
        for name, measure in PATHS.items():
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
- **experiment**: the full user path: `RetiariiExperiment` + `GridSearch` + `FunctionalEvaluator`
  (experiment loop, worker pool, `ModelSpace.build` per trial, SQLite store with a commit per
  event). Its wall_s is T(2c + N trials) - T(2c trials) of two whole experiments; its startup_s is
  T(2c trials): worker start, torch import, store creation and 2c warm-up trials.

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
