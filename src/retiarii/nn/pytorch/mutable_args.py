"""Building a module whose constructor arguments hold value choices.

Used by the ``retiarii.nn.pytorch`` versions of torch layers and by ``@basic_unit`` classes. In a
model space the module is built once with *representative* arguments (the largest candidate of
each numeric choice, the first otherwise — so weight-sharing supernets can slice the biggest
weight), and the symbolic arguments are kept to rebuild it when a sample is chosen. Inside
``fixed_arch`` the arguments are resolved at once and the module is built only once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch.nn as tnn

from ...mutable import Choice, contains_mutable, freeze_structure, leaves_of
from .base import NNI_HABIT, NotFrozenError
from .fixed import current_fixed

__all__ = ["explain_build_error", "init_with_choices", "mutable_args", "representative_sample"]

_ATTR = "_retiarii_mutable_args"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def representative_sample(choices: Iterable[Choice], largest: bool = True) -> dict[str, Any]:
    """For each choice, its largest value if all its values are numbers (else its first)."""
    sample: dict[str, Any] = {}
    for choice in choices:
        if choice.label in sample:
            continue
        values = list(choice.values())
        if largest and all(_is_number(v) for v in values):
            sample[choice.label] = max(values)
        else:
            sample[choice.label] = values[0]
    return sample


class _NotFrozenForward:
    """Stands in for ``forward`` of a layer whose arguments are still undecided."""

    def __init__(self, owner: str, labels: list[str]) -> None:
        self.owner = owner
        self.labels = labels

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotFrozenError(
            f"{self.owner} has value-choice arguments (labels {self.labels}) that are not decided "
            "yet. Build one architecture with `with retiarii.fixed_arch(sample): model = Net()` "
            "or `retiarii.ModelSpace(model).freeze(sample)`, or use a one-shot trainer." + NNI_HABIT
        )


def explain_build_error(
    owner: str, recorded: Any, sample: Mapping[str, Any], exc: Exception
) -> ValueError:
    """A layer rejected the values a sample gives its arguments (torch asserts, e.g.
    ``embed_dim must be divisible by num_heads``): say which labels and values led there."""
    labels = sorted({leaf.label for leaf in leaves_of(recorded)})
    values = ", ".join(f"{label}={sample.get(label)!r}" for label in labels)
    return ValueError(
        f"{owner} cannot be built with the sample's values ({values}): {exc or type(exc).__name__}. "
        "Restrict the choices so that every combination is valid (e.g. derive one from another)."
    )


def init_with_choices(
    module: tnn.Module,
    init: Callable[..., None],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Run ``init(module, *args, **kwargs)``, resolving any value choices in the arguments."""
    if not contains_mutable((args, kwargs)):
        init(module, *args, **kwargs)
        return
    leaves = list(leaves_of((args, kwargs)))
    owner = type(module).__name__
    ctx = current_fixed()
    if ctx is not None:
        frozen_args, frozen_kwargs = freeze_structure((args, kwargs), ctx.sample)
        ctx.mark_used([leaf.label for leaf in leaves])
        try:
            init(module, *frozen_args, **frozen_kwargs)
        except (AssertionError, ValueError, TypeError, RuntimeError) as exc:
            raise explain_build_error(owner, (args, kwargs), ctx.sample, exc) from exc
        return
    errors: list[BaseException] = []
    for largest in (True, False):
        rep_args, rep_kwargs = freeze_structure(
            (args, kwargs), representative_sample(leaves, largest)
        )
        try:
            init(module, *rep_args, **rep_kwargs)
            break
        except Exception as exc:  # the representative combination may be invalid
            errors.append(exc)
    else:
        raise TypeError(
            f"{owner}: could not build the layer with its value-choice arguments "
            f"(tried the largest and the first candidates): {errors[-1]}"
        ) from errors[-1]
    module.__dict__[_ATTR] = (args, kwargs)
    module.__dict__["forward"] = _NotFrozenForward(owner, sorted({leaf.label for leaf in leaves}))


def mutable_args(module: tnn.Module) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The symbolic constructor arguments of ``module``, if it was built with value choices."""
    value: tuple[tuple[Any, ...], dict[str, Any]] | None = module.__dict__.get(_ATTR)
    return value
