"""A cheap, shape-only view of one architecture of a model space, on meta tensors.

The profilers need the frozen model's parameters and the operators its forward pass runs, for
thousands of samples. Building each model (allocating and initialising real weights) is what they
must avoid, so the space is analysed once:

* it is copied once to the ``meta`` device (tensors with shapes but no storage);
* every module gets the set of labels its subtree depends on; a module with none is *static*
  and is shared, untouched, by every sample's view;
* :meth:`SpaceView.freeze` then follows the same ``_retiarii_freeze`` hooks as
  :class:`~retiarii.nn.pytorch.freeze.Freezer` (so the view has exactly the frozen model's
  structure) but copies only the containers on the path to a choice, shallowly, and builds
  layers with value-choice arguments on ``meta``, once per distinct set of arguments;
* each module's forward is memoised on ``(module, values of its labels, input shapes)``: the
  cost it recorded the first time is replayed, and its output is a meta tensor of the right
  shape, so on a later sample only the glue around the changed blocks runs.

What this deliberately does not do: it does not trace the forward into a symbolic graph. The
forward code of a space is arbitrary Python; running it (on meta tensors, memoised) is the one
way to follow it exactly. A module whose forward cannot run on meta tensors (it reads values,
e.g. ``.item()``) is measured on real zero tensors instead, with a warning naming it once.
"""

from __future__ import annotations

import copy
import functools
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn as tnn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from ..mutable import freeze_structure, leaves_of
from ..nn.pytorch.freeze import Freezer, _plain_attributes
from ..nn.pytorch.mutable_args import mutable_args

__all__ = ["MacCounter", "SpaceView"]

_logger = logging.getLogger(__name__)
_MEMO = "_retiarii_profile_memo"


def _model_of(space: Any) -> tnn.Module:
    model = getattr(space, "model", space)  # a ModelSpace, or the model itself
    if not isinstance(model, tnn.Module):
        raise TypeError(
            f"a profiler takes a model space (an nn.Module or a retiarii ModelSpace), got {space!r}"
        )
    return model


