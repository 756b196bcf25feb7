"""How the runner is pickled for the workers: cloudpickle, keeping file names in tracebacks.

cloudpickle sends classes and functions defined in ``__main__`` by value, which is what lets a
user's script define its evaluator inline. But it renames their code's file to
``"<dynamic-code>"``, so a trial that fails would show ``File "<dynamic-code>", line 13`` and no
source line. Here code objects travel with :mod:`marshal` instead, which keeps the real file name;
the worker (on the same machine, same interpreter) then prints the user's file and line.
"""

from __future__ import annotations

import io
import marshal
import pickle
import types
from collections import ChainMap
from typing import Any

import cloudpickle

__all__ = ["dumps", "find_unpicklable", "loads"]


def _reduce_code(code: types.CodeType) -> tuple[Any, tuple[bytes]]:
    return marshal.loads, (marshal.dumps(code),)


class _Pickler(cloudpickle.Pickler):
    dispatch_table = ChainMap({types.CodeType: _reduce_code}, cloudpickle.Pickler.dispatch_table)


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` like :func:`cloudpickle.dumps`, but with code objects' file names kept."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    """Unpickle what :func:`dumps` wrote."""
    return cloudpickle.loads(data)


def find_unpicklable(obj: Any, name: str, depth: int = 6) -> str | None:
    """The attribute path of the first part of ``obj`` that cannot be pickled (e.g.
    ``"evaluator.arguments['data'].lock (a _thread.lock)"``), or None if ``obj`` pickles.

    Pickling errors name a type, not where it is; this walks attributes, dict values and sequence
    items (``depth`` levels deep) to point at the thing the user wrote.
    """
    try:
        dumps(obj)
        return None
    except Exception:  # any pickling failure: look inside
        pass
    children: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        children = [(f"{name}[{key!r}]", value) for key, value in obj.items()]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = [(f"{name}[{i}]", value) for i, value in enumerate(obj)]
    else:
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict):
            children = [(f"{name}.{key}", value) for key, value in state.items()]
    if depth > 0:
        for child_name, child in children:
            found = find_unpicklable(child, child_name, depth - 1)
            if found is not None:
                return found
    return f"{name} (a {type(obj).__module__}.{type(obj).__qualname__})"
