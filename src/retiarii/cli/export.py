"""``retiarii export EXPERIMENT``: the best samples, as JSON or as code that rebuilds them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import add_experiment_argument, experiment_directory, format_metric, importable_cwd
from .main import CommandError

__all__ = ["fallback_code", "register"]

_PAYLOAD = "experiment.pkl"


def fallback_code(class_name: str, sample: dict[str, Any]) -> str:
    """A snippet like ``model_code``'s, for when the model class cannot be loaded."""
    from ..experiment.experiment import fixed_arch_snippet

    name = class_name if class_name.replace("_", "a").replace(".", "a").isalnum() else "Model"
    return fixed_arch_snippet(
        f"# import {name} from the module that defines it", sample, f"{name}()"
    )


def _base_model(directory: Path) -> tuple[Any, str | None]:
    """The experiment's base model from ``experiment.pkl``, or ``None`` and why not."""
    path = directory / _PAYLOAD
    if not path.is_file():
        return None, f"{path} is missing"
    importable_cwd()
    try:
        import cloudpickle

        payload = cloudpickle.loads(path.read_bytes())
    except Exception as exc:  # any failure to unpickle user code: fall back to the class name
        return None, f"cannot load {path} ({type(exc).__name__}: {exc})"
    if payload.get("applied_mutators"):
        raise CommandError(
            "--format code cannot express the experiment's applied_mutators (the snippet would "
            "build the unmutated model); use --format json"
        )
    return payload["base_model"], None


def _codes(directory: Path, top: list[dict[str, Any]], class_name: str) -> list[str]:
    from ..experiment.experiment import model_code

    base_model, problem = _base_model(directory)
    if base_model is None:
        print(
            f"retiarii: warning: {problem}; naming the model class {class_name!r} from the store",
            file=sys.stderr,
        )
        return [fallback_code(class_name, entry["sample"]) for entry in top]
    return [model_code(base_model, entry["sample"]) for entry in top]


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
        class_name = str(store.experiment().info.get("model") or "Model")
    if not data["top"]:
        raise CommandError(f"experiment {data['experiment']} has no successful trial to export")
    if args.format == "json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        parts = []
        for entry, code in zip(data["top"], _codes(directory, data["top"], class_name)):
            header = (
                f"# {entry['rank']}. trial {entry['trial_id']}: "
                f"metric {format_metric(entry['metric'])} ({data['optimize_mode']})"
                if not args.pareto
                else f"# {entry['rank']}. trial {entry['trial_id']} (Pareto front): "
                + ", ".join(f"{k} {format_metric(v)}" for k, v in entry["objectives"].items())
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
        "the experiment's optimize_mode) as JSON ({'top': [{'rank', 'trial_id', 'metric', "
        "'sample'}, ...]}) or as Python code that rebuilds each with fixed_arch. The code "
        "format loads the model class from experiment.pkl: run it where the experiment's code "
        "is importable.",
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
