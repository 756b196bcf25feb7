"""Finding and freezing mutables inside ordinary Python structures (lists, tuples, dicts).

Arguments of layers and candidates of choices can hold choices at any depth, e.g.
``nn.Conv2d(3, 8, kernel_size=(vc, vc))``. These helpers walk such structures without touching
anything else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Choice

__all__ = ["contains_mutable", "freeze_structure", "is_json_value", "json_equal", "leaves_of"]


def leaves_of(obj: Any) -> Iterator[Choice]:
    """Every labelled choice that ``obj`` (a mutable or a structure holding some) depends on."""
    from .core import Mutable

    if isinstance(obj, Mutable):
        yield from obj.leaves()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from leaves_of(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from leaves_of(item)


def contains_mutable(obj: Any) -> bool:
    """Whether ``obj`` is or holds a mutable."""
    return next(leaves_of(obj), None) is not None


def freeze_structure(obj: Any, sample: Mapping[str, Any]) -> Any:
    """Replace every mutable in ``obj`` by its value under ``sample``; other values are kept
    (a structure without mutables is returned as it is)."""
    return _freeze(obj, sample)[0]


def _freeze(obj: Any, sample: Mapping[str, Any]) -> tuple[Any, bool]:
    """``(frozen obj, whether it held a mutable)``, in one pass over ``obj``."""
    from .core import Mutable

    if isinstance(obj, Mutable):
        return obj.freeze(sample), True
    if isinstance(obj, (list, tuple)):
        items = [_freeze(item, sample) for item in obj]
        if not any(held for _, held in items):
            return obj, False
        frozen = [value for value, _ in items]
        if isinstance(obj, tuple):
            return (type(obj)(*frozen) if hasattr(obj, "_fields") else tuple(frozen)), True
        return frozen, True
    if isinstance(obj, dict):
        pairs = {k: _freeze(v, sample) for k, v in obj.items()}
        if not any(held for _, held in pairs.values()):
            return obj, False
        return type(obj)((k, value) for k, (value, _) in pairs.items()), True
    return obj, False


def is_json_value(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip as an equal value (tuples become lists)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``1 == 1.0`` but ``True != 1``; lists and tuples compare alike."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)
