"""``retiarii ss-gen MODULE:CALLABLE``: write a model space's search-space JSON (seed 003 format)."""

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
    text = json.dumps(ModelSpace(model).to_json(), indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        print(f"search space written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


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
    parser.set_defaults(handler=run)
