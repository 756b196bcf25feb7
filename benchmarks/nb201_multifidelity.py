"""Early stopping on NAS-Bench-201: test accuracy of the returned architecture against the
simulated compute spent, for Random / RegularizedEvolution / TPE with and without each pruner,
and Optuna's TPE with its own SuccessiveHalvingPruner / HyperbandPruner as the peer.

Two fidelities from the table: a trial first reports the 12-epoch validation accuracy (its one
intermediate result, at step 1), then — unless pruned — the 200-epoch validation accuracy. Compute
is simulated from the table's 200-epoch training time (``traintime200_*``): a full trial costs it,
a trial pruned after the 12-epoch result costs 12/200 of it (``NasBench201Benchmark``'s
``cost_s``). NB201 protocol: the strategy sees validation accuracies only; the returned
architecture — the best *fully trained* trial by 200-epoch validation accuracy, i.e.
``export_top_models(1)`` (pruned trials have no 200-epoch result) — is scored by its 200-epoch
test accuracy.

Compute budgets are fractions of ``C_ref``: the expected compute of random search with 200 full
trials (200 x the table's mean training time on that dataset). Each run goes until it has spent
``C_ref`` (an experiment callback stops it); the result at a fraction f is the architecture
returned by the longest prefix of its trials that spent at most ``f * C_ref`` — what an experiment
stopped at that compute returns, since in-process trials run one at a time in id order.

retiarii runs are ``RetiariiExperiment`` (``NasBench201`` space, ``NasBench201Benchmark``,
``execution='inprocess'``, SQLite store). Optuna runs use its ask/tell API with
``TPESampler(multivariate=True, seed=...)`` on the same table and the same two fidelities
(``trial.report(val12, step=1)``, ``should_prune()``); a sample Optuna proposes twice is paid for
twice (a real search would train it again).

Usage::

    python benchmarks/nb201_multifidelity.py [--seeds 10] [--datasets ...] [--configs ...]
        [--workers 2] [--table ../shared/data/nb201/nb201.csv.gz] [--name nb201_multifidelity]

Writes ``benchmarks/results/<name>-<machine>.csv`` (one row per run and compute fraction) and
``.md``.
"""

from __future__ import annotations

import argparse
import math
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
from _nb201 import setup_worker as _setup_worker

FRACTIONS = (0.125, 0.25, 0.5, 1.0)
#: ``benchmarks/results/nb201_strategies-*``: random search with 200 full trials (50 seeds).
RANDOM_AT_200 = {"cifar10": 93.88, "cifar100": 71.88, "imagenet16": 45.70}


def pruners() -> dict[str, tuple[str, Callable[[], Any]]]:
    """``{name: (description, factory)}`` of retiarii's pruners (``none``: no pruner)."""
    from retiarii.experiment import Hyperband, MedianStop, SuccessiveHalving

    return {
        "none": ("no pruner", lambda: None),
        "MedianStop": ("MedianStop()", lambda: MedianStop()),
        "SH": (
            "SuccessiveHalving(min_resource=1, reduction_factor=3, max_resource=2)",
            lambda: SuccessiveHalving(min_resource=1, reduction_factor=3, max_resource=2),
        ),
        "Hyperband": (
            "Hyperband(min_resource=1, max_resource=2, reduction_factor=2)",
            lambda: Hyperband(min_resource=1, max_resource=2, reduction_factor=2),
        ),
    }


def strategies() -> dict[str, tuple[str, Callable[[int], Any]]]:
    import retiarii.strategy as strategy

    return {
        "Random": ("Random(dedup=True)", lambda s: strategy.Random(dedup=True, seed=s)),
        "REA": (
            "RegularizedEvolution(population_size=10, sample_size=5)",
            lambda s: strategy.RegularizedEvolution(population_size=10, sample_size=5, seed=s),
        ),
        "TPE": ("TPE() (multivariate, 10 startup trials)", lambda s: strategy.TPE(seed=s)),
    }


OPTUNA = {
    "optuna-TPE+SH": "TPESampler(multivariate=True) + SuccessiveHalvingPruner(min_resource=1, "
    "reduction_factor=3)",
    "optuna-TPE+Hyperband": "TPESampler(multivariate=True) + HyperbandPruner(min_resource=1, "
    "max_resource=2, reduction_factor=2)",
}


def all_configs() -> list[str]:
    return [f"{s}+{p}" for s in strategies() for p in pruners()] + list(OPTUNA)


# -- one run ---------------------------------------------------------------------------------------
def reference_compute(table: Any, dataset: str) -> float:
    """``C_ref``: 200 x the mean 200-epoch training time of all cells on ``dataset``."""
    from retiarii.benchmark import DATASETS as SUFFIX

    column = f"traintime200_{SUFFIX[dataset]}"
    return 200 * statistics.fmean(row[column] for row in table)


