"""The ``fixed_arch`` context: build a model directly for one sample.

This is the only context-dependent machinery in retiarii, and it is deliberately small:

* Inside ``with fixed_arch(sample):`` choice modules look up their label in the sample *only to
  skip building what the sample rules out* (unchosen factory candidates of a ``LayerChoice``,
  blocks of a ``Repeat`` beyond the chosen depth, layers whose value-choice arguments can be
  resolved at once). Nothing returns a different type from ``__new__``.
* When the outermost ``@model_wrapper`` model finishes ``__init__`` inside the block, it freezes
  itself in place with the same walk that :meth:`ModelSpace.freeze` uses, so the object you get back
  contains no retiarii choice modules.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ...mutable import load_sample

__all__ = ["FixedContext", "current_fixed", "fixed_arch"]

_logger = logging.getLogger(__name__)


@dataclass
class FixedContext:
    """The sample being built, and what the build has seen of it."""

    sample: dict[str, Any]
    used: set[str] = field(default_factory=set)
    skipped_lazily: bool = False
    strict: bool = True
    models_frozen: int = 0
    # Unchosen candidate modules a LayerChoice dropped while building: their labels are part of
    # the space's samples, so the unknown-label check must still recognise them.
    dropped: list[Any] = field(default_factory=list)

    def mark_used(self, labels: Iterator[str] | list[str] | set[str]) -> None:
        """Record labels that a choice consumed while building."""
        self.used.update(labels)


_current: ContextVar[FixedContext | None] = ContextVar("retiarii_fixed_arch", default=None)


def current_fixed() -> FixedContext | None:
    """The active ``fixed_arch`` context, if any."""
    return _current.get()


@contextmanager
def fixed_arch(
    fixed_arch: Mapping[str, Any] | str | os.PathLike[str],
    verbose: bool = True,
    *,
    strict: bool = True,
) -> Iterator[FixedContext]:
    """Build the model for one sample: ``with fixed_arch(sample): model = Net()``.

    Args:
        fixed_arch: a sample ``{label: value}`` or the path of a JSON file holding one (e.g. what
            ``export_top_models`` wrote).
        verbose: log the sample being applied.
        strict: raise on labels the model does not use (typos, or a sample of another space).
            ``strict=False`` ignores them: for the sample of a joint search, whose evaluator
            labels (``lr``) the model does not have — pass that sample to
            ``evaluator.freeze(sample)`` too.

    The outermost model class must be decorated with ``@model_wrapper``; the model built inside the
    block is then an ordinary ``torch.nn.Module``. A missing label raises as soon as the choice that
    needs it is built; unknown labels raise when the model is complete (unless candidates were
    skipped lazily, in which case their labels cannot be checked).
    """
    sample = load_sample(fixed_arch)
    if verbose:
        _logger.info("fixed architecture: %s", json.dumps(sample, default=repr))
    ctx = FixedContext(dict(sample), strict=strict)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
    if ctx.models_frozen == 0 and ctx.used:
        warnings.warn(
            "fixed_arch(): choices were built inside the block but no @model_wrapper model was "
            "completed, so nothing was frozen. Decorate the outermost module class with "
            "@retiarii.model_wrapper, or use ModelSpace(model).freeze(sample).",
            stacklevel=3,
        )