class MacCounter(TorchDispatchMode):
    """Counts multiply-adds of the operators ``torch.utils.flop_counter`` knows (conv, mm, ...).

    ``FlopCounterMode`` counts a multiply-add as 2 FLOPs; this counter halves its formulas, so one
    multiply-add is one, as NNI and fvcore report them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func._overloadpacket in _SAME_SHAPE_OPS:
            fast = _same_shape_result(func, args)
            if fast is not None:
                return fast
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.macs += int(formula(*args, **kwargs, out_val=out)) // 2
        return out


_aten = torch.ops.aten
#: element-wise operators whose output, for operands of one shape and one floating dtype, is a
#: tensor of that shape and dtype: the glue between blocks (residual sums, activations). Meta
#: tensors run them through Python reference implementations (~1 ms each); answering directly
#: keeps a profile in the sub-millisecond range.
_SAME_SHAPE_OPS = {
    _aten.add,
    _aten.add_,
    _aten.sub,
    _aten.sub_,
    _aten.mul,
    _aten.mul_,
    _aten.div,
    _aten.div_,
    _aten.relu,
    _aten.relu_,
    _aten.sigmoid,
    _aten.sigmoid_,
    _aten.tanh,
    _aten.hardtanh,
    _aten.hardtanh_,
    _aten.hardswish,
    _aten.hardswish_,
    _aten.hardsigmoid,
    _aten.hardsigmoid_,
    _aten.silu,
    _aten.silu_,
    _aten.gelu,
    _aten.clone,
}


def _same_shape_result(func: Any, args: Any) -> torch.Tensor | None:
    first = args[0] if args else None
    if not isinstance(first, torch.Tensor) or not first.dtype.is_floating_point:
        return None
    for other in args[1:]:
        if isinstance(other, torch.Tensor):
            if other.shape != first.shape or other.dtype != first.dtype:
                return None
        elif not isinstance(other, (int, float)) or isinstance(other, bool):
            return None
    if func._schema.name.endswith("_"):  # in place: the input itself
        return first
    return torch.empty(first.shape, dtype=first.dtype, device="meta")


def _signature(obj: Any) -> Any:
    """A hashable description of forward arguments (shapes for tensors); None if not possible."""
    if isinstance(obj, torch.Tensor):
        return ("T", tuple(obj.shape), obj.dtype)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        parts = tuple(_signature(o) for o in obj)
        return _UNKNOWN if any(p is _UNKNOWN for p in parts) else (type(obj).__name__, parts)
    if isinstance(obj, dict):
        items = tuple((k, _signature(v)) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0])))
        return _UNKNOWN if any(v is _UNKNOWN for _, v in items) else ("dict", items)
    return _UNKNOWN


_UNKNOWN = object()
#: nn.Module's own bookkeeping, left out of the structural key
_TORCH_STATE = {
    "_modules",
    "_parameters",
    "_buffers",
    "_non_persistent_buffers_set",
    "_backward_pre_hooks",
    "_backward_hooks",
    "_is_full_backward_hook",
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
    _MEMO,
}


def _to_real(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return torch.zeros(obj.shape, dtype=obj.dtype)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_real(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_real(v) for k, v in obj.items()}
    return obj


def _to_meta(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return torch.empty(obj.shape, dtype=obj.dtype, device="meta")
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_meta(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_meta(v) for k, v in obj.items()}
    return obj


class SpaceView:
    """The analysed space: builds the shape-only view of a sample and runs it (see module doc)."""

    def __init__(self, space: Any) -> None:
        original = _model_of(space)
        # the copy's tensors go straight to meta: copying their data only to drop it is slow
        memo: dict[int, Any] = {}
        for table in (original.parameters(), original.buffers()):
            for t in table:
                meta = torch.empty_like(t, device="meta")
                if isinstance(t, tnn.Parameter):
                    meta = tnn.Parameter(meta, requires_grad=t.requires_grad)
                memo[id(t)] = meta
        self.model = copy.deepcopy(original, memo).to("meta").eval()  # eval: BN on 1x1 maps
        self.labels: dict[int, tuple[str, ...]] = {}
        #: names of plain attributes holding value choices, per module
        self.mutable_attributes: dict[int, list[str]] = {}
        self._label_walk(self.model)
        self._built: dict[tuple[int, tuple[Any, ...]], tnn.Module] = {}
        self._cache: dict[Any, tuple[Any, int]] = {}
        self.counter: MacCounter | None = None
        self.fallbacks: list[str] = []
        self.shape_key = self._shape_keys(self.model)
        for module in self.model.modules():  # static modules: memoise once, for good
            if not self.labels.get(id(module)):
                self._memoise(module, (self.shape_key[id(module)],), type(module).__name__)

    # -- analysis --------------------------------------------------------------------------------
    def _label_walk(self, module: tnn.Module) -> frozenset[str]:
        found: set[str] = set()
        decisions = getattr(type(module), "_retiarii_decisions", None)
        if decisions is not None:
            for decision in decisions(module):
                found.update(leaf.label for leaf in decision.leaves())
        for name, value in _plain_attributes(module):
            attr_labels = {leaf.label for leaf in leaves_of(value)}
            if attr_labels:
                self.mutable_attributes.setdefault(id(module), []).append(name)
            found.update(attr_labels)
        walk = getattr(type(module), "_retiarii_walk_children", True)
        for child in module.children():
            labels = self._label_walk(child)
            if walk:
                found.update(labels)
        self.labels[id(module)] = tuple(sorted(found))
        return frozenset(found)

    def _shape_keys(self, root: tnn.Module) -> dict[int, Any]:
        """Per module, a key shared by modules that compute the same shapes and MACs.

        Identical blocks (the cells of a stage, the layers of a ``Repeat``) are copies: the same
        class, the same arguments (``extra_repr``), the same plain attribute values, parameter
        shapes and labels, and children with the same names and keys — so for the same label
        values and input shapes they have the same cost, and one's memo serves the other.
        Anything whose description is not a value (an object at an address) makes the key
        unique, and so the keys of the modules holding it, which is always safe. Keys are built
        bottom-up (each module described once: linear in the size of the model) and interned as
        small integers.
        """
        keys: dict[int, Any] = {}
        interned: dict[str, int] = {}
        unique = itertools.count(-1, -1)  # keys of unique modules: negative, never interned

        def key_of(module: tnn.Module) -> int:
            found = keys.get(id(module))
            if found is not None:
                return found
            children = tuple((name, key_of(child)) for name, child in module.named_children())
            plain = tuple(
                sorted(
                    (k, repr(v))
                    for k, v in vars(module).items()
                    if k not in _TORCH_STATE
                    and not isinstance(v, (tnn.Module, torch.Tensor))
                    and not callable(v)
                )
            )
            tensors = tuple(
                (k, tuple(v.shape), str(v.dtype))
                for table in (module._parameters, module._buffers)
                for k, v in table.items()
                if v is not None
            )
            kind = type(module)
            # a type that writes its own __repr__ may show more than extra_repr and children
            own = repr(module) if kind.__repr__ is not tnn.Module.__repr__ else module.extra_repr()
            text = repr(
                (
                    kind.__qualname__,
                    kind.__module__,
                    own,
                    plain,
                    tensors,
                    children,
                    self.labels.get(id(module)),
                )
            )
            key = next(unique) if " at 0x" in text else interned.setdefault(text, len(interned))
            keys[id(module)] = key
            return key

        key_of(root)
        for module in root.modules():  # modules only reachable through a hook-free path
            key_of(module)
        return keys

    # -- per sample ------------------------------------------------------------------------------
    def freeze(self, sample: Mapping[str, Any], lazy: bool = False) -> tnn.Module:
        """The meta view of ``sample``'s architecture (``sample`` already validated).

        ``lazy``: a container's children are assembled only when its forward runs and misses
        the memo (for :meth:`run`); otherwise the whole view is assembled now.
        """
        return _ViewFreezer(self, sample, lazy).module(self.model)

    def run(self, model: tnn.Module, inputs: tuple[Any, ...]) -> int:
        """Multiply-adds of ``model(*inputs)`` (inputs on meta)."""
        counter = MacCounter()
        self.counter = counter
        try:
            with torch.no_grad(), counter:
                model(*inputs)
        finally:
            self.counter = None
        return counter.macs

    # -- memoised forward ------------------------------------------------------------------------
    def _memoise(
        self,
        module: tnn.Module,
        key: tuple[Any, ...],
        name: str,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        if _MEMO in module.__dict__:
            return
        forward = module.forward  # bound method (or an instance attribute set before)
        view = self
        pending = [prepare]

        def run(*args: Any, **kwargs: Any) -> Any:
            if pending[0] is not None:  # assemble the children now that they are needed
                pending[0]()
                pending[0] = None
            return forward(*args, **kwargs)

        def memo_forward(*args: Any, **kwargs: Any) -> Any:
            signature = _signature((args, kwargs))
            if signature is _UNKNOWN or view.counter is None:
                return run(*args, **kwargs)
            full = (key, signature)
            hit = view._cache.get(full)
            counter = view.counter
            if hit is not None:
                counter.macs += hit[1]
                return hit[0]
            before = counter.macs
            try:
                out = run(*args, **kwargs)
            except (NotImplementedError, RuntimeError) as exc:
                out, macs = view._measure_real(module, name, args, kwargs, exc)
                counter.macs = before + macs
            view._cache[full] = (out, counter.macs - before)
            return out

        module.__dict__["forward"] = memo_forward
        module.__dict__[_MEMO] = True

    def _measure_real(
        self, module: tnn.Module, name: str, args: Any, kwargs: Any, exc: BaseException
    ) -> tuple[Any, int]:
        if name not in self.fallbacks:
            self.fallbacks.append(name)
            _logger.warning(
                "profiler: %s cannot run on meta tensors (%s); measuring it on real zero "
                "tensors instead (slower, said once)",
                name,
                exc,
            )
        real = copy.deepcopy(module).to_empty(device="cpu")
        real.__dict__.pop("forward", None)
        real.__dict__.pop(_MEMO, None)
        for sub in real.modules():
            sub.__dict__.pop("forward", None)
            sub.__dict__.pop(_MEMO, None)
        counter = MacCounter()
        outer, self.counter = self.counter, None
        try:
            with torch.no_grad():
                for p in real.parameters():
                    p.zero_()
                with counter:
                    out = real(*_to_real(args), **_to_real(kwargs))
        finally:
            self.counter = outer
        return _to_meta(out), counter.macs


class _ViewFreezer(Freezer):
    """A :class:`Freezer` that copies shallowly and builds rebuilt layers on meta, memoised."""

    def __init__(self, view: SpaceView, sample: Mapping[str, Any], lazy: bool = False) -> None:
        super().__init__(sample)
        self.view = view
        self.lazy = lazy

    def module(self, module: tnn.Module) -> tnn.Module:
        done = self._memo.get(id(module))
        if done is not None:
            return done
        labels = self.view.labels.get(id(module), ())
        if not labels:
            self._memo[id(module)] = module
            return module
        values = tuple(_hashable(self.sample.get(label)) for label in labels)
        name = type(module).__name__
        hook: Callable[[tnn.Module, Freezer], tnn.Module] | None = getattr(
            type(module), "_retiarii_freeze", None
        )
        if hook is not None and mutable_args(module) is not None:
            # its arguments are a function of its labels' values: build once per combination
            built = self.view._built.get((id(module), values))
            if built is None:
                with torch.device("meta"):
                    built = hook(module, self).eval()
                self.view._memoise(built, ("built", self.view.shape_key[id(module)], values), name)
                self.view._built[(id(module), values)] = built
            frozen = built
        elif hook is not None:
            # a hook may build new layers (the NDS spaces rebuild their network): on meta too
            with torch.device("meta"):
                frozen = hook(module, self)
        else:
            frozen = object.__new__(type(module))
            frozen.__dict__.update(module.__dict__)
            frozen.__dict__["_modules"] = dict(module._modules)
            frozen.__dict__.pop(_MEMO, None)
            frozen.__dict__.pop("forward", None)
            # ModuleList / ModuleDict are indexed, never called: assemble their children now
            lazy = self.lazy and type(module).forward is not tnn.Module.forward
            if not lazy:
                self.children(frozen)
            for attr in self.view.mutable_attributes.get(id(module), ()):
                value = freeze_structure(module.__dict__[attr], self.sample)
                object.__setattr__(frozen, attr, value)
        prepare = None
        callable_container = hook is None and type(module).forward is not tnn.Module.forward
        if self.lazy and callable_container and frozen is not module:
            prepare = functools.partial(self.children, frozen)
        self.view._memoise(frozen, (self.view.shape_key[id(module)], values), name, prepare)
        self._memo[id(module)] = frozen
        return frozen


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
