"""``retiarii`` entry point: parses arguments, dispatches, turns errors into one clear line.

Exit codes: 0 success; 1 the command failed (no such experiment, port in use, ...); 2 bad usage
(argparse's own errors and :class:`CLIError`); 130 interrupted with Ctrl-C. Set
``RETIARII_DEBUG=1`` to see the traceback of an unexpected error instead of its one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from .. import __version__

__all__ = ["CLIError", "CommandError", "build_parser", "main"]


class CLIError(Exception):
    """Bad usage, printed as one line (``retiarii: error: ...``) with exit code 2."""


class CommandError(Exception):
    """The command could not do its job; printed as one line with exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from . import export, listing, resume, ss_gen, view

    parser = argparse.ArgumentParser(
        prog="retiarii",
        description="Neural architecture search for PyTorch: inspect, export and resume "
        "experiments, and write search spaces.",
        epilog="Run 'retiarii COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"retiarii {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (view, listing, export, resume, ss_gen):
        command.register(sub)
    return parser


def _fail(message: str, code: int) -> int:
    text = " ".join(str(message).split()) or "failed"  # always one line
    print(f"retiarii: error: {text}", file=sys.stderr)
    return code


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    print(f"retiarii: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # one plain line, like the CLI's errors
            code: int = args.handler(args)
    except CLIError as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        print("retiarii: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `retiarii list | head`
        sys.stderr.close()
        return 1
    except (CommandError, OSError, ImportError) as exc:
        if os.environ.get("RETIARII_DEBUG"):
            raise
        return _fail(str(exc), 1)
    except Exception as exc:
        if os.environ.get("RETIARII_DEBUG"):
            raise
        from ..store import StoreError

        if isinstance(exc, StoreError):
            return _fail(str(exc), 1)
        return _fail(f"{type(exc).__name__}: {exc} (set RETIARII_DEBUG=1 to see the traceback)", 1)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
