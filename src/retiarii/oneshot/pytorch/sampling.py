"""Path-sampling supernet modules (SPOS, ENAS, random one-shot): one path runs at a time.

Each module reads its label's :class:`~.supernet.Switch`; setting a path (``board.random(rng)``
or ``board.set_sample(sample)``) changes what every module runs next. Memory and time per step
are those of one subnet, whatever the number of candidates.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import torch.nn as tnn

from ...nn.pytorch.cell import Cell
from ...nn.pytorch.choices import InputChoice, LayerChoice
from ...nn.pytorch.frozen import reduce_tensors
from ...nn.pytorch.mutable_args import mutable_args
from ...nn.pytorch.repeat import Repeat
from .cell import PathSamplingCell
from .slicing import is_value_choice_layer, sliced_layer
from .supernet import (
    Supernet,
    SupernetInputChoice,
    SupernetLayerChoice,
    SupernetRepeat,
    Switch,
)

__all__ = [
    "PathSamplingInputChoice",
    "PathSamplingLayerChoice",
    "PathSamplingRepeat",
    "PathSamplingSupernet",
]


class PathSamplingLayerChoice(SupernetLayerChoice):
    """A ``LayerChoice`` that runs only the candidate its switch selects."""

    def __init__(self, layer_choice: LayerChoice, switch: Switch | None = None) -> None:
        super().__init__(layer_choice)
        self._switch = switch or Switch(self._decision)

    @property
    def sampled(self) -> Any:
        """The name of the candidate that runs."""
        return self.names[self._switch.active]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._ops[self._switch.active](*args, **kwargs)


class PathSamplingInputChoice(SupernetInputChoice):
    """An ``InputChoice`` that reduces only the inputs its switch selects."""

    def __init__(self, input_choice: InputChoice, switch: Switch | None = None) -> None:
        super().__init__(input_choice)
        self._switch = switch or Switch(self._decision)

    @property
    def sampled(self) -> list[int]:
        """The indices of the chosen inputs."""
        return list(self._switch.active)

    def forward(self, inputs: list[Any]) -> Any:
        inputs = self._check(inputs)
        return reduce_tensors([inputs[i] for i in self._switch.active], self.reduction)


class PathSamplingRepeat(SupernetRepeat):
    """A ``Repeat`` that runs as many blocks as its depth decision says."""

    def forward(self, x: Any) -> Any:
        for block in self._blocks[: self._resolve()]:
            x = block(x)
        return x

    def extra_repr(self) -> str:
        return f"label={self.label!r}"


class PathSamplingSupernet(Supernet):
    """Turns a model space into a single-path supernet, in place.

    ``LayerChoice``, ``InputChoice``, ``Repeat`` (with a depth decision), ``Cell`` and layers whose arguments
    are value choices (weight slicing, see :mod:`.slicing`) are replaced by modules that follow
    ``board``: one :class:`~.supernet.Switch` per label, in the order of the model space. A module
    class may provide its own single-path version as ``_retiarii_path_sampling(self, board)``
    (called after its children were replaced). Random paths respect the space's constraints.
    """

    hint = (
        "Path-sampling trainers search LayerChoice, InputChoice, Repeat depths, Cell and value "
        "choices in the arguments of Linear, Conv1d/2d/3d, BatchNorm1d/2d/3d, LayerNorm, "
        "MultiheadAttention and parameter-free layers."
    )

    def __init__(self, model: tnn.Module, *, trainer: str = "path sampling") -> None:
        super().__init__(model, trainer)

    def _replace(self, module: tnn.Module) -> tnn.Module | None:
        board = self.board
        if isinstance(module, LayerChoice):
            return PathSamplingLayerChoice(module, board.switch(module._decision))
        if isinstance(module, InputChoice):
            return PathSamplingInputChoice(module, board.switch(module._decision))
        if isinstance(module, Repeat) and module._depth is not None:
            return PathSamplingRepeat(module, board)
        if isinstance(module, Cell):
            return PathSamplingCell(module, board)
        if is_value_choice_layer(module) and mutable_args(module) is not None:
            return sliced_layer(module, board)
        # a module with its own single-path version (e.g. the hub's NasBench101Cell)
        own = getattr(type(module), "_retiarii_path_sampling", None)
        if own is not None:
            replacement: tnn.Module = own(module, board)
            return replacement
        return None

    def _replaced(self, model: tnn.Module) -> None:
        from ...nn.pytorch.freeze import collect_search_space

        space = collect_search_space(model)
        self.board.reorder(space)
        self.board.constraints = space.constraints

    def random(self, rng: random.Random) -> None:
        """Activate a uniformly random path."""
        self.board.random(rng)

    def set_sample(self, sample: Mapping[str, Any]) -> None:
        """Activate the path of ``sample``."""
        self.board.set_sample(sample)

    def sample(self) -> dict[str, Any]:
        """The active path as a sample."""
        return self.board.sample()
