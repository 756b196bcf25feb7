"""``retiarii resume EXPERIMENT``: continue a stopped or killed experiment to its budget."""

from __future__ import annotations

import argparse
import sys

from ._common import add_experiment_argument, experiment_directory, format_metric, importable_cwd
from .main import CommandError

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Load the experiment, run it to the end, print how it ended."""
    from ..experiment.experiment import RetiariiExperiment
    from ..store import StoreLockedError

    directory = experiment_directory(args.experiment)
    if not (directory / "experiment.pkl").is_file():
        raise CommandError(
            f"{directory} has no experiment.pkl (the pickled model space, evaluator and "
            "strategy), so it cannot be resumed (a one-shot *trainer* passed as the evaluator is "
            "not resumable; one-shot strategies such as strategy.DARTS() are)"
        )
    importable_cwd()
    try:
        exp = RetiariiExperiment.resume(directory, wait_completion=False)
    except StoreLockedError:
        raise CommandError(
            f"{directory} is in use by a running experiment; stop it first (or watch it with "
            "'retiarii view')"
        ) from None
    except (ImportError, AttributeError) as exc:
        raise CommandError(
            f"cannot load the experiment's model space and evaluator from experiment.pkl "
            f"({type(exc).__name__}: {exc}); run this where the experiment's code is importable "
            "(its directory, or set PYTHONPATH)"
        ) from exc
    try:
        exp.run(exp.config, args.port)
    finally:
        exp.stop()  # closes the dashboard, if any

    record = exp.store.experiment()
    best = exp.store.answer(1, oneshot=exp.oneshot)
    summary = f"experiment {record.id}: {record.status}"
    if best:
        which = "exported" if exp.oneshot else "best"
        summary += f"; {which} {format_metric(best[0].final_value)} (trial {best[0].id})"
    print(summary, file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``resume`` subcommand."""
    parser = sub.add_parser(
        "resume",
        help="continue an experiment to its budget (runs code from its experiment.pkl)",
        description="Continue EXPERIMENT (stopped, interrupted or killed) to the budget of its "
        "configuration: finished trials are kept, trials that were running run again. The "
        "experiment's code must be importable (run it where the experiment's script ran). "
        "Resuming unpickles EXPERIMENT/experiment.pkl, which RUNS CODE from that file: resume "
        "only experiments you trust (list, view and export never load it).",
    )
    add_experiment_argument(parser)
    parser.add_argument(
        "--port", type=int, default=None, help="also serve the dashboard on this port"
    )
    parser.set_defaults(handler=run)
