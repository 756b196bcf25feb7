"""Automatic labels for choices created without an explicit ``label``: NNI 2.x's scheme.

Rule (documented for users, and NNI 2.x's, so that architectures NNI exported for the same model
code load here): every unlabelled choice — of any kind — takes the next number of one counter,
``model_1``, ``model_2``, ..., in construction order. The counter starts at 1 for every
construction of an outermost ``@model_wrapper`` model, so building the same model twice gives the
same labels, which is what lets a sample found in one process rebuild the model in another. A
``@model_wrapper`` model built inside another takes the next number itself (say 3) and numbers its
own choices ``model_3_1``, ``model_3_2``, ...; the outer model goes on with ``model_4``. Choices
created outside any ``@model_wrapper`` construction are numbered ``default_1``, ``default_2``, ...
by one process-wide counter (still deterministic for a given script, but never reset): give them
explicit labels, or wrap the outer model.

Explicit labels are used as given, are always stable, and do not consume numbers.

Parts of a model that ``fixed_arch`` may skip building (factory candidates of a ``LayerChoice``,
blocks of a ``Repeat`` with a chosen depth) are built inside :func:`label_namespace`: unlabelled
choices in them are numbered afresh under the parent's label, e.g. ``model_1/2/model_1`` (block 2
of the ``Repeat`` labelled ``model_1``) or ``model_2/conv/model_1`` (candidate ``conv``). Skipping
them therefore never shifts the numbers of the choices built after them. This is where we differ
from NNI, whose numbering went on through the blocks (and so shifted when ``fixed_arch`` built
fewer of them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["auto_label", "label_namespace", "label_or_auto", "label_scope", "validate_label"]


class _LabelCounter:
    def __init__(self, base: str, prefix: str = "") -> None:
        self.base = base
        self.prefix = prefix
        self.count = 0

    def number(self) -> int:
        self.count += 1
        return self.count

    def next(self) -> str:
        return f"{self.prefix}{self.base}_{self.number()}"


_global_counter = _LabelCounter("default")
_scope: ContextVar[_LabelCounter | None] = ContextVar("retiarii_label_scope", default=None)


def auto_label(kind: str = "choice") -> str:
    """Next automatic label in the current scope (the same counter for every ``kind``, as NNI)."""
    counter = _scope.get() or _global_counter
    return counter.next()


@contextmanager
def label_scope() -> Iterator[None]:
    """The numbering of one ``@model_wrapper`` construction (NNI's ``ModelNamespace``).

    Outermost: ``model_1``, ``model_2``, ... from 1. Nested in another scope: this scope takes
    the outer one's next number ``k`` and numbers ``model_k_1``, ``model_k_2``, ... so that no
    two choices share a label.
    """
    outer = _scope.get()
    if outer is None:
        counter = _LabelCounter("model")
    else:
        counter = _LabelCounter(f"{outer.base}_{outer.number()}", outer.prefix)
    token = _scope.set(counter)
    try:
        yield
    finally:
        _scope.reset(token)


def validate_label(label: object, owner: str) -> str:
    """Check an explicit label: a non-empty string."""
    if not isinstance(label, str) or not label:
        raise TypeError(f"{owner}: label must be a non-empty string, got {label!r}")
    return label


def label_or_auto(label: object, owner: str) -> str:
    """``label`` checked by :func:`validate_label` when given, else the next :func:`auto_label`."""
    return auto_label() if label is None else validate_label(label, owner)


@contextmanager
def label_namespace(prefix: str) -> Iterator[None]:
    """Number automatic labels afresh inside this block, as ``{prefix}/model_{n}``.

    Used around building what ``fixed_arch`` may skip, so that the labels of everything built
    afterwards do not depend on whether it was built.
    """
    token = _scope.set(_LabelCounter("model", f"{prefix}/"))
    try:
        yield
    finally:
        _scope.reset(token)
