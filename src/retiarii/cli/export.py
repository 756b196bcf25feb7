"""``retiarii export EXPERIMENT``: the best samples, as JSON or as code that rebuilds them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import add_experiment_argument, experiment_directory, format_metric
from .listing import printable
from .main import CommandError

__all__ = ["fallback_code", "register"]


def fallback_code(
    class_name: str, sample: dict[str, Any], hyperparameter_labels: list[str] | None = None
) -> str:
    """A snippet like ``model_code``'s, for when the model class cannot be loaded."""
    from ..experiment.experiment import fixed_arch_snippet

    name = class_name if class_name.replace("_", "a").replace(".", "a").isalnum() else "Model"
    return fixed_arch_snippet(
        f"# import {name} from the module that defines it",
        sample,
        f"{name}()",
        hyperparameter_labels or (),
    )


def _codes(
    info: dict[str, Any], top: list[dict[str, Any]], hyperparameters: list[str]
) -> list[str]:
    """Snippets from what the experiment stored as data at creation (its model's import line
    and constructor call): experiment.pkl is never unpickled, so exporting from a directory you
    did not create runs none of its code."""
    from ..experiment.experiment import fixed_arch_snippet

    if info.get("applied_mutators"):
        raise CommandError(
            "--format code cannot express the experiment's applied_mutators (the snippet would "
            "build the unmutated model); use --format json"
        )
    class_name = str(info.get("model") or "Model")
    if not info.get("model_import") or not info.get("model_call"):
        print(
            "retiarii: warning: this experiment's store predates the stored import line; "
            f"naming the model class {class_name!r} from the store",
            file=sys.stderr,
        )
        return [fallback_code(class_name, entry["sample"], hyperparameters) for entry in top]
    return [
        fixed_arch_snippet(
            str(info["model_import"]), entry["sample"], str(info["model_call"]), hyperparameters
        )
        for entry in top
    ]


def run(args: argparse.Namespace) -> int:
    """Print (or write) the export."""
    from ..dashboard.views import export_view
    from ..store import DEFAULT_FILENAME, ExperimentStore

    if args.top_k < 1:
        raise CommandError(f"--top-k must be at least 1, got {args.top_k}")
    directory = experiment_directory(args.experiment)
    with ExperimentStore(directory / DEFAULT_FILENAME, readonly=True) as store:
        data = (
            pareto_view(store)
            if args.pareto
            else export_view(store, args.top_k, args.optimize_mode)
        )
        info = dict(store.experiment().info)
        # a joint search: the evaluator's labels are not the model's
        hyperparameters = list(info.get("hyperparameter_labels") or [])
    if not data["top"]:
        if data.get("oneshot"):
            raise CommandError(
                f"one-shot experiment {data['experiment']} has not exported an architecture yet "
                "(it does when the search ends or is stopped)"
            )
        raise CommandError(f"experiment {data['experiment']} has no successful trial to export")
    if args.format == "json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        parts = []
        for entry, code in zip(data["top"], _codes(info, data["top"], hyperparameters)):
            if args.pareto:
                header = (
                    f"# {entry['rank']}. trial {entry['trial_id']} (Pareto front): "
                    + ", ".join(f"{k} {format_metric(v)}" for k, v in entry["objectives"].items())
                )
            elif data.get("oneshot"):  # one supernet: its export, judged by the user's metric
                strategy = printable(str(info.get("strategy") or "the search"))
                which = (
                    "the architecture"  # the newest export: the answer
                    if entry["rank"] == 1
                    else f"an earlier architecture (trial {entry['trial_id']})"
                )
                metric = (
                    f"{data.get('metric_name') or 'metric'} {format_metric(entry['metric'])} "
                    f"({data['optimize_mode']})"
                    if entry["metric"] is not None
                    else "no metric (stopped before an epoch finished)"
                )
                header = f"# {which} exported by {strategy}: {metric}"
            else:
                header = (
                    f"# {entry['rank']}. trial {entry['trial_id']}: "
                    f"metric {format_metric(entry['metric'])} ({data['optimize_mode']})"
                )
            parts.append(f"{header}\n{code}")
        text = "\n".join(parts)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(data['top'])} sample(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``export`` subcommand."""
    parser = sub.add_parser(
        "export",
        help="print the best architectures of an experiment",
        description="Print the TOP_K best samples of EXPERIMENT (successful trials ranked by "
        "the experiment's optimize_mode; for a one-shot search, its newest exports, newest "
        "first) as JSON ({'top': [{'rank', 'trial_id', 'metric', 'sample'}, ...]}) or as Python "
        "code that rebuilds each with fixed_arch. Reads only the store: no code from the "
        "experiment directory runs (experiment.pkl is not loaded).",
    )
    add_experiment_argument(parser)
    parser.add_argument("-k", "--top-k", type=int, default=1, help="how many (default 1)")
    parser.add_argument(
        "-f", "--format", choices=("json", "code"), default="json", help="output (default json)"
    )
    parser.add_argument(
        "--optimize-mode",
        choices=("maximize", "minimize"),
        help="rank this way instead of the experiment's own optimize_mode",
    )
    parser.add_argument(
        "--pareto",
        action="store_true",
        help="export the Pareto front of the experiment's objectives (config.objectives) instead "
        "of the TOP_K best by one metric",
    )
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    parser.set_defaults(handler=run)


def pareto_view(store: Any) -> dict[str, Any]:
    """Like ``export_view``, for the Pareto front: ``top[i]["objectives"]`` holds its values."""
    from ..pareto import Objectives
    from ..store.pareto import experiment_objectives, pareto_trials

    record = store.experiment()
    objectives = experiment_objectives(store) or Objectives({"default": record.optimize_mode})
    trials = pareto_trials(store, objectives)
    return {
        "experiment": record.id,
        "name": record.name,
        "objectives": objectives.directions,
        "top": [
            {
                "rank": rank,
                "trial_id": t.id,
                "metric": t.final_value,
                "objectives": objectives.values(t.final if t.final is not None else t.final_value),
                "final": t.final,
                "sample": t.sample,
            }
            for rank, t in enumerate(trials, start=1)
        ],
    }
