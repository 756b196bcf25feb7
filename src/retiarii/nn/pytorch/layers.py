"""Every ``torch.nn`` layer, re-exported so that its arguments may be value choices.

``retiarii.nn.pytorch.Conv2d`` is a subclass of ``torch.nn.Conv2d`` whose constructor accepts
``ValueChoice`` arguments (see :mod:`.mutable_args`). Built with plain arguments it *is* a
``torch.nn.Conv2d`` in every respect, and freezing turns it back into exactly that class, so a
frozen model contains only torch classes. Containers (``Module``, ``Sequential``, ``ModuleList``,
``ModuleDict``, parameter containers) are torch's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch.nn as tnn

from ...mutable import Choice, leaves_of
from .mutable_args import explain_build_error, init_with_choices, mutable_args

if TYPE_CHECKING:
    from .freeze import Freezer

__all__: list[str] = []  # filled below

_TORCH_OWN = {
    "Module",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Container",
    "NLLLoss2d",  # deprecated: subclassing it warns
}


class ValueChoiceArgs:
    """Mixin placed before a torch layer class: value-choice arguments, freezing back to torch."""

    _retiarii_torch_class: type[tnn.Module]
    _retiarii_walk_children = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        init_with_choices(self, type(self)._retiarii_torch_class.__init__, args, kwargs)  # type: ignore[arg-type]

    def _retiarii_decisions(self) -> Iterable[Choice]:
        recorded = mutable_args(self)  # type: ignore[arg-type]
        return leaves_of(recorded) if recorded is not None else iter(())

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        torch_class = type(self)._retiarii_torch_class
        generated = type(self).__dict__.get("_retiarii_generated", False)
        recorded = mutable_args(self)  # type: ignore[arg-type]
        if recorded is None:
            if generated:
                self.__class__ = torch_class  # type: ignore[assignment]
            return self  # type: ignore[return-value]
        if not generated:
            raise TypeError(
                f"{type(self).__name__} subclasses retiarii.nn.pytorch.{torch_class.__name__} and "
                "passes value choices to it; decorate it with @retiarii.basic_unit so that it is "
                "rebuilt from its own arguments"
            )
        args, kwargs = freezer.value(recorded)
        try:
            return torch_class(*args, **kwargs)
        except (AssertionError, ValueError, TypeError, RuntimeError) as exc:
            raise explain_build_error(torch_class.__name__, recorded, freezer.sample, exc) from exc


def _wrap(torch_class: type[tnn.Module]) -> type[tnn.Module]:
    name = torch_class.__name__
    namespace = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"``torch.nn.{name}`` accepting value choices as arguments.\n\n"
        + (torch_class.__doc__ or ""),
        "_retiarii_torch_class": torch_class,
        "_retiarii_generated": True,
    }
    return type(name, (ValueChoiceArgs, torch_class), namespace)


def _torch_layers() -> Iterator[type[tnn.Module]]:
    for name in tnn.modules.__all__:
        obj = getattr(tnn, name, None)
        if isinstance(obj, type) and issubclass(obj, tnn.Module) and name not in _TORCH_OWN:
            yield obj


for _cls in _torch_layers():
    globals()[_cls.__name__] = _wrap(_cls)
    __all__.append(_cls.__name__)
