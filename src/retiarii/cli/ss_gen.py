"""``retiarii ss-gen MODULE:CALLABLE``: write a model space's search-space JSON (NNI's format),
and with ``--ranges`` the spread of its parameters and multiply-adds."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

__all__ = ["load_callable", "register"]


def load_callable(spec: str) -> Any:
    """Import ``package.module:attr.path`` (the current directory is importable)."""
    from .main import CLIError

    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise CLIError(f"expected MODULE:CALLABLE (e.g. my_space:Net), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise CLIError(f"cannot import module {module_name!r}: {exc}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def run(args: argparse.Namespace) -> int:
    """Build the model space and print or write its JSON."""
    from .main import CLIError

    factory = load_callable(args.target)  # before importing torch: a typo fails fast
    import torch.nn as tnn

    from ..nn.pytorch.space import ModelSpace

    if not callable(factory):
        raise CLIError(f"{args.target} is not callable")
    model = factory()
    if not isinstance(model, tnn.Module):
        raise CLIError(f"{args.target}() returned {type(model).__name__}, not a torch.nn.Module")
    space = ModelSpace(model)
    text = json.dumps(space.to_json(), indent=2)
    if args.ranges:
        _print_ranges(space, args)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        print(f"search space written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def _parse_shape(text: str) -> tuple[int, ...]:
    from .main import CLIError

    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise CLIError(
            f"--input-shape: expected comma-separated sizes like 1,3,32,32, got {text!r}"
        ) from None
    if not shape or any(n < 1 for n in shape):
        raise CLIError(f"--input-shape: sizes must be positive, got {text!r}")
    return shape


def _print_ranges(space: Any, args: argparse.Namespace) -> None:
    """The spread of parameters (and multiply-adds, given an input shape) over random samples of
    the space, on stderr: what a constraint or a Pareto front is read against."""
    import torch

    from ..experiment.objectives import profiled_ranges
    from ..profiler import FlopsProfiler, NumParamsProfiler

    profilers: dict[str, Any] = {"params": NumParamsProfiler(space)}
    if args.input_shape:
        profilers["flops"] = FlopsProfiler(space, torch.zeros(_parse_shape(args.input_shape)))
    ranges = profiled_ranges(profilers, space.search_space, samples=args.samples, seconds=60.0)
    for name, spread in ranges.items():
        print(
            f"{name}: {spread['min']:,.0f} .. {spread['max']:,.0f} "
            f"over {spread['samples']} random samples",
            file=sys.stderr,
        )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ss-gen`` subcommand."""
    parser = sub.add_parser(
        "ss-gen",
        help="write the search-space JSON of a model space",
        description="Build MODULE:CALLABLE (a model class or a function returning a model) and "
        "print its search space in NNI's ss-gen JSON format.",
    )
    parser.add_argument("target", metavar="MODULE:CALLABLE")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    parser.add_argument(
        "--ranges",
        action="store_true",
        help="also print (on stderr) the range of parameters over random samples, and of "
        "multiply-adds with --input-shape",
    )
    parser.add_argument("--input-shape", help="e.g. 1,3,32,32: the input of the FLOPs profile")
    parser.add_argument("--samples", type=int, default=200, help="random samples (default 200)")
    parser.set_defaults(handler=run)
