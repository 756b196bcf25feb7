"""``ModelParameterChoice``: NNI 2.x's value choice that is a plain value at once.

``nn.ModelParameterChoice([False, True])`` returns one of its candidates, not a symbolic choice:
the default (the first, unless ``default`` says otherwise) while the model space is built, and the
sampled value when an architecture is built (``fixed_arch``, or a trial). So it works where a
``ValueChoice`` cannot — ``if``, ``for``, ``torch.zeros(1, dim)``, or read inside ``forward`` —
at a price: a built space is one architecture with respect to it, so a model must be *rebuilt*
for another value. ``ModelSpace(model).build(sample)`` and multi-trial experiments do that;
``ModelSpace.freeze`` and one-shot strategies cannot, and say so.

Each call registers its decision with the ``@model_wrapper`` model under construction, which is
how the search space learns about it; outside a ``@model_wrapper`` construction it is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ...mutable import Categorical, SampleError
from ...mutable.labels import label_or_auto
from .fixed import current_fixed

__all__ = [
    "ModelParameterChoice",
    "check_frozen_in_place",
    "parameter_choices",
    "record_parameter_choices",
]

#: Attribute of a ``@model_wrapper`` instance: ``[(choice, value used at construction), ...]``.
_ATTR = "_retiarii_parameter_choices"
_registry: ContextVar[list[tuple[Categorical, Any]] | None] = ContextVar(
    "retiarii_parameter_choices", default=None
)


class ModelParameterChoice:
    """Choose one of ``candidates``; the call returns the value itself (NNI 2.x's API).

    Args:
        candidates: the values (JSON values: numbers, strings, bools, lists).
        prior: accepted for NNI compatibility and ignored (sampling is uniform).
        default: the value used while the space is built: a candidate, or a function of the
            candidate list such as :meth:`FIRST` (the default) or :meth:`LAST`.
        label: the decision's label (automatic labels follow NNI's numbering).

    Example::

        @model_wrapper
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rate = nn.ModelParameterChoice([0.1, 0.5])   # a float, read in forward
                if nn.ModelParameterChoice([False, True], label="aux"):
                    self.aux = nn.Linear(16, 10)
    """

    def __new__(
        cls,
        candidates: Iterable[Any],
        *,
        prior: Sequence[float] | None = None,
        default: Callable[[list[Any]], Any] | Any = None,
        label: str | None = None,
    ) -> Any:
        values = list(candidates)
        label = label_or_auto(label, "ModelParameterChoice")
        decision = Categorical(values, label=label)
        ctx = current_fixed()
        if ctx is not None:
            if label not in ctx.sample:
                raise SampleError(
                    f"fixed_arch: the sample has no value for ModelParameterChoice {label!r}; "
                    f"allowed values: {decision.domain}"
                )
            ctx.mark_used([label])
            return decision.freeze(ctx.sample)
        registry = _registry.get()
        if registry is None:
            raise RuntimeError(
                f"ModelParameterChoice {label!r} was created outside a @model_wrapper model: its "
                "value is decided per architecture, so it must be created in the __init__ of the "
                "model class decorated with @model_wrapper (or of a module it builds)"
            )
        chosen = default(values) if callable(default) else values[0] if default is None else default
        decision.normalize(chosen)  # a default that is not a candidate names the label
        registry.append((decision, chosen))
        return chosen

    @staticmethod
    def FIRST(sequence: Sequence[Any]) -> Any:
        """The first candidate."""
        return sequence[0]

    @staticmethod
    def LAST(sequence: Sequence[Any]) -> Any:
        """The last candidate."""
        return sequence[-1]


@contextmanager
def record_parameter_choices(model: Any) -> Any:
    """Collect the ModelParameterChoices created while ``model`` is built, onto ``model``."""
    found: list[tuple[Categorical, Any]] = []
    token = _registry.set(found)
    try:
        yield
    finally:
        _registry.reset(token)
        if found:
            model.__dict__[_ATTR] = found


def parameter_choices(module: Any) -> list[tuple[Categorical, Any]]:
    """``[(decision, value the module was built with), ...]`` registered on ``module``."""
    found: list[tuple[Categorical, Any]] = module.__dict__.get(_ATTR, [])
    return found


def check_frozen_in_place(model: Any, sample: dict[str, Any]) -> None:
    """Raise if ``sample`` asks a ModelParameterChoice of ``model`` (or its submodules) for a
    value other than the one it was built with (freezing cannot rebuild it); otherwise forget
    the choices, which are decided in the frozen copy."""
    for module in model.modules():
        for decision, built in parameter_choices(module):
            wanted = sample.get(decision.label)
            if wanted is not None and decision.normalize(wanted) != decision.normalize(built):
                raise ValueError(
                    f"ModelParameterChoice {decision.label!r} took its value ({built!r}) when the "
                    f"model space was built, so freezing cannot make it {wanted!r}: build the "
                    "architecture instead, with `ModelSpace(model).build(sample)` or "
                    "`with fixed_arch(sample): model = Net()`"
                )
        module.__dict__.pop(_ATTR, None)
