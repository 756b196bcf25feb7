"""Weight slicing: layers whose arguments are value choices, as weight-sharing supernet layers.

In a model space, ``nn.Conv2d(16, nn.ValueChoice([16, 32, 64]), kernel_size=nn.ValueChoice([3,
5, 7]))`` is built once with the largest values. The sliced layer keeps that layer's parameters
(the same ``Parameter`` objects, so an optimizer made before the replacement still updates them)
and runs each sampled configuration on a slice of them, as SPOS / once-for-all supernets do:

* ``Linear``: ``weight[:out, :in]``, ``bias[:out]``;
* ``Conv1d/2d/3d``: ``weight[:out, :in // groups]`` and the centre ``k x k`` of the kernel (any
  of ``in_channels``, ``out_channels``, ``kernel_size``, ``stride``, ``padding``, ``dilation``,
  ``groups`` may be a choice);
* ``BatchNorm1d/2d/3d``: the first ``num_features`` of the affine parameters and running stats;
* ``LayerNorm``: the leading part of ``normalized_shape``;
* ``MultiheadAttention``: the leading ``embed_dim`` rows and ``kdim``/``vdim`` columns of each of
  the q/k/v projections, ``out_proj[:e, :e]``; any ``num_heads`` dividing ``embed_dim``;
* layers without parameters or buffers (``Dropout``, pooling, activations): one instance per
  configuration.

Freezing a sliced layer gives the plain torch layer *with the sliced weights copied in*, so the
weights a supernet trained carry over to the exported subnet. What this does not do: kernel
transformation matrices (OFA's refinement of centre cropping), or slicing inside ``@basic_unit``
modules (their constructor can do anything with its arguments).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

from ...mutable import Choice, leaves_of
from ...nn.pytorch.layers import ValueChoiceArgs
from ...nn.pytorch.mutable_args import mutable_args
from .supernet import SwitchBoard, ValueResolver

if TYPE_CHECKING:
    from ...nn.pytorch.freeze import Freezer

__all__ = [
    "SlicedBatchNorm",
    "SlicedConv",
    "SlicedLayer",
    "SlicedLayerNorm",
    "SlicedLinear",
    "SlicedMultiheadAttention",
    "SlicedParameterFree",
    "is_value_choice_layer",
    "sliced_layer",
]

Config = Any
_CONV = {tnn.Conv1d: F.conv1d, tnn.Conv2d: F.conv2d, tnn.Conv3d: F.conv3d}
_BATCHNORM = (tnn.BatchNorm1d, tnn.BatchNorm2d, tnn.BatchNorm3d)


def is_value_choice_layer(module: tnn.Module) -> bool:
    """Whether ``module`` is a ``retiarii.nn.pytorch`` layer (it may have value-choice args)."""
    return isinstance(module, ValueChoiceArgs) and bool(
        type(module).__dict__.get("_retiarii_generated", False)
    )


@functools.cache
def _signature(cls: type[tnn.Module]) -> inspect.Signature:
    # one per layer class: computing it per layer took a second for a large NDS supernet
    return inspect.signature(cls.__init__)


def _tuple(value: Any, n: int) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class SlicedLayer(tnn.Module):
    """Base of sliced layers: resolves the layer's arguments for the active path (cached per
    combination of decisions) and freezes to the torch layer with the sliced weights."""

    _retiarii_walk_children = False

    def __init__(self, layer: tnn.Module, board: SwitchBoard) -> None:
        super().__init__()
        recorded = mutable_args(layer)
        assert recorded is not None
        self._torch_class: type[tnn.Module] = type(layer)._retiarii_torch_class  # type: ignore[attr-defined]
        self._recorded = recorded
        self._signature = _signature(self._torch_class)
        self._resolve = ValueResolver(recorded, board, post=self._configure_frozen)
        self.weight: tnn.Parameter | None = getattr(layer, "weight", None)
        self.bias: tnn.Parameter | None = getattr(layer, "bias", None)

    def _arguments(self, frozen: tuple[tuple[Any, ...], dict[str, Any]]) -> dict[str, Any]:
        args, kwargs = frozen
        bound = self._signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(self._signature.parameters)))  # self
        return arguments

    def _configure_frozen(self, frozen: tuple[tuple[Any, ...], dict[str, Any]]) -> Config:
        return self.configure(self._arguments(frozen))

    def configure(self, arguments: dict[str, Any]) -> Config:
        """What forward needs for the layer built with ``arguments`` (checked against the
        largest layer's shapes)."""
        raise NotImplementedError

    def slices(self, config: Config) -> dict[str, Any]:
        """Per parameter or buffer of the layer of ``config``: its index into this layer's
        (``None``: the whole tensor)."""
        return {}

    def sliced_state(self, config: Config) -> dict[str, torch.Tensor]:
        """The parameters and buffers of the layer of ``config``, sliced from this layer's."""
        state = {}
        for name, index in self.slices(config).items():
            tensor = getattr(self, name)
            if tensor is not None:
                state[name] = tensor if index is None else tensor[index]
        return state

    def _too_large(self, what: str, value: Any, largest: Any) -> ValueError:
        return ValueError(
            f"{self._torch_class.__name__}: {what}={value!r} exceeds the supernet layer's "
            f"{largest!r}; the space builds each layer with its largest candidates, so a "
            "candidate cannot be larger unless it depends on another choice"
        )

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return leaves_of(self._recorded)

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        args, kwargs = freezer.value(self._recorded)
        layer = self._torch_class(*args, **kwargs)
        state = self.sliced_state(self._configure_frozen((args, kwargs)))
        if state:
            reference = next(iter(state.values()))
            layer.to(device=reference.device, dtype=reference.dtype)
            with torch.no_grad():
                for name, tensor in state.items():
                    getattr(layer, name).copy_(tensor)
        layer.train(self.training)
        return layer

    def extra_repr(self) -> str:
        return f"{self._torch_class.__name__}, labels={[s.label for s in self._resolve.switches]}"


class SlicedLinear(SlicedLayer):
    """``Linear`` with choices of ``in_features`` / ``out_features``."""

    weight: tnn.Parameter

    def configure(self, arguments: dict[str, Any]) -> Config:
        out, inp = arguments["out_features"], arguments["in_features"]
        if out > self.weight.shape[0]:
            raise self._too_large("out_features", out, self.weight.shape[0])
        if inp > self.weight.shape[1]:
            raise self._too_large("in_features", inp, self.weight.shape[1])
        return out, inp

    def slices(self, config: Config) -> dict[str, Any]:
        out, inp = config
        return {"weight": (slice(0, out), slice(0, inp)), "bias": slice(0, out)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.sliced_state(self._resolve())
        return F.linear(x, state["weight"], state.get("bias"))


class SlicedConv(SlicedLayer):
    """``Conv1d/2d/3d`` with choices of channels, kernel size, stride, padding, dilation, groups."""

    weight: tnn.Parameter

    def __init__(self, layer: tnn.Module, board: SwitchBoard) -> None:
        super().__init__(layer, board)
        assert isinstance(layer, tnn.modules.conv._ConvNd)
        self._conv = _CONV[self._torch_class]  # type: ignore[index]

    def configure(self, arguments: dict[str, Any]) -> Config:
        dims = self.weight.dim() - 2
        out, inp, groups = arguments["out_channels"], arguments["in_channels"], arguments["groups"]
        kernel = _tuple(arguments["kernel_size"], dims)
        if out > self.weight.shape[0]:
            raise self._too_large("out_channels", out, self.weight.shape[0])
        if inp // groups > self.weight.shape[1]:
            raise self._too_large("in_channels // groups", inp // groups, self.weight.shape[1])
        crops = []
        for k, largest in zip(kernel, self.weight.shape[2:]):
            if k > largest:
                raise self._too_large("kernel_size", kernel, tuple(self.weight.shape[2:]))
            start = (largest - k) // 2
            crops.append(slice(start, start + k))
        index = (slice(0, out), slice(0, inp // groups), *crops)
        padding = arguments["padding"]
        padding = padding if isinstance(padding, str) else _tuple(padding, dims)
        mode = arguments["padding_mode"]
        pad_input: tuple[int, ...] | None = None
        if mode != "zeros":
            if isinstance(padding, str):
                raise ValueError(
                    f"{self._torch_class.__name__}: padding={padding!r} with "
                    f"padding_mode={mode!r} is not supported by weight slicing"
                )
            pad_input = tuple(p for p in reversed(padding) for _ in range(2))
            padding = (0,) * dims
        stride, dilation = _tuple(arguments["stride"], dims), _tuple(arguments["dilation"], dims)
        return index, out, stride, padding, dilation, groups, mode, pad_input

    def slices(self, config: Config) -> dict[str, Any]:
        return {"weight": config[0], "bias": slice(0, config[1])}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        config = self._resolve()
        _, _, stride, padding, dilation, groups, mode, pad_input = config
        if pad_input is not None:
            x = F.pad(x, pad_input, mode=mode)
        state = self.sliced_state(config)
        return self._conv(x, state["weight"], state.get("bias"), stride, padding, dilation, groups)


class SlicedBatchNorm(SlicedLayer):
    """``BatchNorm1d/2d/3d`` with a choice of ``num_features`` (``momentum`` is the largest
    layer's, settable for BatchNorm recalibration like a torch BatchNorm's)."""

    # None when the layer does not track running statistics (never read then).
    running_mean: torch.Tensor
    running_var: torch.Tensor
    num_batches_tracked: torch.Tensor

    def __init__(self, layer: tnn.modules.batchnorm._BatchNorm, board: SwitchBoard) -> None:
        super().__init__(layer, board)
        self.register_buffer("running_mean", layer.running_mean)
        self.register_buffer("running_var", layer.running_var)
        self.register_buffer("num_batches_tracked", layer.num_batches_tracked)
        self.momentum: float | None = layer.momentum
        self.track_running_stats = layer.track_running_stats

    def configure(self, arguments: dict[str, Any]) -> Config:
        c = arguments["num_features"]
        size = (self.running_mean if self.weight is None else self.weight).shape[0]
        if c > size:
            raise self._too_large("num_features", c, size)
        return c, arguments["eps"]

    def reset_running_stats(self) -> None:
        """Reset the running statistics (of every channel), as torch's BatchNorm does."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def slices(self, config: Config) -> dict[str, Any]:
        c = slice(0, config[0])
        slices: dict[str, Any] = {"weight": c, "bias": c}
        if self.track_running_stats:
            slices.update(running_mean=c, running_var=c, num_batches_tracked=None)
        return slices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x, *self._resolve())

    def normalize(self, x: torch.Tensor, c: int, eps: float) -> torch.Tensor:
        """The layer of ``c`` features (and ``eps``) on ``x``."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or not self.track_running_stats
        stats = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean[:c] if stats else None,
            self.running_var[:c] if stats else None,
            self.weight[:c] if self.weight is not None else None,
            self.bias[:c] if self.bias is not None else None,
            use_batch,
            factor,
            eps,
        )


class SlicedLayerNorm(SlicedLayer):
    """``LayerNorm`` with a choice of ``normalized_shape``."""

    def __init__(self, layer: tnn.LayerNorm, board: SwitchBoard) -> None:
        super().__init__(layer, board)
        self._largest = tuple(layer.normalized_shape)

    def configure(self, arguments: dict[str, Any]) -> Config:
        shape = arguments["normalized_shape"]
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if len(shape) != len(self._largest) or any(s > m for s, m in zip(shape, self._largest)):
            raise self._too_large("normalized_shape", shape, self._largest)
        return shape, tuple(slice(0, s) for s in shape), arguments["eps"]

    def slices(self, config: Config) -> dict[str, Any]:
        return {"weight": config[1], "bias": config[1]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        config = self._resolve()
        state = self.sliced_state(config)
        return F.layer_norm(x, config[0], state.get("weight"), state.get("bias"), config[2])


class SlicedParameterFree(SlicedLayer):
    """A layer without parameters or buffers (dropout, pooling, ...): one instance per
    configuration, following this module's train/eval mode."""

    def configure(self, arguments: dict[str, Any]) -> Config:
        return self._torch_class(**arguments)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        layer = self._resolve()
        layer.training = self.training
        return layer(*args, **kwargs)


def sliced_layer(layer: tnn.Module, board: SwitchBoard) -> SlicedLayer:
    """The weight-sharing replacement of a layer built with value-choice arguments."""
    torch_class = type(layer)._retiarii_torch_class  # type: ignore[attr-defined]
    if torch_class is tnn.Linear:
        return SlicedLinear(layer, board)
    if torch_class in _CONV:
        return SlicedConv(layer, board)
    if torch_class in _BATCHNORM:
        return SlicedBatchNorm(layer, board)  # type: ignore[arg-type]
    if torch_class is tnn.LayerNorm:
        return SlicedLayerNorm(layer, board)  # type: ignore[arg-type]
    if torch_class is tnn.MultiheadAttention:
        return SlicedMultiheadAttention(layer, board)  # type: ignore[arg-type]
    if next(layer.parameters(), None) is None and next(layer.buffers(), None) is None:
        return SlicedParameterFree(layer, board)
    raise ValueError(
        f"{torch_class.__name__} with value-choice arguments cannot share its weights across "
        "candidates: weight slicing supports Linear, Conv1d/2d/3d, BatchNorm1d/2d/3d, LayerNorm, "
        "MultiheadAttention and layers without parameters. Use a LayerChoice of separate layers instead."
    )


class SlicedMultiheadAttention(SlicedLayer):
    """``MultiheadAttention`` with choices of ``embed_dim``, ``num_heads``, ``kdim``, ``vdim`` and
    ``dropout`` (NNI's ``MixedMultiHeadAttention``).

    The query, key and value projections of the largest layer are ``(E, E)``, ``(E, Kdim)`` and
    ``(E, Vdim)`` blocks (packed in ``in_proj_weight`` when ``kdim == vdim == embed_dim``); a
    sampled layer uses the leading ``[:e, :kdim]`` of each block, the leading ``e`` of their
    biases and of ``bias_k``/``bias_v``, and ``out_proj[:e, :e]``. ``num_heads`` only changes how
    the ``e`` features are split (``e`` must be divisible by it). ``bias``, ``add_bias_kv``,
    ``add_zero_attn`` and ``batch_first`` decide which parameters exist and cannot be choices.
    """

    _FIXED = ("bias", "add_bias_kv", "add_zero_attn", "batch_first")

    def __init__(self, layer: tnn.MultiheadAttention, board: SwitchBoard) -> None:
        super().__init__(layer, board)
        for name in self._FIXED:
            if next(leaves_of(self._arguments(self._recorded).get(name)), None) is not None:
                raise ValueError(
                    f"MultiheadAttention: {name} is a value choice, but it decides which "
                    "parameters exist, so weight slicing cannot share them; fix it, or use a "
                    "LayerChoice of separate layers"
                )
        self._packed = layer._qkv_same_embed_dim
        if self._packed:
            self.in_proj_weight = layer.in_proj_weight
        else:
            self.q_proj_weight = layer.q_proj_weight
            self.k_proj_weight = layer.k_proj_weight
            self.v_proj_weight = layer.v_proj_weight
        self.in_proj_bias = layer.in_proj_bias
        self.out_proj_weight = layer.out_proj.weight
        self.out_proj_bias = layer.out_proj.bias
        self.bias_k, self.bias_v = layer.bias_k, layer.bias_v
        self._largest = (layer.embed_dim, layer.kdim, layer.vdim)
        self.batch_first = layer.batch_first
        self.add_zero_attn = layer.add_zero_attn

    def _projections(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._packed:
            return tuple(self.in_proj_weight.chunk(3))  # type: ignore[return-value]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def configure(self, arguments: dict[str, Any]) -> Config:
        e, h = arguments["embed_dim"], arguments["num_heads"]
        kdim = arguments["kdim"] if arguments["kdim"] is not None else e
        vdim = arguments["vdim"] if arguments["vdim"] is not None else e
        for what, value, largest in zip(
            ("embed_dim", "kdim", "vdim"), (e, kdim, vdim), self._largest
        ):
            if value > largest:
                raise self._too_large(what, value, largest)
        if e % h:
            raise ValueError(
                f"MultiheadAttention: embed_dim={e} is not divisible by num_heads={h}; make every "
                "combination of the two choices divisible (e.g. choose the head dimension and "
                "compute embed_dim = num_heads * head_dim)"
            )
        return e, h, kdim, vdim, float(arguments["dropout"])

    def sliced_weights(self, config: Config) -> dict[str, torch.Tensor | None]:
        """The sampled layer's q/k/v/out projections and biases, sliced from the largest's."""
        e, _, kdim, vdim, _ = config
        q, k, v = self._projections()
        E = self._largest[0]
        bias = self.in_proj_bias
        return {
            "q": q[:e, :e],
            "k": k[:e, :kdim],
            "v": v[:e, :vdim],
            "in_proj_bias": (
                torch.cat([bias[:e], bias[E : E + e], bias[2 * E : 2 * E + e]])
                if bias is not None
                else None
            ),
            "bias_k": self.bias_k[..., :e] if self.bias_k is not None else None,
            "bias_v": self.bias_v[..., :e] if self.bias_v is not None else None,
            "out_proj.weight": self.out_proj_weight[:e, :e],
            "out_proj.bias": self.out_proj_bias[:e] if self.out_proj_bias is not None else None,
        }

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        args, kwargs = freezer.value(self._recorded)
        config = self._configure_frozen((args, kwargs))  # clear errors before torch's asserts
        layer = self._torch_class(*args, **kwargs)
        assert isinstance(layer, tnn.MultiheadAttention)
        layer.to(device=self.out_proj_weight.device, dtype=self.out_proj_weight.dtype)
        weights = self.sliced_weights(config)
        state = {k: v.detach() for k, v in weights.items() if v is not None}
        q, k, v = state.pop("q"), state.pop("k"), state.pop("v")
        if layer._qkv_same_embed_dim:
            state["in_proj_weight"] = torch.cat([q, k, v])
        else:
            state.update(q_proj_weight=q, k_proj_weight=k, v_proj_weight=v)
        with torch.no_grad():
            layer.load_state_dict(state)
        layer.train(self.training)
        return layer

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        config = self._resolve()
        e, h, _, _, dropout = config
        w = self.sliced_weights(config)
        batched = query.dim() == 3
        if self.batch_first and batched:
            query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        out, weights = F.multi_head_attention_forward(
            query,
            key,
            value,
            e,
            h,
            None,
            w["in_proj_bias"],
            w["bias_k"],
            w["bias_v"],
            self.add_zero_attn,
            dropout,
            w["out_proj.weight"],  # type: ignore[arg-type]
            w["out_proj.bias"],
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=True,
            q_proj_weight=w["q"],
            k_proj_weight=w["k"],
            v_proj_weight=w["v"],
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights
