"""Search strategies on NAS-Bench-201, through the real experiment path, under the NAS-Bench-201
protocol: the strategy sees only validation accuracy (``val200_*``), and the architecture it
returns (``export_top_models(1)``: its best validation accuracy) is scored by its *test* accuracy
(``test200_*``). Mean and std over seeds, for every strategy x dataset x budget.

Every run is a ``RetiariiExperiment`` of the ``retiarii.hub.pytorch.NasBench201`` model space with
``retiarii.benchmark.NasBench201Benchmark`` as evaluator, ``execution='inprocess'``, its own
experiment directory and SQLite store. Budgets: one experiment runs ``max(budgets)`` trials; the
result at a smaller budget B is the best of its first B trials — exactly what an experiment with
``max_trial_number=B`` returns, because no strategy knows its budget and in-process trials run one
at a time (``tests/benchmark`` checks this equality).

Strategy overhead: every strategy runs as a subclass that times its ``ask`` and ``tell`` (what the
loop calls per trial) and ``state_dict`` (saved twice per trial by the loop), inside the same runs.

Usage::

    python benchmarks/nb201_strategies.py [--seeds 50] [--budgets 50 100 200]
        [--datasets cifar10 cifar100 imagenet16] [--strategies ...] [--workers 2]
        [--table ../shared/data/nb201/nb201.csv.gz] [--name nb201_strategies]

Writes ``benchmarks/results/<name>-<machine>.csv`` (one row per run and budget) and ``.md``.
Seeds 0..seeds-1 are used here; the strategies' settings were chosen on seeds 1000+ by the
*validation* accuracy they reach (never by test accuracy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_line, write_results
from _nb201 import DATASET_NAMES, DATASETS, DEFAULT_TABLE, run_tasks
from _nb201 import WORKER as _WORKER
from _nb201 import setup_worker as _setup_worker  # noqa: F401  (tests set up in-process)

#: Measured here with the same table and protocol (random search, 100 / 200 evaluations).
REFERENCE = {
    "random search @100": {"cifar10": 93.80, "cifar100": 71.46, "imagenet16": 45.40},
    "random search @200": {"cifar10": 93.90, "cifar100": 71.89, "imagenet16": 45.73},
    "goal @100": {"cifar10": 94.20, "cifar100": 72.90, "imagenet16": 46.30},
    "optimum (best test)": {"cifar10": 94.37, "cifar100": 73.51, "imagenet16": 47.31},
}


def strategies() -> dict[str, tuple[str, Callable[[int], Any]]]:
    """``{name: (description, factory(seed))}`` of the strategies benchmarked."""
    import retiarii.strategy as strategy

    return {
        "Random": ("Random(dedup=True)", lambda s: strategy.Random(dedup=True, seed=s)),
        "REA-default": (
            "RegularizedEvolution() (population 100, sample 25)",
            lambda s: strategy.RegularizedEvolution(seed=s),
        ),
        "REA-small": (
            "RegularizedEvolution(population_size=10, sample_size=5)",
            lambda s: strategy.RegularizedEvolution(population_size=10, sample_size=5, seed=s),
        ),
        "TPE": ("TPE() (multivariate, 10 startup trials)", lambda s: strategy.TPE(seed=s)),
        "PolicyBasedRL": (
            "PolicyBasedRL(trial_per_collect=5, update_epochs=8)",
            lambda s: strategy.PolicyBasedRL(trial_per_collect=5, update_epochs=8, seed=s),
        ),
        "LocalSearch": (
            "LocalSearch() (10 initial samples, perturbation 2)",
            lambda s: strategy.LocalSearch(seed=s),
        ),
    }


# -- one run ---------------------------------------------------------------------------------------
def timed(instance: Any, tail_from: int) -> Any:
    """``instance`` re-classed to a subclass that times ``ask``, ``tell`` and ``state_dict``
    (``tail``: ask + tell of the trials after the first ``tail_from``)."""
    base = type(instance)

    def ask(self: Any) -> Any:
        start = time.perf_counter()
        try:
            return base.ask(self)
        finally:
            elapsed = time.perf_counter() - start
            self.timing["ask"] += elapsed
            self.timing["asks"] += 1
            if self.timing["asks"] > tail_from:
                self.timing["tail"] += elapsed

    def tell(self: Any, result: Any) -> None:
        start = time.perf_counter()
        try:
            base.tell(self, result)
        finally:
            elapsed = time.perf_counter() - start
            self.timing["tell"] += elapsed
            self.timing["tells"] += 1
            if self.timing["tells"] > tail_from:
                self.timing["tail"] += elapsed

    def state_dict(self: Any) -> Any:
        start = time.perf_counter()
        try:
            return base.state_dict(self)
        finally:
            self.timing["state"] += time.perf_counter() - start

    cls = type(base.__name__, (base,), {"ask": ask, "tell": tell, "state_dict": state_dict})
    instance.__class__ = cls
    instance.timing = {"ask": 0.0, "tell": 0.0, "state": 0.0, "tail": 0.0, "asks": 0, "tells": 0}
    return instance


def run_one(task: tuple[str, str, int, list[int]]) -> list[dict[str, Any]]:
    """Run one experiment (strategy, dataset, seed) for max(budgets) trials; one row per budget."""
    from retiarii.benchmark import NasBench201Benchmark, column_name, sample_to_arch_str
    from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

    name, dataset, seed, budgets = task
    table = _WORKER["table"]
    tail_from = max(budgets) * 3 // 4  # "at 200 trials": the last quarter of the run
    search = timed(strategies()[name][1](seed), tail_from)
    evaluator = NasBench201Benchmark(dataset, "valid", 200, path=_WORKER["table_path"])
    workdir = tempfile.mkdtemp(prefix="nb201-")
    try:
        config = RetiariiExeConfig("local")
        config.execution = "inprocess"
        config.max_trial_number = max(budgets)
        config.experiment_working_directory = workdir
        config.experiment_name = f"{name}-{dataset}-{seed}"
        experiment = RetiariiExperiment(_WORKER["space"], evaluator, None, search)
        start = time.perf_counter()
        experiment.run(config)
        wall = time.perf_counter() - start
        trials = experiment.list_trial_jobs()
        returned = experiment.export_top_models(1)[0]
        experiment.store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    valid_col, test_col = column_name(dataset, "valid"), column_name(dataset, "test")
    timing = search.timing
    asks = max(timing["asks"], 1)
    rows = []
    for budget in budgets:
        best = None
        for trial in trials[:budget]:  # oldest first; ties go to the lower id, as in the store
            value = trial.final_value if trial.status == "SUCCEEDED" else None
            if value is not None and (best is None or value > best.final_value):
                best = trial
        assert best is not None
        if budget == max(budgets):
            assert best.sample == returned, (best.sample, returned)
        arch = sample_to_arch_str(best.sample)
        rows.append(
            {
                "strategy": name,
                "dataset": dataset,
                "seed": seed,
                "budget": budget,
                "trials": min(budget, len(trials)),
                "test_acc": table.query(arch, test_col),
                "valid_acc": best.final_value,
                "table_valid_acc": table.query(arch, valid_col),
                "arch_str": arch,
                "experiment_wall_s": round(wall, 4),
                "ask_ms": round(timing["ask"] / asks * 1e3, 4),
                "tell_ms": round(timing["tell"] / asks * 1e3, 4),
                "state_dict_ms": round(timing["state"] / asks * 1e3, 4),
                "tail_ask_tell_ms": round(
                    timing["tail"] / max(min(timing["asks"], timing["tells"]) - tail_from, 1) * 1e3,
                    4,
                ),
            }
        )
    return rows


# -- the whole grid ---------------------------------------------------------------------------------
def run_grid(
    names: list[str],
    datasets: list[str],
    seeds: int,
    budgets: list[int],
    table_path: str,
    workers: int,
    progress: bool = True,
) -> list[dict[str, Any]]:
    tasks = [(n, d, s, budgets) for n in names for d in datasets for s in range(seeds)]
    every = 25 if progress else 0
    return run_tasks(
        run_one, tasks, table_path, workers, ordered=True, every=every, unit="experiments"
    )


def summarise(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    values = [float(r[key]) for r in rows]
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def markdown(
    rows: list[dict[str, Any]],
    names: list[str],
    datasets: list[str],
    budgets: list[int],
    seeds: int,
    wall: float,
    command: str,
) -> str:
    described = strategies()
    lines = [
        "# Search strategies on NAS-Bench-201",
        "",
        f"`{command}`",
        "",
        f"Machine: {machine_line()}. Whole grid: {wall:.0f} s wall.",
        "",
        "Protocol: each run is a `RetiariiExperiment` (NasBench201 model space, "
        "`NasBench201Benchmark`, in-process execution, SQLite store). The strategy sees only the "
        "200-epoch **validation** accuracy (`val200_*`; CIFAR-10: the cifar10-valid split); the "
        "architecture it returns (`export_top_models(1)`, best validation accuracy within the "
        "budget) is scored by its 200-epoch **test** accuracy (`test200_*`). "
        f"Mean ± std over {seeds} seeds (0..{seeds - 1}). Strategy settings were chosen on other "
        "seeds (1000+) by validation accuracy only. One experiment per strategy, dataset and "
        f"seed runs {max(budgets)} trials; a smaller budget B reports the best of its first B "
        "trials, which is what a B-trial experiment returns (no strategy knows its budget; "
        "checked in `tests/benchmark`).",
        "",
        "## Test accuracy (%) of the returned architecture",
        "",
    ]
    header = "| strategy | budget | " + " | ".join(DATASET_NAMES[d] for d in datasets) + " |"
    lines += [header, "|---|---|" + "---|" * len(datasets)]
    for name in names:
        for budget in budgets:
            cells = []
            for dataset in datasets:
                sel = [
                    r
                    for r in rows
                    if r["strategy"] == name and r["dataset"] == dataset and r["budget"] == budget
                ]
                mean, std = summarise(sel, "test_acc")
                cells.append(f"{mean:.2f} ± {std:.2f}")
            lines.append(f"| {name} | {budget} | " + " | ".join(cells) + " |")
    lines += ["", "Reference points (same table and protocol):", ""]
    lines += [header.replace("strategy | budget", "reference"), "|---|" + "---|" * len(datasets)]
    for ref, values in REFERENCE.items():
        lines.append(f"| {ref} | " + " | ".join(f"{values[d]:.2f}" for d in datasets) + " |")
    goal = REFERENCE["goal @100"]
    if 100 in budgets and set(datasets) == set(DATASETS):
        met = []
        for name in names:
            means = {
                d: summarise(
                    [
                        r
                        for r in rows
                        if r["strategy"] == name and r["dataset"] == d and r["budget"] == 100
                    ],
                    "test_acc",
                )[0]
                for d in datasets
            }
            if all(round(means[d], 2) >= goal[d] for d in datasets):
                met.append(name)
        lines += [
            "",
            "Goal at 100 evaluations (>= "
            + " / ".join(f"{goal[d]:.2f}" for d in datasets)
            + f"), all three datasets: met by {', '.join(met) if met else 'none'}.",
        ]
    top = max(budgets)
    lines += [
        "",
        "## Strategy overhead per suggestion (ms)",
        "",
        "Measured inside the runs above (max budget): `ask` and `tell` are what the experiment "
        "loop calls per trial; `state_dict` is what it saves twice per trial. Mean over runs "
        "(several runs share the machine's 2 cores, so these are upper bounds). "
        "`experiment ms/trial` is the whole in-process experiment (loop, store, strategy, "
        "evaluator) divided by its trials.",
        "",
        f"| strategy | ask | tell | ask + tell | ask + tell, trials {top * 3 // 4 + 1}-{top} "
        "| state_dict | experiment ms/trial |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        sel = [r for r in rows if r["strategy"] == name and r["budget"] == top]
        ask, tell = summarise(sel, "ask_ms")[0], summarise(sel, "tell_ms")[0]
        tail = summarise(sel, "tail_ask_tell_ms")[0]
        state = summarise(sel, "state_dict_ms")[0]
        per_trial = statistics.fmean(r["experiment_wall_s"] / r["trials"] for r in sel) * 1e3
        lines.append(
            f"| {name} | {ask:.3f} | {tell:.3f} | {ask + tell:.3f} | {tail:.3f} | {state:.3f} "
            f"| {per_trial:.2f} |"
        )
    lines += ["", "## Strategies", ""]
    lines += [f"- **{name}**: `strategy.{described[name][0]}`" for name in names]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--strategies", nargs="+", default=None, help="default: all")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument(
        "--table",
        default=os.environ.get("RETIARII_NB201", str(DEFAULT_TABLE)),
        help="nb201.csv.gz (default: $RETIARII_NB201 or ../shared/data/nb201/nb201.csv.gz)",
    )
    parser.add_argument("--name", default="nb201_strategies", help="results file stem")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    names = args.strategies or list(strategies())
    unknown = [n for n in names if n not in strategies()]
    if unknown:
        parser.error(f"unknown strategies {unknown}; choose from {list(strategies())}")
    if not Path(args.table).is_file():
        parser.error(f"NAS-Bench-201 table not found at {args.table}; pass --table PATH")
    budgets = sorted(set(args.budgets))
    start = time.time()
    rows = run_grid(names, args.datasets, args.seeds, budgets, args.table, args.workers)
    wall = time.time() - start
    command = "python benchmarks/nb201_strategies.py " + " ".join(argv or sys.argv[1:])
    text = markdown(rows, names, args.datasets, budgets, args.seeds, wall, command.strip())
    print(text)
    if not args.no_write:
        csv_path, md_path = write_results(args.name, rows, text)
        print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
