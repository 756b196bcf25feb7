"""Value choices in an evaluator's arguments: finding them, and resolving them for one trial.

A hyperparameter is searched like an architecture decision: ``FunctionalEvaluator(fit,
lr=loguniform('lr', 1e-4, 1e-1))`` puts label ``lr`` in the experiment's search space, and each
trial's evaluator is a copy of this one with every choice replaced by the sample's value (see
:meth:`~retiarii.evaluator.Evaluator.freeze`). The walk below defines "anywhere in the arguments":

* a choice or an expression over choices (``lr * 2``);
* lists, tuples, sets and dicts, at any depth;
* an object built by ``retiarii.serialize(cls, ...)`` (or ``pl.DataLoader``) whose recorded
  constructor arguments hold choices: it is *rebuilt* from the resolved arguments;
* for :func:`object_choices` / :func:`resolve_object` (used on a ``LightningModule``): the
  object's public attributes (and Lightning's saved hyperparameters), resolved in a shallow copy.

What it deliberately does not do: look inside arbitrary objects (a dataset, a model), or import
torch: this module only knows the attribute name that ``serialize`` records under.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from ..mutable import Choice, Mutable

T = TypeVar("T")

__all__ = [
    "build_recorded",
    "choices_in",
    "first_values",
    "has_choices",
    "object_choices",
    "record_call",
    "recorded_call",
    "resolve",
    "resolve_object",
]

#: Where ``retiarii.nn.pytorch.wrappers`` records ``(factory, args, kwargs)`` on an object.
_INIT_ARGS = "_retiarii_init_args"
#: Private attributes of a LightningModule that hold user values (``save_hyperparameters``).
_WALKED_PRIVATE = ("_hparams", "_hparams_initial")


def recorded_call(obj: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]] | None:
    """``(factory, args, kwargs)`` recorded by ``serialize`` on ``obj``, if any."""
    try:
        value: tuple[Any, tuple[Any, ...], dict[str, Any]] | None = vars(obj).get(_INIT_ARGS)
    except TypeError:  # no __dict__
        return None
    return value


def record_call(obj: Any, factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Record ``(factory, args, kwargs)`` on ``obj``, as ``serialize`` does (through ``__dict__``:
    torch modules and DataLoaders intercept ``setattr``)."""
    obj.__dict__[_INIT_ARGS] = (factory, args, kwargs)


def first_values(obj: Any) -> dict[str, Any]:
    """The first value of every choice in ``obj``: a sample that builds a working object."""
    sample: dict[str, Any] = {}
    for choice in choices_in(obj):
        sample.setdefault(choice.label, next(iter(choice.values())))
    return sample


def build_recorded(factory: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    """``factory(*args, **kwargs)`` with every choice at its first value, and the symbolic call
    recorded on the result, so that :func:`resolve` rebuilds it with a trial's values."""
    first = first_values((args, kwargs))
    obj = factory(*resolve(args, first), **resolve(kwargs, first))
    record_call(obj, factory, args, kwargs)
    return obj


def choices_in(obj: Any) -> Iterator[Choice]:
    """Every choice that ``obj`` holds (a label may repeat), by the rules of the module docstring."""
    if isinstance(obj, Mutable):
        yield from obj.leaves()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from choices_in(item)
    elif isinstance(obj, Mapping):
        for item in obj.values():
            yield from choices_in(item)
    else:
        recorded = recorded_call(obj)
        if recorded is not None:
            yield from choices_in((recorded[1], recorded[2]))


def has_choices(obj: Any) -> bool:
    """Whether ``obj`` holds a choice (by the rules of :func:`choices_in`)."""
    return next(choices_in(obj), None) is not None


def resolve(obj: Any, sample: Mapping[str, Any]) -> Any:
    """``obj`` with every choice replaced by its value under ``sample`` (untouched if it has none)."""
    if isinstance(obj, Mutable):
        return obj.freeze(sample)
    if not has_choices(obj):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [resolve(item, sample) for item in obj]
        if isinstance(obj, tuple):
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        return type(obj)(items) if type(obj) is not list else items
    if isinstance(obj, (set, frozenset)):
        return type(obj)(resolve(item, sample) for item in obj)
    if isinstance(obj, Mapping):
        resolved = {key: resolve(value, sample) for key, value in obj.items()}
        try:
            return type(obj)(resolved)  # type: ignore[call-arg]
        except TypeError:  # a mapping type that cannot be built from a dict
            return resolved
    recorded = recorded_call(obj)
    assert recorded is not None
    factory, args, kwargs = recorded
    return factory(*resolve(args, sample), **resolve(kwargs, sample))


def _walked_attributes(obj: Any) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(obj).items()
        if (not key.startswith("_") or key in _WALKED_PRIVATE) and key != _INIT_ARGS
    }


def object_choices(obj: Any) -> Iterator[Choice]:
    """The choices of an object the user built (e.g. a ``LightningModule``): those in its recorded
    constructor arguments if ``serialize`` built it, else those in its public attributes."""
    recorded = recorded_call(obj)
    if recorded is not None and has_choices((recorded[1], recorded[2])):
        yield from choices_in((recorded[1], recorded[2]))
        return
    try:
        attributes = _walked_attributes(obj)
    except TypeError:
        return
    yield from choices_in(attributes)


def resolve_object(obj: Any, sample: Mapping[str, Any]) -> Any:
    """``obj`` for one trial: rebuilt from resolved constructor arguments when it was built by
    ``serialize`` with choices, else a shallow copy whose attributes holding choices are resolved
    (the original is left as it is, for the next trial)."""
    recorded = recorded_call(obj)
    if recorded is not None and has_choices((recorded[1], recorded[2])):
        return resolve(obj, sample)
    try:
        attributes = _walked_attributes(obj)
    except TypeError:
        return obj
    changed = {key: value for key, value in attributes.items() if has_choices(value)}
    if not changed:
        return obj
    twin = copy.copy(obj)
    state = dict(vars(obj))
    state.update({key: resolve(value, sample) for key, value in changed.items()})
    # Written through __dict__: torch modules and DataLoaders intercept setattr.
    twin.__dict__.update(state)
    return twin
