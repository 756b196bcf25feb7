"""The MobileNetV3 search space of TuNAS (Bender et al., CVPR 2020), with value choices.

`TuNAS <https://arxiv.org/abs/2008.06120>`__ searches MobileNetV3-like networks: per stage a width
multiplier (``s{stage}_width_mult``) and a depth (``s{stage}_depth``); per block an expand ratio
(``s{stage}_i{index}_exp``), a kernel size (``s{stage}_i{index}_ks``) and, where the stage allows
it, an optional squeeze-and-excite (``s{stage}_i{index}_se``: ``identity`` or ``se``); the stem
and the first block choose a kernel size (``stem_ks``, ``s0_i0_ks``).

Unlike :class:`~.proxylessnas.ProxylessNAS`, the per-block choices are *value choices* in layer
arguments, not a ``LayerChoice`` of separate layers: a path-sampling supernet
(:mod:`retiarii.oneshot.pytorch.slicing`) trains one weight per layer and runs each sample on a
slice of it (the centre of the largest kernel, the first channels of the widest layer), which is
how once-for-all style spaces are trained. The same class with fixed arguments builds the published
MobileNetV3-Large/Small (``load_searched_model('mobilenetv3-large-100')``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
import torch.nn as tnn

from ...nn import pytorch as nn
from ...nn.pytorch import LayerChoice, Repeat, ValueChoice
from ...nn.pytorch.wrappers import model_wrapper
from .hub_space import HubSpaceMixin
from .proxylessnas import (
    ActFactory,
    ConvBNReLU,
    DepthwiseSeparableConv,
    InvertedResidual,
    MaybeChoice,
    NormFactory,
    fill_skipped_blocks,
    make_divisible,
    reset_parameters,
)
from .registry import ArchitectureEntry, SpaceEntry, register_architecture, register_space

__all__ = ["MobileNetV3Space", "SqueezeExcite"]

SE = Literal["force", "optional", "none"]
Activation = Literal["hswish", "swish", "relu"]


class SqueezeExcite(tnn.Module):
    """Squeeze-and-excite (MobileNetV3's): global pool, 1x1 reduce, ReLU, 1x1 expand, gate.

    ``channels`` may be a value choice; the reduced width follows it
    (``make_divisible(channels * reduction_ratio, 8)``), so both convs are weight-sliced together.
    """

    def __init__(
        self,
        channels: MaybeChoice,
        reduction_ratio: float = 0.25,
        gate_layer: ActFactory | None = None,
        activation_layer: ActFactory | None = None,
    ) -> None:
        super().__init__()
        reduced = make_divisible(channels * reduction_ratio, 8)
        self.conv_reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act1 = (activation_layer or tnn.ReLU)(inplace=True)
        self.conv_expand = nn.Conv2d(reduced, channels, 1, bias=True)
        self.gate = (gate_layer or tnn.Hardsigmoid)()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * self.gate(scale)


def _se_or_skip(
    hidden: MaybeChoice, inputs: MaybeChoice, *, optional: bool, se_from_exp: bool, label: str
) -> tnn.Module:
    channels = hidden if se_from_exp else inputs
    if not optional:
        return SqueezeExcite(channels)
    candidates: dict[str, Callable[[], tnn.Module]] = {
        "identity": tnn.Identity,
        "se": functools.partial(SqueezeExcite, channels),
    }
    return LayerChoice(candidates, label=label)


def _act_fn(name: str) -> ActFactory:
    activations: dict[str, ActFactory] = {
        "hswish": tnn.Hardswish,
        "swish": tnn.SiLU,
        "relu": tnn.ReLU,
    }
    if name not in activations:
        raise ValueError(
            f"MobileNetV3Space: unknown activation {name!r}; use one of {list(activations)}"
        )
    return activations[name]


@model_wrapper
class MobileNetV3Space(HubSpaceMixin, tnn.Module):
    """TuNAS' MobileNetV3 space (NNI's class, arguments and labels).

    With ``n = len(base_widths) - 1`` blocks (8 by default): a stem, stage 0 (one depthwise
    separable block), stages ``1 .. n-3`` (``Repeat`` of inverted residuals), and a head of two
    1x1 convs around a global pool.

    Args:
        num_labels: number of classes.
        base_widths: widths of the stem, the stages and the head (``n + 1`` values).
        width_multipliers: candidates of each stage's width multiplier (the stem shares stage 0's),
            or one float for fixed widths.
        expand_ratios: candidates of every block's expand ratio.
        squeeze_excite: per stage ``0 .. n-3``: ``force`` (always SE), ``optional`` (a choice),
            ``none``.
        depth_range: ``(min, max)`` depth of stages ``1 .. n-3``, or one range per stage.
        stride: of the stem, every stage and the two head layers (``n + 1`` values).
        activation: ``hswish``, ``swish`` or ``relu`` for the same ``n + 1`` positions.
        se_from_exp: SE width from the expanded (hidden) channels, else from the block's input.
        dropout_rate: before the classifier.
        bn_eps, bn_momentum: of every BatchNorm.
    """

    def __init__(
        self,
        num_labels: int = 1000,
        base_widths: Sequence[int] = (16, 16, 16, 32, 64, 128, 256, 512, 1024),
        width_multipliers: Sequence[float] | float = (0.5, 0.625, 0.75, 1.0, 1.25, 1.5, 2.0),
        expand_ratios: Sequence[float] = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0),
        squeeze_excite: Sequence[SE] = ("none", "none", "optional", "none", "optional", "optional"),
        depth_range: Sequence[tuple[int, int]] | tuple[int, int] = (1, 4),
        stride: Sequence[int] = (2, 1, 2, 2, 2, 1, 2, 1, 1),
        activation: Sequence[Activation] = (
            "hswish",
            "relu",
            "relu",
            "relu",
            "hswish",
            "hswish",
            "hswish",
            "hswish",
            "hswish",
        ),
        se_from_exp: bool = True,
        dropout_rate: float = 0.2,
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        n = len(base_widths) - 1
        self.num_blocks = n
        if n < 4 or not len(stride) == len(activation) == n + 1:
            raise ValueError(
                "MobileNetV3Space: base_widths, stride and activation need the same length "
                f"(at least 5), got {len(base_widths)}, {len(stride)}, {len(activation)}"
            )
        if len(squeeze_excite) != n - 2 or any(
            se not in ("force", "optional", "none") for se in squeeze_excite
        ):
            raise ValueError(
                f"MobileNetV3Space: squeeze_excite needs {n - 2} values among 'force', "
                f"'optional', 'none', got {list(squeeze_excite)}"
            )
        ranges = _depth_ranges(depth_range, n - 3)
        self.expand_ratios = list(expand_ratios)
        self.se_from_exp = se_from_exp
        norm = functools.partial(nn.BatchNorm2d, eps=bn_eps, momentum=bn_momentum)

        widths: list[Any] = []
        for i, base in enumerate(base_widths):
            if isinstance(width_multipliers, (int, float)):
                widths.append(make_divisible(base * width_multipliers, 8))
            else:  # TuNAS: the stem and stage 0 share one multiplier
                multiplier = ValueChoice(
                    list(width_multipliers), label=f"s{max(i - 1, 0)}_width_mult"
                )
                widths.append(make_divisible(multiplier * base, 8))

        self.stem = ConvBNReLU(
            3,
            widths[0],
            ValueChoice([3, 5], label="stem_ks"),
            stride=stride[0],
            norm_layer=norm,
            activation_layer=_act_fn(activation[0]),
        )
        blocks: list[tnn.Module] = [
            DepthwiseSeparableConv(
                widths[0],
                widths[1],
                ValueChoice([3, 5, 7], label="s0_i0_ks"),
                stride=stride[1],
                squeeze_excite=self._se(squeeze_excite[0], "s0_i0_se"),
                norm_layer=norm,
                activation_layer=_act_fn(activation[1]),
            )
        ]
        for stage in range(1, n - 2):
            blocks.append(
                self._make_stage(
                    stage,
                    widths[stage],
                    widths[stage + 1],
                    squeeze_excite[stage],
                    stride[stage + 1],
                    _act_fn(activation[stage + 1]),
                    ranges[stage - 1],
                    norm,
                )
            )
        blocks += [
            ConvBNReLU(
                widths[n - 2],
                widths[n - 1],
                1,
                stride=stride[n - 1],
                norm_layer=norm,
                activation_layer=_act_fn(activation[n - 1]),
            ),
            tnn.AdaptiveAvgPool2d(1),
            # TuNAS' last layer: a 1x1 conv with bias and no norm (a Linear, in effect)
            ConvBNReLU(
                widths[n - 1],
                widths[n],
                1,
                stride=stride[n],
                norm_layer=lambda _: tnn.Identity(),
                activation_layer=_act_fn(activation[n]),
            ),
        ]
        self.blocks = tnn.Sequential(*blocks)
        self.classifier = tnn.Sequential(
            tnn.Dropout(dropout_rate), nn.Linear(widths[n], num_labels)
        )
        reset_parameters(self)

    def _se(self, mode: str, label: str) -> Any:
        if mode == "none":
            return None
        return functools.partial(
            _se_or_skip, optional=mode == "optional", se_from_exp=self.se_from_exp, label=label
        )

    def _make_stage(
        self,
        stage: int,
        inputs: MaybeChoice,
        outputs: MaybeChoice,
        se: str,
        stride: int,
        act: ActFactory,
        depth: tuple[int, int],
        norm: NormFactory,
    ) -> Repeat:
        def block(index: int) -> tnn.Module:
            return InvertedResidual(
                inputs if index == 0 else outputs,
                outputs,
                ValueChoice(self.expand_ratios, label=f"s{stage}_i{index}_exp"),
                ValueChoice([3, 5, 7], label=f"s{stage}_i{index}_ks"),
                stride=stride if index == 0 else 1,  # only a stage's first block downsamples
                squeeze_excite=self._se(se, f"s{stage}_i{index}_se"),
                norm_layer=norm,
                activation_layer=act,
            )

        return Repeat(block, depth, label=f"s{stage}_depth")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.classifier(x.flatten(1))


def _depth_ranges(
    depth_range: Sequence[tuple[int, int]] | tuple[int, int], stages: int
) -> list[tuple[int, int]]:
    items: list[Any] = list(depth_range)
    if len(items) == 2 and all(isinstance(d, int) for d in items):
        items = [items] * stages
    ranges = [tuple(r) for r in items]
    if len(ranges) != stages or not all(len(r) == 2 and 1 <= r[0] <= r[1] for r in ranges):
        raise ValueError(
            f"MobileNetV3Space: depth_range must be one (min, max) with 1 <= min <= max or "
            f"{stages} of them, got {depth_range!r}"
        )
    return [(int(low), int(high)) for low, high in ranges]


register_space(
    SpaceEntry(
        name="MobileNetV3Space",
        factory=MobileNetV3Space,
        input_size=(3, 32, 32),
        full_input_size=(3, 224, 224),
        num_classes=10,
        test_kwargs={
            "num_labels": 10,
            "base_widths": (16, 16, 16, 16, 16, 16, 16, 32, 32),
            "width_multipliers": (0.5, 1.0),
            "expand_ratios": (1.0, 2.0),
            "squeeze_excite": ("force", "none", "optional", "none", "force", "optional"),
            "depth_range": (1, 2),
        },
    )
)

# NNI hardcodes these samples in ``MobileNetV3Space.load_searched_model`` (converted from timm's
# ``mobilenetv3_large_100`` / ``mobilenetv3_small_100``). Their converted weights reach timm's
# accuracy with bicubic resizing at evaluation, as timm evaluates them.
_LARGE = {
    "stem_ks": 3,
    "s0_i0_ks": 3,
    "s1_depth": 2,
    "s1_i0_exp": 4,
    "s1_i0_ks": 3,
    "s1_i1_exp": 3,
    "s1_i1_ks": 3,
    "s2_depth": 3,
    "s2_i0_exp": 3,
    "s2_i0_ks": 5,
    "s2_i1_exp": 3,
    "s2_i1_ks": 5,
    "s2_i2_exp": 3,
    "s2_i2_ks": 5,
    "s3_depth": 4,
    "s3_i0_exp": 6,
    "s3_i0_ks": 3,
    "s3_i1_exp": 2.5,
    "s3_i1_ks": 3,
    "s3_i2_exp": 2.3,
    "s3_i2_ks": 3,
    "s3_i3_exp": 2.3,
    "s3_i3_ks": 3,
    "s4_depth": 2,
    "s4_i0_exp": 6,
    "s4_i0_ks": 3,
    "s4_i1_exp": 6,
    "s4_i1_ks": 3,
    "s5_depth": 3,
    "s5_i0_exp": 6,
    "s5_i0_ks": 5,
    "s5_i1_exp": 6,
    "s5_i1_ks": 5,
    "s5_i2_exp": 6,
    "s5_i2_ks": 5,
}
_LARGE_KWARGS: dict[str, Any] = {
    "base_widths": (16, 16, 24, 40, 80, 112, 160, 960, 1280),
    "expand_ratios": (1.0, 2.0, 2.3, 2.5, 3.0, 4.0, 6.0),
    "bn_eps": 1e-5,
    "bn_momentum": 0.1,
    "width_multipliers": 1.0,
    "squeeze_excite": ("none", "none", "force", "none", "force", "force"),
}
_SMALL = {
    "stem_ks": 3,
    "s0_i0_ks": 3,
    "s1_depth": 2,
    "s1_i0_exp": 4.5,
    "s1_i0_ks": 3,
    "s1_i1_exp": 3.67,
    "s1_i1_ks": 3,
    "s2_depth": 3,
    "s2_i0_exp": 4.0,
    "s2_i0_ks": 5,
    "s2_i1_exp": 6.0,
    "s2_i1_ks": 5,
    "s2_i2_exp": 6.0,
    "s2_i2_ks": 5,
    "s3_depth": 2,
    "s3_i0_exp": 3.0,
    "s3_i0_ks": 5,
    "s3_i1_exp": 3.0,
    "s3_i1_ks": 5,
    "s4_depth": 3,
    "s4_i0_exp": 6.0,
    "s4_i0_ks": 5,
    "s4_i1_exp": 6.0,
    "s4_i1_ks": 5,
    "s4_i2_exp": 6.0,
    "s4_i2_ks": 5,
}
_SMALL_KWARGS: dict[str, Any] = {
    "base_widths": (16, 16, 24, 40, 48, 96, 576, 1024),
    "width_multipliers": 1.0,
    "expand_ratios": (3.0, 3.67, 4.0, 4.5, 6.0),
    "bn_eps": 1e-5,
    "bn_momentum": 0.1,
    "squeeze_excite": ("force", "none", "force", "force", "force"),
    "activation": ("hswish", "relu", "relu", "hswish", "hswish", "hswish", "hswish", "hswish"),
    "stride": (2, 2, 2, 2, 1, 2, 1, 1),
    # NNI passes (1, 2), which its own sample (3 blocks in stages 2 and 4) does not fit: a space
    # must contain its published networks, so the range here is (1, 3).
    "depth_range": (1, 3),
}

for _name, _sample, _kwargs, _depths, _params, _source in (
    (
        "mobilenetv3-large-100",
        _LARGE,
        _LARGE_KWARGS,
        dict.fromkeys(range(1, 6), 4),
        5.4,
        "Howard et al., Searching for MobileNetV3, ICCV 2019, Table 3 (Large 1.0: 5.4M params)",
    ),
    (
        "mobilenetv3-small-100",
        _SMALL,
        _SMALL_KWARGS,
        dict.fromkeys(range(1, 5), 3),
        2.5,
        "Howard et al., Searching for MobileNetV3, ICCV 2019, Table 4 (Small 1.0: 2.5M params)",
    ),
):
    _fill = {"_exp": _kwargs["expand_ratios"][0], "_ks": 3}
    register_architecture(
        ArchitectureEntry(
            name=_name,
            space=MobileNetV3Space,
            space_kwargs=_kwargs,
            sample=fill_skipped_blocks(_sample, _depths, _fill),
            paper_params=_params,
            input_size=(3, 224, 224),
            num_classes=1000,
            source=_source,
        )
    )