def _compute_limit(limit: float) -> Any:
    from retiarii.experiment import ExperimentCallback

    class ComputeLimit(ExperimentCallback):
        """Stops the experiment once its trials spent ``limit`` simulated seconds."""

        def __init__(self) -> None:
            self.spent = 0.0

        def on_trial_ended(self, loop: Any, trial: Any) -> None:
            if isinstance(trial.final, dict):
                self.spent += trial.final["cost_s"]
            if self.spent >= limit:
                loop.stop_event.set()

    return ComputeLimit()


def _run_retiarii(config: str, dataset: str, seed: int, limit: float) -> list[tuple[Any, ...]]:
    """``[(sample, cost_s, val200 or None)]`` in trial order."""
    from retiarii.benchmark import NasBench201Benchmark
    from retiarii.experiment import RetiariiExeConfig, RetiariiExperiment

    name, pruner = config.split("+")
    evaluator = NasBench201Benchmark(dataset, "valid", 200, path=_WORKER["table_path"])
    workdir = tempfile.mkdtemp(prefix="nb201mf-")
    try:
        exe = RetiariiExeConfig("local")
        exe.execution = "inprocess"
        exe.max_trial_number = 5000
        exe.experiment_working_directory = workdir
        exe.experiment_name = f"{config}-{dataset}-{seed}"
        experiment = RetiariiExperiment(
            _WORKER["space"],
            evaluator,
            None,
            strategies()[name][1](seed),
            pruner=pruners()[pruner][1](),
            callbacks=[_compute_limit(limit)],
        )
        experiment.run(exe)
        trials = experiment.list_trial_jobs()
        returned = experiment.export_top_models(1)[0]
        experiment.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = []
    for trial in trials:
        assert trial.status in ("SUCCEEDED", "EARLY_STOPPED"), (trial.status, trial.error)
        full = trial.status == "SUCCEEDED"
        out.append((trial.sample, trial.final["cost_s"], trial.final_value if full else None))
    best = max((t for t in out if t[2] is not None), key=lambda t: t[2])
    assert best[0] == returned or best[2] == max(t[2] for t in out if t[2] is not None)
    return out


def _run_optuna(config: str, dataset: str, seed: int, limit: float) -> list[tuple[Any, ...]]:
    import optuna

    from retiarii.benchmark import DATASETS as SUFFIX
    from retiarii.benchmark import NB201_LABELS, NB201_OPS, column_name

    table = _WORKER["table"]
    if config == "optuna-TPE+SH":
        pruner: Any = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    else:
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=2, reduction_factor=2)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(multivariate=True, seed=seed),
        pruner=pruner,
    )
    low, high = column_name(dataset, "valid", 12), column_name(dataset, "valid", 200)
    time_column = f"traintime200_{SUFFIX[dataset]}"
    spent, out = 0.0, []
    while spent < limit:
        trial = study.ask()
        sample = {label: trial.suggest_categorical(label, NB201_OPS) for label in NB201_LABELS}
        row = table.row(sample)
        trial.report(row[low], 1)
        if trial.should_prune():
            cost = row[time_column] * (12 / 200)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            out.append((sample, cost, None))
        else:
            cost = row[time_column]
            study.tell(trial, row[high])
            out.append((sample, cost, row[high]))
        spent += cost
    return out


def run_one(task: tuple[str, str, int]) -> list[dict[str, Any]]:
    """One run (config, dataset, seed); one row per compute fraction."""
    from retiarii.benchmark import column_name, sample_to_arch_str

    config, dataset, seed = task
    table = _WORKER["table"]
    limit = reference_compute(table, dataset)
    start = time.perf_counter()
    if config.startswith("optuna"):
        trials = _run_optuna(config, dataset, seed, limit)
    else:
        trials = _run_retiarii(config, dataset, seed, limit)
    wall = time.perf_counter() - start
    test_col = column_name(dataset, "test")
    rows = []
    for fraction in FRACTIONS:
        spent, best, n, n_full = 0.0, None, 0, 0
        for sample, cost, value in trials:  # in order; ties go to the earlier trial
            if spent + cost > fraction * limit:
                break
            spent += cost
            n += 1
            if value is not None:
                n_full += 1
                if best is None or value > best[1]:
                    best = (sample, value)
        arch = sample_to_arch_str(best[0]) if best is not None else ""
        rows.append(
            {
                "config": config,
                "dataset": dataset,
                "seed": seed,
                "fraction": fraction,
                "compute_gpu_h": round(spent / 3600, 4),
                "trials": n,
                "full_trials": n_full,
                "test_acc": table.query(arch, test_col) if best is not None else math.nan,
                "valid_acc": best[1] if best is not None else math.nan,
                "arch_str": arch,
                "run_wall_s": round(wall, 3),
            }
        )
    return rows


def run_grid(configs: list[str], datasets: list[str], seeds: int, table: str, workers: int) -> list:
    tasks = [(c, d, s) for d in datasets for s in range(seeds) for c in configs]
    rows = run_tasks(run_one, tasks, table, workers, ordered=False, every=20, unit="runs")
    rows.sort(key=lambda r: (configs.index(r["config"]), r["dataset"], r["seed"], r["fraction"]))
    return rows


