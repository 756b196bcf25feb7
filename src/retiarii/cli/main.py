"""``retiarii`` entry point: parses arguments, dispatches, turns errors into one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import ss_gen

__all__ = ["CLIError", "main"]


class CLIError(Exception):
    """An error to print as one line (``retiarii: error: ...``) with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="retiarii", description="Neural architecture search for PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"retiarii {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ss_gen.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code: int = args.handler(args)
    except CLIError as exc:
        print(f"retiarii: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
