"""Parameters of a sample's model as a sum of memoised per-module terms (no model is built)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn as tnn

from ..nn.pytorch.freeze import Freezer
from ..nn.pytorch.mutable_args import mutable_args
from ._view import SpaceView, _hashable, _ViewFreezer

__all__ = ["ParamCounter"]


class _PassThrough(Freezer):
    """Runs a module's freeze hook without freezing what it keeps (children stay as they are)."""

    def module(self, module: tnn.Module) -> tnn.Module:
        return module


class ParamCounter:
    """Parameters of a sample's model as a sum of memoised per-module terms.

    A module's count depends only on the values of its own labels, so it is kept per
    ``(module, those values)``; a sample then costs one look-up per module on the path to a
    decision that changed. Choice modules follow their ``_retiarii_freeze`` hooks (so the count
    is the frozen model's); layers rebuilt from value-choice arguments are counted on their meta
    build. Only valid when no module or parameter is reachable twice (``exact`` is False
    otherwise, and the caller counts the assembled view instead).
    """

    def __init__(self, view: SpaceView) -> None:
        self.view = view
        self._memo: dict[Any, int] = {}
        self._static: dict[Any, int] = {}
        modules = list(view.model.named_modules(remove_duplicate=False))
        params = list(view.model.named_parameters(remove_duplicate=False))
        self.exact = len({id(m) for _, m in modules}) == len(modules) and len(
            {id(p) for _, p in params}
        ) == len(params)

    def count(self, sample: Mapping[str, Any]) -> int:
        return self._count(
            self.view.model, sample, _PassThrough(sample), _ViewFreezer(self.view, sample)
        )

    def _count(
        self, module: tnn.Module, sample: Mapping[str, Any], passthrough: Freezer, builder: Any
    ) -> int:
        labels = self.view.labels.get(id(module))
        if labels is None:  # a container a hook made (Sequential of a Repeat, FrozenCell)
            return sum(p.numel() for p in module._parameters.values() if p is not None) + sum(
                self._count(c, sample, passthrough, builder)
                for c in module._modules.values()
                if c is not None
            )
        if not labels:
            shape = self.view.shape_key[id(module)]  # identical blocks share their count
            found = self._static.get(shape)
            if found is None:
                found = self._static[shape] = sum(p.numel() for p in module.parameters())
            return found
        key = (
            self.view.shape_key[id(module)],
            tuple(_hashable(sample.get(label)) for label in labels),
        )
        found = self._memo.get(key)
        if found is not None:
            return found
        hook = getattr(type(module), "_retiarii_freeze", None)
        if hook is None:
            found = sum(p.numel() for p in module._parameters.values() if p is not None) + sum(
                self._count(c, sample, passthrough, builder)
                for c in module._modules.values()
                if c is not None
            )
        elif mutable_args(module) is not None:
            found = sum(p.numel() for p in builder.module(module).parameters())
        else:
            kept = hook(module, passthrough)
            found = self._count(kept, sample, passthrough, builder)
        self._memo[key] = found
        return found
