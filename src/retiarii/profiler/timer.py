"""Measured latency of modules on the current device, with a cached table.

:class:`ModuleTimer` times a module on given inputs (inference: eval mode, no gradient,
median of ``repeats`` runs after ``warmup``; CUDA is synchronised) and caches the result in a
JSON table keyed by the device, the torch version, the module (its class, ``repr`` and parameter
shapes) and the input shapes. The same candidate on the same input shape is measured once per
machine, across processes and runs.

The default table is ``$RETIARII_CACHE/latency.json`` (``~/.cache/retiarii`` if unset).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as tnn

__all__ = ["ModuleTimer", "default_cache_path"]


def default_cache_path() -> Path:
    """Where the latency table lives unless a path is given."""
    root = os.environ.get("RETIARII_CACHE") or os.path.join("~", ".cache", "retiarii")
    return Path(root).expanduser() / "latency.json"


def _describe(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return f"T{tuple(obj.shape)}:{obj.dtype}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_describe(o) for o in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(f"{k}={_describe(v)}" for k, v in sorted(obj.items())) + "}"
    return repr(obj)


class ModuleTimer:
    """Measures (and caches) the latency of modules, in milliseconds: what ProxylessNAS's latency
    table (:class:`retiarii.oneshot.pytorch.LatencyProfiler`) and the per-sample
    :class:`~retiarii.profiler.LatencyProfiler` measure with.

    Args:
        device: where to measure (the module and inputs are expected there).
        cache_path: the JSON table (default :func:`default_cache_path`); ``None`` uses the
            default, ``False`` disables the table.
        warmup: untimed runs before measuring.
        repeats: timed runs (the median is kept).
        min_run_time: each timed run repeats the call until it lasts at least this (seconds), so
            that microsecond-scale candidates are measured above the clock's resolution.
    """

    def __init__(
        self,
        device: torch.device | str = "cpu",
        cache_path: str | os.PathLike[str] | bool | None = None,
        warmup: int = 3,
        repeats: int = 10,
        min_run_time: float = 1e-3,
    ) -> None:
        self.device = torch.device(device)
        if cache_path is False:
            self.cache_path: Path | None = None
        elif cache_path is None or cache_path is True:
            self.cache_path = default_cache_path()
        else:
            self.cache_path = Path(cache_path)
        self.warmup = warmup
        self.repeats = repeats
        self.min_run_time = min_run_time
        self.measured = 0  # measurements made (not answered from the table)
        self._table: dict[str, float] = self._load()

    # -- the table -----------------------------------------------------------------------------
    def _load(self) -> dict[str, float]:
        if self.cache_path is None or not self.cache_path.exists():
            return {}
        try:
            data = json.loads(self.cache_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self) -> None:
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        table = {**self._load(), **self._table}  # keep what other processes added
        fd, tmp = tempfile.mkstemp(dir=self.cache_path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(table, fh, indent=0, sort_keys=True)
        os.replace(tmp, self.cache_path)

    def device_name(self) -> str:
        """The device as recorded in the table's keys."""
        if self.device.type == "cuda":
            return f"cuda:{torch.cuda.get_device_name(self.device)}"
        cpu = platform.processor() or platform.machine()
        return f"{self.device.type}:{cpu}:{os.cpu_count()}cores:{torch.get_num_threads()}threads"

    def key(self, module: tnn.Module, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
        """The table key of ``module`` run on inputs like ``args``/``kwargs``."""
        shapes = [(n, tuple(t.shape), str(t.dtype)) for n, t in module.state_dict().items()]
        text = "|".join(
            [
                self.device_name(),
                torch.__version__,
                f"{type(module).__module__}.{type(module).__qualname__}",
                repr(module),
                repr(shapes),
                _describe(list(args)),
                _describe(kwargs),
            ]
        )
        return hashlib.sha1(text.encode()).hexdigest()

    # -- measuring -------------------------------------------------------------------------------
    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def time(self, module: tnn.Module, args: Sequence[Any], kwargs: dict[str, Any]) -> float:
        """Measure ``module(*args, **kwargs)`` now (no table), in milliseconds."""
        was_training = module.training
        module.eval()
        try:
            for _ in range(self.warmup):
                module(*args, **kwargs)
            self._sync()
            number, runs = 1, []
            while True:  # find how many calls make one run last min_run_time
                start = time.perf_counter()
                for _ in range(number):
                    module(*args, **kwargs)
                self._sync()
                elapsed = time.perf_counter() - start
                if elapsed >= self.min_run_time or number >= 1 << 16:
                    break
                number *= 2
            runs.append(elapsed / number)
            for _ in range(self.repeats - 1):
                start = time.perf_counter()
                for _ in range(number):
                    module(*args, **kwargs)
                self._sync()
                runs.append((time.perf_counter() - start) / number)
        finally:
            module.train(was_training)
        return statistics.median(runs) * 1e3

    def measure(
        self, module: tnn.Module, args: Sequence[Any], kwargs: dict[str, Any] | None = None
    ) -> float:
        """The latency of ``module(*args, **kwargs)`` in milliseconds, from the table if known."""
        kwargs = kwargs or {}
        key = self.key(module, args, kwargs)
        found = self._table.get(key)
        if found is None:
            found = self._table[key] = self.time(module, args, kwargs)
            self.measured += 1
        return found

    def save(self) -> None:
        """Write the table (merged with what is already on disk)."""
        self._save()
