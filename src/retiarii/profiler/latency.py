"""Latency of a sample, measured on this machine (PyTorch) or with ONNX Runtime, and cached.

Unlike parameters and FLOPs, latency cannot be derived from the space: it is measured on the
built model. The measuring (warm-up, repeats until above the clock's resolution, median) is the
one ProxylessNAS uses (:class:`retiarii.profiler.timer.ModuleTimer`), and its
on-disk table is shared: a model measured once on a device is not measured again.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any

import torch

from .._install import install_command
from ..nn.pytorch.space import ModelSpace
from .profilers import _CachedProfiler
from .timer import ModuleTimer

__all__ = ["LatencyProfiler", "OnnxLatencyProfiler"]


def _as_space(space: Any) -> ModelSpace:
    return space if isinstance(space, ModelSpace) else ModelSpace(space)


def _inputs(example_inputs: Any) -> tuple[Any, ...]:
    return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)


class LatencyProfiler(_CachedProfiler):
    """Milliseconds of one forward pass of the sample's model on ``device`` (eval, no grad).

    Each distinct sample is built and measured once: in memory, and in the shared latency table
    (``cache_path``; ``False`` keeps nothing on disk), keyed by the model's structure, the input
    shapes and the device. Use it as an objective or in a :class:`RangeProfilerFilter`; for
    large searches prefer FLOPs as a proxy, which costs microseconds.

    Args:
        space: the model space (module or ``ModelSpace``).
        example_inputs: a tensor or tuple of inputs, moved to ``device``.
        device: where to measure.
        cache_path, warmup, repeats, min_run_time: as in
            :class:`retiarii.profiler.timer.ModuleTimer`.
    """

    name = "latency"
    measures = True

    def __init__(
        self,
        space: Any,
        example_inputs: Any,
        device: torch.device | str = "cpu",
        cache_path: str | os.PathLike[str] | bool | None = False,
        warmup: int = 3,
        repeats: int = 10,
        min_run_time: float = 1e-3,
    ) -> None:
        self.space = _as_space(space)
        self.device = torch.device(device)
        self.example_inputs = tuple(
            x.to(self.device) if isinstance(x, torch.Tensor) else x for x in _inputs(example_inputs)
        )
        self.timer = ModuleTimer(
            self.device,
            cache_path=cache_path,
            warmup=warmup,
            repeats=repeats,
            min_run_time=min_run_time,
        )
        self._results: dict[str, float] = {}

    def _uncached(self, sample: dict[str, Any]) -> float:
        model = self.space.build(sample).to(self.device).eval()
        found = self.timer.measure(model, self.example_inputs)
        self.timer.save()
        return found

    @property
    def measured(self) -> int:
        """How many models were actually timed (not answered from a cache)."""
        return int(self.timer.measured)


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "OnnxLatencyProfiler needs ONNX Runtime, an optional dependency: "
            f"{install_command('onnx')}"
        ) from exc
    return onnxruntime


class OnnxLatencyProfiler(_CachedProfiler):
    """Milliseconds of one inference with ONNX Runtime (a CPU deployment target, by default).

    The sample's model is exported to ONNX (a temporary file) and run by an ``InferenceSession``
    with the given ``providers``. Needs the optional ``onnxruntime`` package (and
    ``onnx``/``onnxscript`` as ``torch.onnx.export`` requires); results are cached per sample.
    The profiler pickles (an experiment saves its objectives to resume).
    """

    name = "latency"
    measures = True

    def __init__(
        self,
        space: Any,
        example_inputs: Any,
        providers: list[str] | None = None,
        warmup: int = 3,
        repeats: int = 10,
    ) -> None:
        _onnxruntime()  # fail at construction, not at the first sample
        self.space = _as_space(space)
        self.example_inputs = _inputs(example_inputs)
        self.providers = providers or ["CPUExecutionProvider"]
        self.warmup = warmup
        self.repeats = repeats
        self._results: dict[str, float] = {}

    def _uncached(self, sample: dict[str, Any]) -> float:
        model = self.space.build(sample).eval()
        names = [f"input{i}" for i in range(len(self.example_inputs))]
        with tempfile.TemporaryDirectory(prefix="retiarii-onnx-") as folder:
            path = os.path.join(folder, "model.onnx")
            with torch.no_grad():
                torch.onnx.export(
                    model,
                    self.example_inputs,
                    path,
                    input_names=names,
                    verbose=False,
                )
            session = _onnxruntime().InferenceSession(path, providers=self.providers)
        feed = {n: x.numpy() for n, x in zip(names, self.example_inputs)}
        for _ in range(self.warmup):
            session.run(None, feed)
        runs = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            session.run(None, feed)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs) * 1e3
