"""The ProxylessNAS model space (Cai et al., ICLR 2019) and the mobile blocks it shares with others.

`ProxylessNAS <https://arxiv.org/abs/1812.00332>`__ searches a MobileNetV2-like network: a stem,
a fixed depthwise-separable block, then six stages of inverted residual ("MBConv") blocks. In each
searchable stage the depth is chosen (``s{stage}_depth``, 1 to 4 blocks; the last stage has one
block) and every block picks one of six candidates ``k{3,5,7}e{3,6}`` (kernel size, expand ratio),
labelled ``s{stage}_i{index}``. As in NNI and the official code the six candidates are separate
layers in a ``LayerChoice`` (not one weight-sliced layer): a path-sampling or differentiable
supernet trains each candidate on its own, which is what the paper does.

The building blocks (:class:`ConvBNReLU`, :class:`DepthwiseSeparableConv`,
:class:`InvertedResidual`, :func:`make_divisible`) accept value choices for channels, kernel size
and expand ratio, so :mod:`.mobilenetv3` builds its weight-sliced space from the same blocks.

What this module deliberately does not do: no hidden re-initialisation at freeze time. The space
initialises its weights once (``he_fout``, like the paper's code); layers rebuilt by freezing a
value choice get torch's default initialisation, and ``fixed_arch`` builds get this one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn as tnn

from ...mutable import Expression, Mutable
from ...nn import pytorch as nn
from ...nn.pytorch import LayerChoice, Repeat
from ...nn.pytorch.wrappers import model_wrapper
from .hub_space import HubSpaceMixin
from .registry import ArchitectureEntry, SpaceEntry, register_architecture, register_space

__all__ = [
    "ConvBNReLU",
    "DepthwiseSeparableConv",
    "InvertedResidual",
    "ProxylessNAS",
    "fill_skipped_blocks",
    "make_divisible",
    "reset_parameters",
]

#: An int, or a value choice (or expression of choices) that freezes to an int.
MaybeChoice = Any
NormFactory = Callable[[MaybeChoice], tnn.Module]
ActFactory = Callable[..., tnn.Module]


def _make_divisible(value: float, divisor: int, min_value: int) -> int:
    # NNI's variant of TensorFlow's rule (``round``, not ``int``): NNI-trained widths must match.
    new_value = max(min_value, round(value + divisor // 2) // divisor * divisor)
    # Never round down by more than 10%.
    return new_value + divisor if new_value < 0.9 * value else new_value


def make_divisible(value: MaybeChoice, divisor: int = 8, min_value: int | None = None) -> Any:
    """``value`` rounded to a multiple of ``divisor`` (TensorFlow's MobileNet rule).

    Channel counts of mobile networks are kept divisible by 8 for hardware efficiency; every
    width and hidden size of these spaces goes through this rule, so the published networks'
    channel counts come out exactly. ``value`` may be a value choice (or an expression of them):
    the result is then an expression that freezes to the rounded int.
    """
    low = divisor if min_value is None else min_value
    if isinstance(value, Mutable):
        rule = functools.partial(_make_divisible, divisor=divisor, min_value=low)
        return Expression(rule, [value], f"make_divisible({{}}, {divisor})")
    return _make_divisible(value, divisor, low)


def same_channels(a: MaybeChoice, b: MaybeChoice) -> bool:
    """Whether two channel counts are always equal: equal ints, or the very same choice object.

    A residual connection needs equal input and output widths for *every* sample; two different
    expressions may differ for some sample, so only identity counts (NNI's ``is`` rule).
    """
    if isinstance(a, Mutable) or isinstance(b, Mutable):
        return a is b
    return bool(a == b)


def fill_skipped_blocks(
    sample: Mapping[str, Any], max_depths: Mapping[int, int], fill: Mapping[str, Any]
) -> dict[str, Any]:
    """``sample`` with a value for the labels of blocks beyond each stage's chosen depth.

    NNI's hub lists only the blocks a published network has; a complete sample of the space also
    names the labels of the blocks it skips (they change nothing: those blocks are not built).
    They take ``fill`` (``{label suffix: value}``, appended to ``s{stage}_i{index}``).
    """
    complete = dict(sample)
    for stage, most in max_depths.items():
        for index in range(int(sample[f"s{stage}_depth"]), most):
            for suffix, value in fill.items():
                complete.setdefault(f"s{stage}_i{index}{suffix}", value)
    return complete


def _padding(kernel_size: MaybeChoice, dilation: int) -> Any:
    return (kernel_size - 1) // 2 * dilation


class ConvBNReLU(tnn.Sequential):
    """Conv, normalisation, activation: the unit every block here is made of.

    Args:
        in_channels, out_channels, kernel_size, groups: may be value choices.
        stride, dilation: ints.
        norm_layer: called with ``out_channels``; ``None`` is BatchNorm2d. ``tnn.Identity``-like
            factories returning an ``Identity`` drop the norm and give the conv a bias (TuNAS'
            head layer).
        activation_layer: called with ``inplace=True``; ``None`` is ReLU6.
    """

    def __init__(
        self,
        in_channels: MaybeChoice,
        out_channels: MaybeChoice,
        kernel_size: MaybeChoice = 3,
        stride: int = 1,
        groups: MaybeChoice = 1,
        norm_layer: NormFactory | None = None,
        activation_layer: ActFactory | None = None,
        dilation: int = 1,
    ) -> None:
        norm = (norm_layer or nn.BatchNorm2d)(out_channels)
        no_norm = isinstance(norm, tnn.Identity)
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            _padding(kernel_size, dilation),
            dilation=dilation,
            groups=groups,
            bias=no_norm,
        )
        layers: list[tnn.Module] = [conv]
        if not no_norm:
            layers.append(norm)
        activation = (activation_layer or tnn.ReLU6)(inplace=True)
        if not isinstance(activation, tnn.Identity):
            layers.append(activation)
        super().__init__(*layers)


def _identity(inplace: bool = False) -> tnn.Module:
    del inplace
    return tnn.Identity()


SqueezeExciteFactory = Callable[[MaybeChoice, MaybeChoice], tnn.Module]


class _Residual(tnn.Sequential):
    """MBConv's tail — depthwise conv, optional squeeze-excite, linear 1x1 projection — after
    ``head`` (MobileNetV2's 1x1 expansion, or nothing), with an identity shortcut when the
    stride is 1 and the widths are always equal."""

    def __init__(
        self,
        head: list[tnn.Module],
        in_channels: MaybeChoice,
        hidden: MaybeChoice,
        out_channels: MaybeChoice,
        kernel_size: MaybeChoice,
        stride: int,
        squeeze_excite: SqueezeExciteFactory | None,
        norm_layer: NormFactory | None,
        activation_layer: ActFactory | None,
    ) -> None:
        layers = [
            *head,
            *ConvBNReLU(
                hidden,
                hidden,
                kernel_size,
                stride,
                groups=hidden,
                norm_layer=norm_layer,
                activation_layer=activation_layer,
            ),
        ]
        if squeeze_excite is not None:
            layers.append(squeeze_excite(hidden, in_channels))
        layers += ConvBNReLU(
            hidden, out_channels, 1, norm_layer=norm_layer, activation_layer=_identity
        )
        super().__init__(*layers)
        self.has_skip = stride == 1 and same_channels(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return x + out if self.has_skip else out


class DepthwiseSeparableConv(_Residual):
    """Depthwise conv (+ optional squeeze-excite) then a linear pointwise conv (MBConv with
    expand ratio 1); residual when the stride is 1 and the widths are always equal."""

    def __init__(
        self,
        in_channels: MaybeChoice,
        out_channels: MaybeChoice,
        kernel_size: MaybeChoice = 3,
        stride: int = 1,
        squeeze_excite: SqueezeExciteFactory | None = None,
        norm_layer: NormFactory | None = None,
        activation_layer: ActFactory | None = None,
    ) -> None:
        super().__init__(
            [], in_channels, in_channels, out_channels, kernel_size, stride, squeeze_excite,
            norm_layer, activation_layer,
        )  # fmt: skip


class InvertedResidual(_Residual):
    """MobileNetV2's inverted residual (MBConv): 1x1 expand, depthwise, optional SE, 1x1 project.

    Args:
        in_channels, out_channels: may be value choices.
        expand_ratio: hidden width is ``make_divisible(in_channels * expand_ratio, 8)``; may be a
            value choice.
        kernel_size: of the depthwise conv; may be a value choice.
        stride: of the depthwise conv (1 or 2).
        squeeze_excite: called as ``f(hidden_channels, in_channels)``.
        norm_layer, activation_layer: as in :class:`ConvBNReLU`.
    """

    def __init__(
        self,
        in_channels: MaybeChoice,
        out_channels: MaybeChoice,
        expand_ratio: MaybeChoice,
        kernel_size: MaybeChoice = 3,
        stride: int = 1,
        squeeze_excite: SqueezeExciteFactory | None = None,
        norm_layer: NormFactory | None = None,
        activation_layer: ActFactory | None = None,
    ) -> None:
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride!r}")
        hidden = make_divisible(in_channels * expand_ratio, 8)
        expand = ConvBNReLU(
            in_channels, hidden, 1, norm_layer=norm_layer, activation_layer=activation_layer
        )
        super().__init__(
            [*expand], in_channels, hidden, out_channels, kernel_size, stride, squeeze_excite,
            norm_layer, activation_layer,
        )  # fmt: skip


def _stage_builder(
    stage: int,
    stage_input: int,
    stage_output: int,
    downsample: bool,
    norm_layer: NormFactory,
) -> Callable[[int], LayerChoice]:
    """The ``index -> LayerChoice`` factory of one searchable stage (labels ``s{stage}_i{index}``)."""

    def build(index: int) -> LayerChoice:
        first = index == 0
        candidates = {
            f"k{k}e{e}": functools.partial(
                InvertedResidual,
                stage_input if first else stage_output,
                stage_output,
                e,
                k,
                2 if first and downsample else 1,
                norm_layer=norm_layer,
            )
            for e in (3, 6)
            for k in (3, 5, 7)
        }
        return LayerChoice(candidates, label=f"s{stage}_i{index}")

    return build


@model_wrapper
class ProxylessNAS(HubSpaceMixin, tnn.Module):
    """The ProxylessNAS search space (NNI's class, arguments and labels).

    Args:
        num_labels: number of classes.
        base_widths: widths of the stem, the 7 stages and the head (9 values).
        dropout_rate: before the classifier.
        width_mult: multiplies every width (rounded to a multiple of 8).
        bn_eps, bn_momentum: of every BatchNorm (the official models use 1e-3 and 0.1).

    Labels: ``s{2..6}_depth`` (1 to 4) and ``s{2..7}_i{index}`` (``k{3,5,7}e{3,6}``).

    Example:
        >>> import retiarii
        >>> space = retiarii.ModelSpace(ProxylessNAS(num_labels=10, width_mult=0.25))
        >>> sorted(space.labels)[:3]
        ['s2_depth', 's2_i0', 's2_i1']
    """

    def __init__(
        self,
        num_labels: int = 1000,
        base_widths: Sequence[int] = (32, 16, 32, 40, 80, 96, 192, 320, 1280),
        dropout_rate: float = 0.0,
        width_mult: float = 1.0,
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if len(base_widths) != 9:
            raise ValueError(f"ProxylessNAS: base_widths needs 9 values, got {len(base_widths)}")
        widths = [make_divisible(w * width_mult, 8) for w in base_widths]
        downsamples = [True, False, True, True, True, False, True, False]
        self.num_labels = num_labels
        self.dropout_rate = dropout_rate
        norm = functools.partial(nn.BatchNorm2d, eps=bn_eps, momentum=bn_momentum)

        self.stem = ConvBNReLU(3, widths[0], stride=2, norm_layer=norm)
        blocks: list[tnn.Module] = [
            DepthwiseSeparableConv(widths[0], widths[1], 3, 1, norm_layer=norm)
        ]
        for stage in range(2, 8):
            build = _stage_builder(
                stage, widths[stage - 1], widths[stage], downsamples[stage], norm
            )
            if stage < 7:
                blocks.append(Repeat(build, (1, 4), label=f"s{stage}_depth"))
            else:  # the last stage has one block: no depth decision
                blocks.append(build(0))
        self.blocks = tnn.Sequential(*blocks)
        self.feature_mix_layer = ConvBNReLU(widths[7], widths[8], 1, norm_layer=norm)
        self.global_avg_pooling = tnn.AdaptiveAvgPool2d(1)
        self.dropout_layer = tnn.Dropout(dropout_rate)
        self.classifier = tnn.Linear(widths[8], num_labels)
        reset_parameters(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.feature_mix_layer(self.blocks(self.stem(x)))
        x = self.global_avg_pooling(x).flatten(1)
        return self.classifier(self.dropout_layer(x))

    def no_weight_decay(self) -> set[str]:
        """Parameters timm's optimiser factory should not decay (the classifier's)."""
        return {"classifier.weight", "classifier.bias"}


def reset_parameters(
    model: tnn.Module,
    model_init: str = "he_fout",
    init_div_groups: bool = False,
    bn_momentum: float | None = None,
    bn_eps: float | None = None,
) -> None:
    """The official ProxylessNAS initialisation (NNI's function), so that a network built here
    starts where the official code's does: He-normal conv weights (fan-out, or fan-in with
    ``model_init="he_fin"``; divided by the groups with ``init_div_groups``), unit BatchNorms, a
    small-normal classifier.

    Unlike NNI, BatchNorm ``momentum``/``eps`` are changed only when given: the spaces here pass
    them to the BatchNorm constructors, so that freezing a value choice keeps them.
    """
    if model_init not in ("he_fout", "he_fin"):
        raise ValueError(
            f"reset_parameters: model_init must be 'he_fout' or 'he_fin', got {model_init!r}"
        )
    for m in model.modules():
        if isinstance(m, tnn.Conv2d):
            channels = m.out_channels if model_init == "he_fout" else m.in_channels
            fan: float = m.kernel_size[0] * m.kernel_size[1] * channels
            if init_div_groups:
                fan /= m.groups
            tnn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan))
        elif isinstance(m, (tnn.BatchNorm1d, tnn.BatchNorm2d)):
            if m.affine:
                tnn.init.ones_(m.weight)
                tnn.init.zeros_(m.bias)
            if bn_momentum is not None:
                m.momentum = bn_momentum
            if bn_eps is not None:
                m.eps = bn_eps
        elif isinstance(m, tnn.Linear):
            tnn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                tnn.init.zeros_(m.bias)


register_space(
    SpaceEntry(
        name="ProxylessNAS",
        factory=ProxylessNAS,
        input_size=(3, 32, 32),
        full_input_size=(3, 224, 224),
        num_classes=10,
        test_kwargs={"num_labels": 10, "width_mult": 0.25},
    )
)

# NNI hardcodes these samples in ``ProxylessNAS.load_searched_model``; the widths of the GPU
# model come from the official release (``proxyless_gpu``).
_PROXYLESS_MOBILE = {
    "s2_depth": 2,
    "s2_i0": "k5e3",
    "s2_i1": "k3e3",
    "s3_depth": 4,
    "s3_i0": "k7e3",
    "s3_i1": "k3e3",
    "s3_i2": "k5e3",
    "s3_i3": "k5e3",
    "s4_depth": 4,
    "s4_i0": "k7e6",
    "s4_i1": "k5e3",
    "s4_i2": "k5e3",
    "s4_i3": "k5e3",
    "s5_depth": 4,
    "s5_i0": "k5e6",
    "s5_i1": "k5e3",
    "s5_i2": "k5e3",
    "s5_i3": "k5e3",
    "s6_depth": 4,
    "s6_i0": "k7e6",
    "s6_i1": "k7e6",
    "s6_i2": "k7e3",
    "s6_i3": "k7e3",
    "s7_i0": "k7e6",
}
_PROXYLESS_GPU = {
    "s2_depth": 1,
    "s2_i0": "k5e3",
    "s3_depth": 2,
    "s3_i0": "k7e3",
    "s3_i1": "k3e3",
    "s4_depth": 2,
    "s4_i0": "k7e6",
    "s4_i1": "k5e3",
    "s5_depth": 3,
    "s5_i0": "k5e6",
    "s5_i1": "k3e3",
    "s5_i2": "k5e3",
    "s6_depth": 4,
    "s6_i0": "k7e6",
    "s6_i1": "k7e6",
    "s6_i2": "k7e6",
    "s6_i3": "k5e6",
    "s7_i0": "k7e6",
}
_GPU_WIDTHS = (40, 24, 32, 56, 112, 128, 256, 432, 1728)

for _names, _sample, _kwargs, _params, _source in (
    (
        ("proxylessnas-mobile", "proxyless-mobile"),
        _PROXYLESS_MOBILE,
        {},
        4.1,
        "Cai et al., ProxylessNAS, ICLR 2019 (arXiv:1812.00332), ProxylessNAS (mobile): 4.1M "
        "params as usually cited for the released proxyless_mobile (the paper's ImageNet tables "
        "give accuracy and latency; the figure was not re-checked against them)",
    ),
    (
        ("proxylessnas-gpu", "proxyless-gpu"),
        _PROXYLESS_GPU,
        {"base_widths": _GPU_WIDTHS},
        7.1,
        "Cai et al., ProxylessNAS, ICLR 2019 (arXiv:1812.00332), ProxylessNAS (GPU): 7.1M "
        "params as usually cited for the released proxyless_gpu (the paper's ImageNet tables "
        "give accuracy and latency; the figure was not re-checked against them)",
    ),
):
    for _name in _names:  # ours, and NNI's name (``proxyless-*``) for NNI users' code
        register_architecture(
            ArchitectureEntry(
                name=_name,
                space=ProxylessNAS,
                space_kwargs=_kwargs,
                sample=fill_skipped_blocks(_sample, dict.fromkeys(range(2, 7), 4), {"": "k3e3"}),
                paper_params=_params,
                input_size=(3, 224, 224),
                num_classes=1000,
                source=_source,
            )
        )
