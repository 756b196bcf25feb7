"""The classic Mutator API (seed 003): a mutator decides, the model runs like a plain model.

.. code-block:: python

    mutator = RandomMutator(model)       # binds to the model (once)
    for x, y in loader:
        mutator.reset()                  # new decisions from sample_search(), applied to the model
        loss = criterion(model(x), y)    # the model runs as a plain model
        loss.backward()
    mutator.export()                     # sample_final(): {key: mask tensor}
    mutator.export_sample()              # the same decisions as a sample {label: value}

A decision is a mask per mutable key: a bool tensor (which candidates run) or a float tensor
(candidates run and are weighted). Selected candidate outputs are combined with the choice's
``reduction`` (``'sum'`` for a ``LayerChoice``). ``mutables`` are the model's own
``LayerChoice``/``InputChoice`` objects (one per key), so ``isinstance`` checks against
``retiarii.nn.pytorch.LayerChoice`` work. Binding replaces those choices in the model by thin
modules that call back :meth:`BaseMutator.on_forward_layer_choice` /
:meth:`BaseMutator.on_forward_input_choice`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn

from ...nn.pytorch.choices import InputChoice, LayerChoice
from ...nn.pytorch.frozen import reduce_tensors
from .supernet import SupernetInputChoice, SupernetLayerChoice
from .utils import replace_modules

__all__ = ["BaseMutator", "Mutator", "RandomMutator"]

Mutable = LayerChoice | InputChoice


class _MutatorLayerChoice(SupernetLayerChoice):
    """Stands in for a LayerChoice bound to a mutator."""

    _source: LayerChoice
    _mutator: BaseMutator

    def __init__(self, choice: LayerChoice, mutator: BaseMutator) -> None:
        super().__init__(choice)
        self.__dict__["_source"] = choice  # plain attributes: not submodules
        self.__dict__["_mutator"] = mutator

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out, _ = self._mutator.on_forward_layer_choice(self._source, *args, **kwargs)
        return out


class _MutatorInputChoice(SupernetInputChoice):
    """Stands in for an InputChoice bound to a mutator."""

    _source: InputChoice
    _mutator: BaseMutator

    def __init__(self, choice: InputChoice, mutator: BaseMutator) -> None:
        super().__init__(choice)
        self.__dict__["_source"] = choice
        self.__dict__["_mutator"] = mutator

    def forward(self, inputs: list[Any]) -> Any:
        out, _ = self._mutator.on_forward_input_choice(self._source, self._check(inputs))
        return out


class BaseMutator(tnn.Module):
    """Binds to ``model`` and receives the forward calls of its choices.

    A mutator is a ``torch.nn.Module`` so that it can hold architecture parameters (optimise
    ``mutator.parameters()``); the model is *not* one of its submodules. Override
    :meth:`on_forward_layer_choice` and :meth:`on_forward_input_choice`, each returning
    ``(output, mask)``.
    """

    def __init__(self, model: tnn.Module) -> None:
        super().__init__()
        bound = [
            m._mutator
            for m in model.modules()
            if isinstance(m, (_MutatorLayerChoice, _MutatorInputChoice))
        ]
        if bound:
            raise RuntimeError(
                f"this model is already bound to {type(bound[0]).__name__}; a model binds to "
                "one mutator only (build a fresh model for another mutator)"
            )
        self.__dict__["model"] = model
        replaced: list[tuple[str, tnn.Module]] = []
        replace_modules(model, self._replace, replaced)
        self._all: list[Mutable] = [module._source for _, module in replaced]  # type: ignore[misc]
        unique: dict[str, Mutable] = {}
        for mutable in self._all:
            unique.setdefault(mutable.key, mutable)
        self._mutables = list(unique.values())

    def _replace(self, module: tnn.Module) -> tnn.Module | None:
        if isinstance(module, LayerChoice):
            return _MutatorLayerChoice(module, self)
        if isinstance(module, InputChoice):
            return _MutatorInputChoice(module, self)
        return None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "model":
            raise AttributeError(
                "a mutator binds to one model, when it is created; `model` cannot be rebound"
            )
        super().__setattr__(name, value)

    @property
    def mutables(self) -> list[Mutable]:
        """The model's ``LayerChoice``/``InputChoice`` objects, one per key, in model order."""
        return list(self._mutables)

    def undedup_mutables(self) -> list[Mutable]:
        """Every choice of the model, including those sharing a key."""
        return list(self._all)

    def forward(self, *args: Any) -> Any:
        raise RuntimeError("a mutator has no forward; call the model")

    def on_forward_layer_choice(self, mutable: LayerChoice, *args: Any, **kwargs: Any) -> Any:
        """Run ``mutable`` (a ``LayerChoice``) on the inputs: return ``(output, mask)``."""
        raise NotImplementedError

    def on_forward_input_choice(self, mutable: InputChoice, tensor_list: list[Any]) -> Any:
        """Choose among ``tensor_list`` for ``mutable`` (an ``InputChoice``): ``(output, mask)``."""
        raise NotImplementedError

    def export(self) -> dict[str, Any]:
        """The decisions made."""
        raise NotImplementedError


