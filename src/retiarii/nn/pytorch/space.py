"""``ModelSpace``: the search-space view of a PyTorch model space."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch.nn as tnn

from ...mutable import SearchSpace
from ...mutable.space import SearchSpaceView
from .fixed import fixed_arch
from .freeze import Freezer, collect_search_space
from .parameter_choice import check_frozen_in_place
from .wrappers import get_init_args

__all__ = ["ModelSpace"]


class ModelSpace(SearchSpaceView):
    """What the framework sees of a model space: its choices, samples, and frozen models.

    >>> space = ModelSpace(Net())                 # doctest: +SKIP
    >>> space.size, space.random(seed=0)          # doctest: +SKIP
    >>> model = space.freeze(space.random(seed=0))  # a plain torch.nn.Module   # doctest: +SKIP

    The model itself is the supernet: every candidate is present, which is what one-shot
    algorithms train.
    """

    def __init__(self, model: tnn.Module) -> None:
        if not isinstance(model, tnn.Module):
            raise TypeError(
                f"ModelSpace() takes a model instance (an nn.Module), got {model!r}; "
                "call the class first, e.g. ModelSpace(Net())"
            )
        self.model = model
        self.search_space: SearchSpace = collect_search_space(model)

    @property
    def rebuilds_on_freeze(self) -> bool:
        """Whether :meth:`freeze` builds a new network from the space's arguments (the NDS hub
        spaces: their cells' channels depend on the decisions) instead of keeping the chosen
        modules: nothing of the space, trained weights included, carries into the frozen model."""
        return bool(getattr(type(self.model), "_retiarii_freeze_rebuilds", False))

    def freeze(self, sample: Mapping[str, Any], *, copy_model: bool = True) -> tnn.Module:
        """The architecture ``sample`` picks, as an ordinary ``torch.nn.Module``.

        Chosen candidates keep the weights they have in the space (so weights trained in a supernet
        carry over); layers whose arguments were value choices are rebuilt with fresh weights. With
        ``copy_model=False`` the space itself is frozen in place (cheaper, but the space is gone).
        """
        valid = self.validate(sample)
        # a space whose freeze builds a new network from its arguments (``_retiarii_freeze``
        # reads nothing of it) needs no copy: copying a large supernet takes seconds
        rebuilds = self.rebuilds_on_freeze
        model = copy.deepcopy(self.model) if copy_model and not rebuilds else self.model
        if not rebuilds:  # (a rebuilt network builds its ModelParameterChoices anew)
            check_frozen_in_place(model, valid)  # a ModelParameterChoice cannot change here
        frozen = Freezer(valid).module(model)
        return frozen

    def build(self, sample: Mapping[str, Any]) -> tnn.Module:
        """A *freshly initialised* model for ``sample`` (what a multi-trial trial trains).

        For a ``@model_wrapper`` model this re-runs its constructor inside ``fixed_arch`` (only
        the chosen candidates are built when candidates are factories); otherwise it freezes a
        deep copy, like :meth:`freeze`.
        """
        valid = self.validate(sample)
        recorded = get_init_args(self.model)
        if recorded is None or not getattr(type(self.model), "_retiarii_model_wrapper", False):
            return self.freeze(valid)
        cls, args, kwargs = recorded
        with fixed_arch(valid, verbose=False):
            model: tnn.Module = cls(*args, **kwargs)
        return model

    def __repr__(self) -> str:
        return f"ModelSpace({type(self.model).__name__}, {len(self.search_space)} labels, size={self.size})"
