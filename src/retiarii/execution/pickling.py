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

__all__ = ["dumps", "loads"]


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