def _selected(mask: Any) -> tuple[list[int], list[Any] | None]:
    """Indices of the candidates to run, and their weights (None for a bool mask)."""
    if isinstance(mask, torch.Tensor):
        if mask.dtype == torch.bool:
            return mask.nonzero().view(-1).tolist(), None
        if mask.is_floating_point():
            indices = mask.nonzero().view(-1).tolist()
            return indices, [mask[i] for i in indices]
    elif isinstance(mask, (list, tuple)) and mask:
        if all(isinstance(m, bool) for m in mask):
            return [i for i, m in enumerate(mask) if m], None
        if all(isinstance(m, (int, float)) for m in mask):
            return [i for i, m in enumerate(mask) if m], [m for m in mask if m]
    raise TypeError(
        f"a decision must be a bool tensor (switches) or a float tensor (weights), got {mask!r}"
    )


class Mutator(BaseMutator):
    """A mutator that decides by :meth:`sample_search` (during search) and :meth:`sample_final`
    (for export). Both return ``{key: mask}`` for every key of :attr:`mutables`."""

    def __init__(self, model: tnn.Module) -> None:
        super().__init__(model)
        self._cache: dict[str, Any] = {}

    def sample_search(self) -> dict[str, Any]:
        """New decisions for the next search step(s)."""
        raise NotImplementedError

    def sample_final(self) -> dict[str, Any]:
        """The final decisions (does not change the model)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Apply new decisions from :meth:`sample_search` to the model."""
        self._cache = self.sample_search()

    def export(self) -> dict[str, Any]:
        """The decisions of :meth:`sample_final` (``{key: mask tensor}``; call ``.tolist()`` on
        the masks to store them as JSON, or use :meth:`export_sample`)."""
        return self.sample_final()

    def status(self) -> dict[str, Any]:
        """The decisions currently applied to the model."""
        return self._cache

    def export_sample(self) -> dict[str, Any]:
        """The decisions of :meth:`sample_final` as a sample ``{label: value}`` for ``fixed_arch``:
        the selected (or heaviest) candidate of a LayerChoice, the selected (or ``n_chosen``
        heaviest) inputs of an InputChoice."""
        return masks_to_sample(self._mutables, self.sample_final())

    def _decision(self, mutable: Mutable) -> Any:
        try:
            return self._cache[mutable.key]
        except KeyError:
            raise KeyError(
                f"no decision for {type(mutable).__name__} {mutable.key!r}: call mutator.reset() "
                "before running the model, and make sample_search() decide every key"
            ) from None

    def _select(
        self, mask: Any, count: int, key: str, run: Callable[[int], Any]
    ) -> tuple[list[Any], Any]:
        if len(mask) != count:
            raise ValueError(f"the decision of {key!r} has {len(mask)} entries, expected {count}")
        indices, weights = _selected(mask)
        outputs = [run(i) for i in indices]
        if weights is not None:
            outputs = [o * w for o, w in zip(outputs, weights)]
        return outputs, mask

    def on_forward_layer_choice(self, mutable: LayerChoice, *args: Any, **kwargs: Any) -> Any:
        candidates = mutable.candidates
        outputs, mask = self._select(
            self._decision(mutable),
            len(candidates),
            mutable.key,
            lambda i: candidates[i](*args, **kwargs),
        )
        return reduce_tensors(outputs, getattr(mutable, "reduction", "sum")), mask

    def on_forward_input_choice(self, mutable: InputChoice, tensor_list: list[Any]) -> Any:
        outputs, mask = self._select(
            self._decision(mutable), mutable.n_candidates, mutable.key, lambda i: tensor_list[i]
        )
        if not outputs and mutable.reduction != "none":
            return None, mask  # a mask that selects no input gives None, as NNI's
        return reduce_tensors(outputs, mutable.reduction), mask


class RandomMutator(Mutator):
    """Uniformly random decisions (handy to debug a model space: ``RandomMutator(m).reset()``).

    Args:
        model: the model space.
        seed: seed of the mutator's own random generator.
    """

    def __init__(self, model: tnn.Module, seed: int | None = None) -> None:
        super().__init__(model)
        self._rng = random.Random(seed)

    def sample_search(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for mutable in self._mutables:
            if isinstance(mutable, LayerChoice):
                index = self._rng.randrange(mutable.length)
                mask = [i == index for i in range(mutable.length)]
            else:
                chosen = mutable._decision.random(self._rng)
                mask = [i in chosen for i in range(mutable.n_candidates)]
            result[mutable.key] = torch.tensor(mask, dtype=torch.bool)
        return result

    def sample_final(self) -> dict[str, Any]:
        return self.sample_search()


def masks_to_sample(mutables: list[Mutable], masks: dict[str, Any]) -> dict[str, Any]:
    """Turn ``{key: mask}`` decisions into a sample ``{label: value}``."""
    sample: dict[str, Any] = {}
    for mutable in mutables:
        mask = masks[mutable.key]
        values = torch.as_tensor(mask).detach().float().view(-1)
        order = torch.argsort(values, descending=True, stable=True).tolist()
        if isinstance(mutable, LayerChoice):
            sample[mutable.key] = mutable.names[order[0]]
        else:
            n = mutable.n_chosen or max(1, int((values > 0).sum()))
            sample[mutable.key] = sorted(order[:n])
    return sample
