"""``retiarii view EXPERIMENT``: serve the dashboard of a finished or running experiment."""

from __future__ import annotations

import argparse

from ._common import add_experiment_argument, experiment_directory

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    from ..experiment.experiment import RetiariiExperiment

    directory = experiment_directory(args.experiment)
    RetiariiExperiment.view(directory, port=args.port, host=args.host)  # warns off loopback
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``view`` subcommand."""
    parser = sub.add_parser(
        "view",
        help="serve the dashboard of an experiment",
        description="Serve the web dashboard of EXPERIMENT (finished or still running) until "
        "Ctrl-C. It only reads the experiment's directory.",
    )
    add_experiment_argument(parser)
    parser.add_argument(
        "--port", type=int, default=8080, help="port to serve on (default 8080; 0: any free port)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0: everywhere)",
    )
    parser.set_defaults(handler=run)
