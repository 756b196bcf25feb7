"""``Repeat``: a stack of blocks whose depth is a decision."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch.nn as tnn

from ...mutable import Categorical, Choice, Mutable
from ...mutable.labels import auto_label, label_namespace, label_or_auto
from .base import MutableModule
from .choices import ValueChoice, call_factory
from .fixed import current_fixed

if TYPE_CHECKING:
    from .freeze import Freezer

__all__ = ["Repeat"]

Factory = Callable[..., tnn.Module]
Blocks = tnn.Module | Factory | list[tnn.Module] | list[Factory]


class Repeat(MutableModule):
    """Repeat a block ``depth`` times, where ``depth`` may be a decision.

    Args:
        blocks: a module (deep-copied for every repetition), a factory called as ``f(index)`` or
            ``f()``, or a list of modules/factories, one per position.
        depth: an int (fixed), a ``(min, max)`` tuple (inclusive), or a ``ValueChoice`` of ints.
        label: label of the depth decision when ``depth`` is a tuple (auto ``repeat_N`` otherwise).

    The space holds ``max`` blocks; a frozen Repeat is an ``nn.Sequential`` of the first ``depth``
    blocks. Choices inside blocks built by a factory get their own labels per block.
    """

    def __init__(
        self, blocks: Blocks, depth: int | tuple[int, int] | Mutable, *, label: str | None = None
    ) -> None:
        super().__init__()
        self._depth: Mutable | None
        if isinstance(depth, Mutable):
            self._depth = depth
            self.label = (
                next(iter(depth.leaves())).label
                if isinstance(depth, Categorical)
                else (label or auto_label("repeat"))
            )
            values = depth.possible_values()
        elif isinstance(depth, tuple):
            if (
                len(depth) != 2
                or not all(isinstance(d, int) for d in depth)
                or not 0 <= depth[0] <= depth[1]
            ):
                raise ValueError(
                    f"Repeat: depth tuple must be (min, max) with 0 <= min <= max, got {depth!r}"
                )
            self.label = label_or_auto(label, "Repeat")
            self._depth = ValueChoice(list(range(depth[0], depth[1] + 1)), label=self.label)
            values = list(range(depth[0], depth[1] + 1))
        elif isinstance(depth, int) and depth >= 0:
            self._depth = None
            self.label = label or f"repeat(depth={depth})"
            values = [depth]
        else:
            raise TypeError(
                f"Repeat: depth must be an int, a (min, max) tuple or a ValueChoice, got {depth!r}"
            )
        if not values or not all(isinstance(v, int) and v >= 0 for v in values):
            raise ValueError(
                f"Repeat {self.label!r}: depth values must be non-negative ints, got {values!r}"
            )
        self.min_depth, self.max_depth = min(values), max(values)
        build_depth = self.max_depth
        ctx = current_fixed()
        if ctx is not None and self._depth is not None:
            build_depth = self._depth.freeze(ctx.sample)
            ctx.mark_used([leaf.label for leaf in self._depth.leaves()])
            if build_depth < self.max_depth:
                ctx.skipped_lazily = True
        self.blocks = tnn.ModuleList(self._build(blocks, i) for i in range(build_depth))

    def _build(self, blocks: Blocks, index: int) -> tnn.Module:
        if self._depth is None:  # a fixed depth: every block is always built
            return self._build_block(blocks, index)
        # fixed_arch builds only the chosen depth; automatic labels inside a block are numbered
        # under ``{label}/{index}`` so that skipping blocks does not renumber what follows.
        with label_namespace(f"{self.label}/{index}"):
            return self._build_block(blocks, index)

    def _build_block(self, blocks: Blocks, index: int) -> tnn.Module:
        if isinstance(blocks, list):
            if len(blocks) < self.max_depth:
                raise ValueError(
                    f"Repeat {self.label!r}: {len(blocks)} blocks given for max depth {self.max_depth}"
                )
            blocks = blocks[index]
            return blocks if isinstance(blocks, tnn.Module) else call_factory(blocks, index)
        if isinstance(blocks, tnn.Module):
            return blocks if index == 0 else copy.deepcopy(blocks)
        if callable(blocks):
            return call_factory(blocks, index)
        raise TypeError(
            f"Repeat {self.label!r}: blocks must be a module, a factory or a list, got {blocks!r}"
        )

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return list(self._depth.leaves()) if self._depth is not None else []

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        depth = self._depth.freeze(freezer.sample) if self._depth is not None else self.max_depth
        if depth > len(self.blocks):
            raise ValueError(
                f"Repeat {self.label!r} holds {len(self.blocks)} blocks, cannot freeze to depth {depth}"
            )
        return tnn.Sequential(*(freezer.module(block) for block in list(self.blocks)[:depth]))

    def forward(self, x: Any) -> Any:
        if self._depth is not None:
            self._not_frozen()
        for block in self.blocks:
            x = block(x)
        return x

    def extra_repr(self) -> str:
        return f"label={self.label!r}, depth={self.min_depth}..{self.max_depth}"
