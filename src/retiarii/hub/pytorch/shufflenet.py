"""The ShuffleNetV2-based space of Single Path One-Shot (Guo et al., ECCV 2020).

`SPOS <https://arxiv.org/abs/1904.00420>`__ searches 20 ShuffleNetV2 blocks (4 + 4 + 8 + 4 in four
stages). Each block, labelled ``layer_{1..20}``, is one of four candidates: ``k3``, ``k5``, ``k7``
(a ShuffleNetV2 unit with that depthwise kernel) or ``xcep`` (three depthwise separable convs,
"choice_x"), so the space has ``4 ** 20`` networks. With ``channel_search=True`` each block also
chooses the width of its first pointwise conv, ``channel_{1..20}``, among 0.2x .. 1.6x of the
default: a value choice shared by the block's four candidates, weight-sliced by a path-sampling
supernet.

The published SPOS network (``load_searched_model('spos')``) is the block search's result at the
default widths.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as tnn

from ...nn import pytorch as nn
from ...nn.pytorch import LayerChoice, ValueChoice
from ...nn.pytorch.wrappers import model_wrapper
from .hub_space import HubSpaceMixin
from .registry import ArchitectureEntry, SpaceEntry, register_architecture, register_space

__all__ = ["ShuffleNetBlock", "ShuffleNetSpace", "ShuffleXceptionBlock"]


class ShuffleNetBlock(tnn.Module):
    """A ShuffleNetV2 unit whose main branch is a sequence of pointwise (``p``) and depthwise
    (``d``) convs.

    With stride 1 the input (``in_channels``) is split in two halves by a channel shuffle: one is
    passed through, the other goes through the main branch. With stride 2 the whole input goes
    through both the main branch and a projection branch (depthwise + pointwise). The outputs are
    concatenated to ``out_channels``.

    Args:
        in_channels, out_channels: ints.
        mid_channels: width of the main branch's inner convs; may be a value choice.
        kernel_size: of the depthwise convs (3, 5 or 7).
        stride: 1 or 2.
        sequence: the main branch, e.g. ``"pdp"`` (ShuffleNetV2) or ``"dpdpdp"`` (Xception).
        affine: BatchNorms with affine parameters.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: Any,
        *,
        kernel_size: int,
        stride: int,
        sequence: str = "pdp",
        affine: bool = True,
    ) -> None:
        super().__init__()
        if stride not in (1, 2) or kernel_size not in (3, 5, 7):
            raise ValueError(
                f"ShuffleNetBlock: stride must be 1 or 2 and kernel_size 3, 5 or 7, got "
                f"{stride!r} and {kernel_size!r}"
            )
        self.stride = stride
        self.channels = in_channels // 2 if stride == 1 else in_channels
        main_out = out_channels - self.channels
        if main_out <= 0:
            raise ValueError(
                f"ShuffleNetBlock: out_channels={out_channels} leaves no channels for the main "
                f"branch (the shortcut takes {self.channels})"
            )
        self.branch_main = tnn.Sequential(
            *_point_depth_convs(
                sequence, self.channels, mid_channels, main_out, kernel_size, stride, affine
            )
        )
        # an empty Sequential when stride is 1 keeps NNI's state_dict keys
        self.branch_proj = tnn.Sequential()
        if stride == 2:
            c, pad = self.channels, kernel_size // 2
            self.branch_proj = tnn.Sequential(
                tnn.Conv2d(c, c, kernel_size, stride, pad, groups=c, bias=False),
                tnn.BatchNorm2d(c, affine=affine),
                tnn.Conv2d(c, c, 1, 1, 0, bias=False),
                tnn.BatchNorm2d(c, affine=affine),
                tnn.ReLU(inplace=True),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            proj = self.branch_proj(x)
        else:
            proj, x = _channel_shuffle(x)
        return torch.cat((proj, self.branch_main(x)), 1)


def _point_depth_convs(
    sequence: str,
    channels: int,
    mid_channels: Any,
    out_channels: int,
    kernel_size: int,
    stride: int,
    affine: bool,
) -> list[tnn.Module]:
    """The main branch: the first ``p`` widens to ``mid_channels``, the last ``p`` projects to
    ``out_channels``, ``d`` keeps the width (the first ``d`` has the block's stride)."""
    if not sequence or sequence[-1] != "p" or set(sequence) - {"p", "d"}:
        raise ValueError(
            f"ShuffleNetBlock: sequence must be made of 'p' and 'd' and end with 'p', got {sequence!r}"
        )
    layers: list[tnn.Module] = []
    previous: Any = channels
    current: Any = channels
    first_point = first_depth = True
    for i, token in enumerate(sequence):
        if i + 1 == len(sequence):
            current = out_channels
        elif token == "p" and first_point:
            current = mid_channels
        if token == "d":
            layers += [
                nn.Conv2d(
                    previous,
                    current,
                    kernel_size,
                    stride if first_depth else 1,
                    kernel_size // 2,
                    groups=current,
                    bias=False,
                ),
                nn.BatchNorm2d(current, affine=affine),
            ]
            first_depth = False
        else:
            layers += [
                nn.Conv2d(previous, current, 1, 1, 0, bias=False),
                nn.BatchNorm2d(current, affine=affine),
                tnn.ReLU(inplace=True),
            ]
            first_point = False
        previous = current
    return layers


def _channel_shuffle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``x`` into its even and odd channels (ShuffleNetV2's shuffle, then split)."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch * channels // 2, 2, height * width).permute(1, 0, 2)
    x = x.reshape(2, -1, channels // 2, height, width)
    return x[0], x[1]


class ShuffleXceptionBlock(ShuffleNetBlock):
    """SPOS' ``choice_x`` block: three 3x3 depthwise separable convs in the main branch."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: Any,
        *,
        stride: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            mid_channels,
            kernel_size=3,
            stride=stride,
            sequence="dpdpdp",
            affine=affine,
        )


def _choice_block(
    in_channels: int, out_channels: int, mid: Any, stride: int, affine: bool, label: str
) -> LayerChoice:
    """One searchable block: ``k3``, ``k5``, ``k7`` or ``xcep`` (factories: ``fixed_arch`` builds
    only the chosen one)."""
    candidates: dict[str, Callable[[], tnn.Module]] = {
        f"k{k}": functools.partial(
            ShuffleNetBlock,
            in_channels,
            out_channels,
            mid,
            kernel_size=k,
            stride=stride,
            affine=affine,
        )
        for k in (3, 5, 7)
    }
    candidates["xcep"] = functools.partial(
        ShuffleXceptionBlock, in_channels, out_channels, mid, stride=stride, affine=affine
    )
    return LayerChoice(candidates, label=label)


@model_wrapper
class ShuffleNetSpace(HubSpaceMixin, tnn.Module):
    """The SPOS search space (NNI's class, arguments and labels).

    Args:
        num_labels: number of classes.
        channel_search: also search each block's mid width (``channel_{i}``, 0.2x .. 1.6x).
        affine: BatchNorms of the blocks and the last conv with affine parameters.
        stage_repeats: blocks per stage (retiarii's addition, keyword only; SPOS' default).
        stage_out_channels: widths of the first conv, the four stages and the last conv
            (retiarii's addition, keyword only; SPOS' default). Smaller values make test-sized
            spaces; labels do not change.
    """

    def __init__(
        self,
        num_labels: int = 1000,
        channel_search: bool = False,
        affine: bool = True,
        *,
        stage_repeats: Sequence[int] = (4, 4, 8, 4),
        stage_out_channels: Sequence[int] = (16, 64, 160, 320, 640, 1024),
    ) -> None:
        super().__init__()
        if len(stage_out_channels) != len(stage_repeats) + 2:
            raise ValueError(
                "ShuffleNetSpace: stage_out_channels needs one width per stage plus the first "
                f"and last convs ({len(stage_repeats) + 2}), got {len(stage_out_channels)}"
            )
        self.num_labels = num_labels
        self.channel_search = channel_search
        self.affine = affine
        self.stage_repeats = list(stage_repeats)
        self.stage_out_channels = [-1, *stage_out_channels]  # NNI's indexing

        out_channels = stage_out_channels[0]
        self.first_conv = tnn.Sequential(
            tnn.Conv2d(3, out_channels, 3, 2, 1, bias=False),
            tnn.BatchNorm2d(out_channels),
            tnn.ReLU(inplace=True),
        )
        blocks: list[tnn.Module] = []
        index = 0
        for stage, repeats in enumerate(stage_repeats):
            for block in range(repeats):
                index += 1
                in_channels, out_channels = out_channels, stage_out_channels[stage + 1]
                stride = 2 if block == 0 else 1
                base_mid = out_channels // 2
                mid: Any = base_mid
                if channel_search:
                    widths = [int(base_mid * (0.2 * k)) for k in range(1, 9)]
                    mid = ValueChoice(widths, label=f"channel_{index}")
                blocks.append(
                    _choice_block(in_channels, out_channels, mid, stride, affine, f"layer_{index}")
                )
        self.features = tnn.Sequential(*blocks)
        last = stage_out_channels[-1]
        self.conv_last = tnn.Sequential(
            tnn.Conv2d(out_channels, last, 1, 1, 0, bias=False),
            tnn.BatchNorm2d(last, affine=affine),
            tnn.ReLU(inplace=True),
        )
        self.globalpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = tnn.Dropout(0.1)
        self.classifier = tnn.Sequential(tnn.Linear(last, num_labels, bias=False))
        self._initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_last(self.features(self.first_conv(x)))
        x = self.dropout(self.globalpool(x)).flatten(1)
        return self.classifier(x)

    def _initialize_weights(self) -> None:
        """SPOS' initialisation (small normal weights, BatchNorm bias 1e-4)."""
        for name, m in self.named_modules():
            if isinstance(m, tnn.Conv2d):
                std = 0.01 if name.startswith("first") else 1.0 / m.weight.shape[1]
                tnn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    tnn.init.zeros_(m.bias)
            elif isinstance(m, (tnn.BatchNorm1d, tnn.BatchNorm2d)):
                if m.weight is not None:
                    tnn.init.ones_(m.weight)
                    tnn.init.constant_(m.bias, 1e-4)
                if m.running_mean is not None:
                    tnn.init.zeros_(m.running_mean)
            elif isinstance(m, tnn.Linear):
                tnn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    tnn.init.zeros_(m.bias)


register_space(
    SpaceEntry(
        name="ShuffleNetSpace",
        factory=ShuffleNetSpace,
        input_size=(3, 32, 32),
        full_input_size=(3, 224, 224),
        num_classes=10,
        test_kwargs={
            "num_labels": 10,
            "channel_search": True,
            "stage_repeats": (2, 1),
            "stage_out_channels": (8, 16, 32, 64),
        },
    )
)

# NNI hardcodes this sample in ``ShuffleNetSpace.load_searched_model('spos')`` (converted from
# the official release, megvii-model/SinglePathOneShot). NNI's converted weights for it expect
# BGR images in 0..255 without normalisation, as the official evaluation feeds them.
_SPOS = {
    "layer_1": "k7",
    "layer_2": "k5",
    "layer_3": "k3",
    "layer_4": "k5",
    "layer_5": "k7",
    "layer_6": "k3",
    "layer_7": "k7",
    "layer_8": "k3",
    "layer_9": "k7",
    "layer_10": "k3",
    "layer_11": "k7",
    "layer_12": "xcep",
    "layer_13": "k3",
    "layer_14": "k3",
    "layer_15": "k3",
    "layer_16": "k3",
    "layer_17": "xcep",
    "layer_18": "k7",
    "layer_19": "xcep",
    "layer_20": "xcep",
}

register_architecture(
    ArchitectureEntry(
        name="spos",
        space=ShuffleNetSpace,
        space_kwargs={},
        sample=_SPOS,
        paper_params=3.5,
        input_size=(3, 224, 224),
        num_classes=1000,
        source=(
            "Guo et al., Single Path One-Shot NAS (arXiv:1904.00420); the official release "
            "(megvii-model/SinglePathOneShot README): architecture (2, 1, 0, 1, 2, 0, 2, 0, 2, 0, "
            "2, 3, 0, 0, 0, 0, 3, 2, 3, 3), 323M FLOPs, 3.5M params"
        ),
    )
)