# -- report ----------------------------------------------------------------------------------------
def _mean(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    values = [float(r[key]) for r in rows if not math.isnan(float(r[key]))]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def markdown(
    rows: list, configs: list[str], datasets: list[str], seeds: int, wall: float, cmd: str
):
    table = _WORKER["table"]
    lines = [
        "# Early stopping on NAS-Bench-201: test accuracy vs simulated compute",
        "",
        f"`{cmd}`",
        "",
        f"Machine: {machine_line()}. Whole grid: {wall:.0f} s wall. Seeds 0..{seeds - 1}.",
        "",
        (__doc__ or "").split("\n\n")[1].replace("\n", " "),
        "",
        (__doc__ or "").split("\n\n")[2].replace("\n", " "),
        "",
        "C_ref (GPU-hours, from the table): "
        + ", ".join(
            f"{DATASET_NAMES[d]} {reference_compute(table, d) / 3600:.1f}" for d in datasets
        )
        + ".",
        "",
    ]
    for dataset in datasets:
        lines += [
            f"## {DATASET_NAMES[dataset]}: test accuracy (%) at a fraction of C_ref",
            "",
            "| config | "
            + " | ".join(f"{f:g} C_ref" for f in FRACTIONS)
            + " | trials (full) at 1 C_ref |",
            "|---|" + "---|" * (len(FRACTIONS) + 1),
        ]
        for config in configs:
            cells = []
            for fraction in FRACTIONS:
                sel = [
                    r
                    for r in rows
                    if r["config"] == config
                    and r["dataset"] == dataset
                    and r["fraction"] == fraction
                ]
                mean, std = _mean(sel, "test_acc")
                cells.append(f"{mean:.2f} ± {std:.2f}")
            at_one = [
                r
                for r in rows
                if r["config"] == config and r["dataset"] == dataset and r["fraction"] == 1.0
            ]
            cells.append(
                f"{_mean(at_one, 'trials')[0]:.0f} ({_mean(at_one, 'full_trials')[0]:.0f})"
            )
            lines.append(f"| {config} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## Goals",
        "",
        "Random search @200 (200 full trials, `nb201_strategies`, 50 seeds): "
        + " / ".join(f"{RANDOM_AT_200[d]:.2f}" for d in datasets)
        + ".",
        "",
    ]
    quarter = []
    for config in configs:
        means = {
            d: _mean(
                [
                    r
                    for r in rows
                    if r["config"] == config and r["dataset"] == d and r["fraction"] == 0.25
                ],
                "test_acc",
            )[0]
            for d in datasets
        }
        if all(round(means[d], 2) >= RANDOM_AT_200[d] for d in datasets):
            quarter.append(config)
    lines.append(
        "- Random search @200's test accuracy with at most a quarter of its compute (0.25 C_ref), "
        f"all datasets: {', '.join(quarter) if quarter else 'none'}."
    )
    peers = [c for c in configs if c.startswith("optuna")]
    if peers:
        beat = []
        for config in configs:
            if config in peers:
                continue
            wins = True
            for d in datasets:
                for fraction in FRACTIONS:

                    def m(c: str, d: str = d, fraction: float = fraction) -> float:
                        sel = [
                            r
                            for r in rows
                            if r["config"] == c and r["dataset"] == d and r["fraction"] == fraction
                        ]
                        return round(_mean(sel, "test_acc")[0], 2)

                    if not all(m(config) > m(p) for p in peers):
                        wins = False
            if wins:
                beat.append(config)
        lines.append(
            "- Above every Optuna peer at every compute fraction and dataset (mean test "
            f"accuracy): {', '.join(beat) if beat else 'none'}."
        )
    lines += ["", "## Configurations", ""]
    for name, (desc, _) in strategies().items():
        lines.append(f"- **{name}**: `strategy.{desc}`")
    for name, (desc, _) in pruners().items():
        lines.append(f"- **+{name}**: `{desc}`")
    for name, desc in OPTUNA.items():
        lines.append(f"- **{name}**: `optuna.samplers.{desc}`")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--configs", nargs="+", default=None, help="default: all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--table", default=os.environ.get("RETIARII_NB201", str(DEFAULT_TABLE)))
    parser.add_argument("--name", default="nb201_multifidelity")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    configs = args.configs or all_configs()
    unknown = [c for c in configs if c not in all_configs()]
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {all_configs()}")
    if not Path(args.table).is_file():
        parser.error(f"NAS-Bench-201 table not found at {args.table}; pass --table PATH")
    start = time.time()
    rows = run_grid(configs, args.datasets, args.seeds, args.table, args.workers)
    wall = time.time() - start
    _setup_worker(args.table)  # the table, for the report
    command = "python benchmarks/nb201_multifidelity.py " + " ".join(argv or sys.argv[1:])
    text = markdown(rows, configs, args.datasets, args.seeds, wall, command.strip())
    print(text)
    if not args.no_write:
        csv_path, md_path = write_results(args.name, rows, text)
        print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
