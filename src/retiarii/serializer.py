"""``json_dumps`` / ``json_loads``: NNI's serializer functions, for ``serialize(...)``-built objects.

An object built with :func:`~retiarii.serialize` (or a ``@basic_unit`` / ``@model_wrapper``
class) is written as the call that built it, in NNI's layout::

    {"__symbol__": "path:torchvision.transforms.Normalize", "__args__": [[0.1307], [0.3081]],
     "__kwargs__": {}}

and ``json_loads`` makes that call again (so the rebuilt object is recorded too, and can be
dumped again). Classes and functions are written as ``{"__nni_type__": "path:module.Name"}``
when they can be imported by that name, and by value (``"bytes:"`` + base64 cloudpickle)
otherwise, e.g. when defined in ``__main__``. Any other value JSON cannot hold (a tensor, an
object not built through ``serialize``) is cloudpickled into ``{"__nni_obj__": ...}``; unlike
NNI's there is no size limit. Tuples come back as lists, as with NNI.

What it does not do: it does not make the result safe to load from an untrusted source (loading
runs constructors and unpickles), and it does not serialise an object's state after
construction (a trained module's weights): only how it was built.
"""

from __future__ import annotations

import base64
import importlib
import json
from typing import IO, Any

__all__ = ["json_dumps", "json_loads"]

_SYMBOL, _ARGS, _KWARGS = "__symbol__", "__args__", "__kwargs__"
_TYPE, _OBJ = "__nni_type__", "__nni_obj__"


def _pickled(obj: Any) -> str:
    import cloudpickle

    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def _unpickled(text: str) -> Any:
    import cloudpickle

    return cloudpickle.loads(base64.b64decode(text))


def _symbol(obj: Any) -> str:
    """``'path:module.qualname'`` if importing that name gives ``obj`` back, else ``'bytes:...'``."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if module and module != "__main__" and "<" not in qualname:
        try:
            found: Any = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
        if found is obj:
            return f"path:{module}.{qualname}"
    return "bytes:" + _pickled(obj)


def _resolve(symbol: str) -> Any:
    kind, _, rest = symbol.partition(":")
    if kind == "bytes":
        return _unpickled(rest)
    if kind != "path":
        raise ValueError(
            f"json_loads: unknown symbol {symbol!r} (expected 'path:...' or 'bytes:...')"
        )
    # The module is the longest importable prefix; the rest is attribute access (nested classes).
    parts = rest.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            found = getattr(found, part)
        return found
    raise ImportError(f"json_loads: cannot import {rest!r}")


def _encode(obj: Any) -> Any:
    """``obj`` as JSON-ready values (recursively)."""
    from .nn.pytorch.wrappers import get_init_args

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        return {k: _encode(v) for k, v in obj.items()}
    recorded = None if isinstance(obj, type) else get_init_args(obj)
    if recorded is not None:
        cls, args, kwargs = recorded
        return {
            _SYMBOL: _symbol(cls),
            _ARGS: [_encode(a) for a in args],
            _KWARGS: {k: _encode(v) for k, v in kwargs.items()},
        }
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        return {_TYPE: _symbol(obj)}
    return {_OBJ: _pickled(obj)}


def _decode(value: dict[str, Any]) -> Any:
    if _TYPE in value and len(value) == 1:
        return _resolve(value[_TYPE])
    if _OBJ in value and len(value) == 1:
        return _unpickled(value[_OBJ])
    if _SYMBOL in value and set(value) <= {_SYMBOL, _ARGS, _KWARGS}:
        from .nn.pytorch.wrappers import serialize

        return serialize(_resolve(value[_SYMBOL]), *value.get(_ARGS, []), **value.get(_KWARGS, {}))
    return value


def json_dumps(obj: Any, fp: IO[str] | None = None, **json_kwargs: Any) -> str | None:
    """``obj`` as JSON text (or written to ``fp``), rebuildable with :func:`json_loads`.

    Example:
        >>> import torch
        >>> from retiarii import serialize
        >>> text = json_dumps(serialize(torch.nn.Linear, 4, out_features=2))
        >>> json_loads(text).out_features
        2
    """
    text = json.dumps(_encode(obj), **json_kwargs)
    if fp is None:
        return text
    fp.write(text)
    return None


def json_loads(s: str | bytes | IO[str], **json_kwargs: Any) -> Any:
    """Read what :func:`json_dumps` wrote (text, bytes or a file), rebuilding the objects."""
    text = s if isinstance(s, (str, bytes)) else s.read()
    return json.loads(text, object_hook=_decode, **json_kwargs)
