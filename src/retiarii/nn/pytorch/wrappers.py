"""``@model_wrapper``, ``@basic_unit`` and ``serialize``.

Both decorators wrap the class's ``__init__`` in place (no metaclass, no ``__new__``): the class
keeps its identity, so pickling by reference and ``isinstance`` work as usual.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

import torch.nn as tnn

from ...mutable import (
    Choice,
    SampleError,
    contains_mutable,
    freeze_structure,
    label_scope,
    leaves_of,
)
from .fixed import FixedContext, current_fixed
from .freeze import Freezer, collect_search_space
from .mutable_args import init_with_choices, mutable_args, representative_sample
from .parameter_choice import record_parameter_choices

__all__ = [
    "basic_unit",
    "blackbox_module",
    "build_with_choices",
    "get_init_args",
    "model_wrapper",
    "serialize",
]

T = TypeVar("T")
ModuleType = TypeVar("ModuleType", bound=type)

_building: ContextVar[bool] = ContextVar("retiarii_building_model", default=False)
_INIT_ARGS = "_retiarii_init_args"


def _record_init_args(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], factory: Any = None
) -> None:
    with contextlib.suppress(AttributeError):  # objects without __dict__ (slots, builtins)
        obj.__dict__[_INIT_ARGS] = (factory or type(obj), args, kwargs)


def build_with_choices(
    factory: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    """``factory(*args, **kwargs)``, recorded; value choices in the arguments are replaced by
    their first values for this build (the object must work before a trial decides them, e.g. a
    ``DataLoader`` checks its ``batch_size``), and the recorded arguments keep the choices, so
    that an evaluator can rebuild the object for each trial."""
    if contains_mutable((args, kwargs)):
        first = representative_sample(leaves_of((args, kwargs)), largest=False)
        obj = factory(*freeze_structure(args, first), **freeze_structure(kwargs, first))
    else:
        obj = factory(*args, **kwargs)
    _record_init_args(obj, args, kwargs, factory)
    return obj


def get_init_args(obj: Any) -> tuple[type, tuple[Any, ...], dict[str, Any]] | None:
    """``(class, args, kwargs)`` that built ``obj``, if it was built through ``serialize`` or a
    retiarii decorator; ``None`` otherwise."""
    try:
        value: tuple[type, tuple[Any, ...], dict[str, Any]] | None = obj.__dict__.get(_INIT_ARGS)
    except AttributeError:
        return None
    return value


class _ReadTracker(dict[str, Any]):
    """A sample that remembers which labels were looked up while freezing."""

    def __init__(self, sample: dict[str, Any]) -> None:
        super().__init__(sample)
        self.read: set[str] = set()

    def __getitem__(self, label: str) -> Any:
        self.read.add(label)
        return super().__getitem__(label)


def _freeze_in_place(model: tnn.Module, ctx: FixedContext) -> None:
    # One walk: choices validate their own values as they freeze (naming the label); labels the
    # sample has but nothing read, during the build or the freeze, are reported as unknown.
    # Labels that no choice consumed while building (cells, choices stored as attributes, nested
    # choices) may belong to a branch the freeze skips, where nothing reads them: only then is the
    # space collected (one more walk) so that such labels are checked, not called unknown.
    unused = [label for label in ctx.sample if label not in ctx.used]
    space = (
        collect_search_space(tnn.ModuleList([model, *ctx.dropped]))
        if unused and not ctx.skipped_lazily
        else None
    )
    sample = _ReadTracker(ctx.sample)
    freezer = Freezer(sample)
    freezer.children(model)
    freezer.attributes(model)
    unknown = [label for label in unused if label not in sample.read]
    if space is not None:
        for label in [label for label in unknown if label in space]:
            space[label].normalize(ctx.sample[label])  # a SampleError names the label
        unknown = [label for label in unknown if label not in space]
    if unknown and not ctx.skipped_lazily and ctx.strict:
        raise SampleError(
            f"fixed_arch: the sample has label(s) {unknown} that {type(model).__name__} does not "
            f"use; the labels it uses are {sorted(sample.read | ctx.used)}"
        )
    ctx.models_frozen += 1


def _model_init(
    original_init: Callable[..., None],
    model: tnn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    outermost = not _building.get()
    token = _building.set(True)
    try:
        with label_scope(), record_parameter_choices(model):
            original_init(model, *args, **kwargs)
    finally:
        _building.reset(token)
    _record_init_args(model, args, kwargs)
    ctx = current_fixed()
    if outermost and ctx is not None:
        _freeze_in_place(model, ctx)


def model_wrapper(cls: ModuleType) -> ModuleType:
    """Mark the outermost module of a model space.

    Automatic labels are numbered from 1 for every construction of this class (so building it
    twice gives the same labels), and inside ``fixed_arch(sample)`` the instance freezes itself
    when its ``__init__`` completes, becoming an ordinary ``torch.nn.Module``.
    """
    if not (isinstance(cls, type) and issubclass(cls, tnn.Module)):
        raise TypeError(f"@model_wrapper decorates a torch.nn.Module subclass, got {cls!r}")
    original_init = cls.__init__

    # The closure only refers to module-level functions, so cloudpickle can ship classes defined
    # in a user's __main__ (it pickles those by value, with the globals they reference).
    @functools.wraps(original_init)
    def __init__(self: tnn.Module, *args: Any, **kwargs: Any) -> None:
        _model_init(original_init, self, args, kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls._retiarii_model_wrapper = True  # type: ignore[attr-defined]
    return cls


def _basic_unit_decisions(self: tnn.Module) -> Iterable[Choice]:
    recorded = mutable_args(self)
    return leaves_of(recorded) if recorded is not None else iter(())


def _basic_unit_freeze(self: tnn.Module, freezer: Freezer) -> tnn.Module:
    recorded = mutable_args(self)
    if recorded is None:
        module = self
    else:
        args, kwargs = freezer.value(recorded)
        module = type(self)(*args, **kwargs)
    freezer.children(module)  # retiarii layers inside become their torch classes
    return module


def basic_unit(cls: ModuleType) -> ModuleType:
    """Treat a module class as one unit whose constructor arguments may be value choices.

    Retiarii does not look inside a basic unit for choices; it rebuilds the whole module from its
    (frozen) arguments. Its constructor arguments are recorded (see :func:`get_init_args`).
    """
    if not (isinstance(cls, type) and issubclass(cls, tnn.Module)):
        raise TypeError(f"@basic_unit decorates a torch.nn.Module subclass, got {cls!r}")
    original_init = cls.__init__

    @functools.wraps(original_init)
    def __init__(self: tnn.Module, *args: Any, **kwargs: Any) -> None:
        init_with_choices(self, original_init, args, kwargs)
        _record_init_args(self, args, kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls._retiarii_walk_children = False  # type: ignore[attr-defined]
    cls._retiarii_decisions = _basic_unit_decisions  # type: ignore[attr-defined]
    cls._retiarii_freeze = _basic_unit_freeze  # type: ignore[attr-defined]
    return cls


blackbox_module = basic_unit
"""Seed 000's name for :func:`basic_unit`."""


def serialize(cls_or_obj: Callable[..., T] | T, *args: Any, **kwargs: Any) -> T:
    """Build ``cls(*args, **kwargs)`` and remember how, or mark an existing object.

    Objects travel to worker processes with cloudpickle, so any picklable object works; this
    records the constructor call too (readable with :func:`get_init_args`), as NNI's seeds use it:
    ``serialize(transforms.Normalize, (0.1307,), (0.3081,))`` or ``serialize(obj)``.

    Arguments may hold value choices (``serialize(MyLightningModule, lr=loguniform(...))``): the
    object is built with the first value of each, and an evaluator holding it rebuilds it with
    the trial's values (see :func:`build_with_choices`).
    """
    if isinstance(cls_or_obj, type) or (callable(cls_or_obj) and (args or kwargs)):
        factory: Callable[..., T] = cls_or_obj
        return build_with_choices(factory, args, kwargs)
    if args or kwargs:
        raise TypeError(
            f"serialize({cls_or_obj!r}, ...): extra arguments need a class or function first"
        )
    return cls_or_obj  # type: ignore[return-value]
