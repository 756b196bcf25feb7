"""``FunctionalEvaluator``: wrap any function ``fn(model, **kwargs)`` as an evaluator."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._repr import short_repr
from .base import Evaluator

__all__ = ["FunctionalEvaluator"]


def _check_signature(function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Refuse now, not in every trial, a function that cannot be called as ``function(model,
    **kwargs)`` (a misspelled or missing argument)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins and some C callables have none: let them run
        return
    try:
        signature.bind(None, **kwargs)
    except TypeError as exc:
        name = getattr(function, "__qualname__", repr(function))
        given = ", ".join(["model", *kwargs]) or "model"
        raise TypeError(
            f"FunctionalEvaluator: {name}{signature} cannot be called as {name}({given}): {exc}; "
            "every keyword given to FunctionalEvaluator is passed to the function after the model"
        ) from None


class FunctionalEvaluator(Evaluator):
    """Call ``function(model, **kwargs)`` for every model.

    The function reports with ``retiarii.report_final_result(metric)`` (and optionally
    ``report_intermediate_result``); if it reports nothing but returns a number (or a dict with a
    ``'default'`` key), the return value is taken as the final result.

    Example:
        >>> def fit(model, dataloader):
        ...     ...
        ...     retiarii.report_final_result(accuracy)
        >>> evaluator = FunctionalEvaluator(fit, dataloader=loader)  # doctest: +SKIP

    Value choices in ``kwargs`` (``lr=loguniform('lr', 1e-4, 1e-1)``, also inside lists, dicts and
    ``serialize``-built objects) are searched: each trial calls ``function`` with plain values.
    """

    def __init__(self, function: Callable[..., Any], **kwargs: Any) -> None:
        if not callable(function):
            raise TypeError(f"FunctionalEvaluator needs a function, got {function!r}")
        _check_signature(function, kwargs)
        self.function = function
        self.arguments = kwargs

    def evaluate(self, model: Any) -> Any:
        self.check_frozen()
        return self.function(model, **self.arguments)

    def __repr__(self) -> str:
        name = getattr(self.function, "__qualname__", repr(self.function))
        args = "".join(f", {k}={short_repr(v)}" for k, v in sorted(self.arguments.items()))
        return f"FunctionalEvaluator({name}{args})"
