"""Published architectures of the NDS cell spaces: DARTS-V2, AmoebaNet-A, NASNet-A, PNASNet-5,
ENAS, as samples in NNI's labels with the papers' CIFAR-10 configurations.

The cells are the papers' (the genotypes every DARTS-style codebase reproduces); the network
around them is NDS's, which is DARTS's own. Where the paper's network differs, the entry says how,
from the authors' code: NASNet-A's cells concatenate other nodes than loose ends (TF slim's
``used_hiddenstates``, given here as ``normal_concat``/``reduce_concat``), and PNASNet-5's ``N``
counts the reduction cell of a stage (9 cells for N=3). ENAS's 4.6M is not reproduced by its own
released code; its entry says what was checked (``params_gap``, see the registry).
"""

from __future__ import annotations

from typing import Any

from .nasnet import DARTS, ENAS, PNAS, AmoebaNet, NASNet
from .registry import ArchitectureEntry, register_architecture

__all__ = [
    "AMOEBA_A_SAMPLE",
    "DARTS_V2_SAMPLE",
    "ENAS_SAMPLE",
    "NASNET_A_SAMPLE",
    "PNAS_SAMPLE",
    "genotype_sample",
]

Genotype = list[tuple[str, int]]


def genotype_sample(normal: Genotype, reduce: Genotype) -> dict[str, Any]:
    """A sample in NNI's labels from a DARTS-style genotype: ``(operation, input node)`` pairs,
    two per intermediate node in order (node 2 first), for the normal and the reduction cell."""
    sample: dict[str, Any] = {}
    for cell, genotype in (("normal", normal), ("reduce", reduce)):
        for position, (op, input_node) in enumerate(genotype):
            node, j = 2 + position // 2, position % 2
            sample[f"{cell}/op_{node}_{j}"] = op
            sample[f"{cell}/input_{node}_{j}"] = [input_node]
    return sample


#: DARTS (second order), as NNI's hub writes it (DARTS paper, Figures 4 and 5).
DARTS_V2_SAMPLE: dict[str, Any] = {
    "normal/op_2_0": "sep_conv_3x3",
    "normal/op_2_1": "sep_conv_3x3",
    "normal/input_2_0": [0],
    "normal/input_2_1": [1],
    "normal/op_3_0": "sep_conv_3x3",
    "normal/op_3_1": "sep_conv_3x3",
    "normal/input_3_0": [0],
    "normal/input_3_1": [1],
    "normal/op_4_0": "sep_conv_3x3",
    "normal/op_4_1": "skip_connect",
    "normal/input_4_0": [1],
    "normal/input_4_1": [0],
    "normal/op_5_0": "skip_connect",
    "normal/op_5_1": "dil_conv_3x3",
    "normal/input_5_0": [0],
    "normal/input_5_1": [2],
    "reduce/op_2_0": "max_pool_3x3",
    "reduce/op_2_1": "max_pool_3x3",
    "reduce/input_2_0": [0],
    "reduce/input_2_1": [1],
    "reduce/op_3_0": "skip_connect",
    "reduce/op_3_1": "max_pool_3x3",
    "reduce/input_3_0": [2],
    "reduce/input_3_1": [1],
    "reduce/op_4_0": "max_pool_3x3",
    "reduce/op_4_1": "skip_connect",
    "reduce/input_4_0": [0],
    "reduce/input_4_1": [2],
    "reduce/op_5_0": "skip_connect",
    "reduce/op_5_1": "max_pool_3x3",
    "reduce/input_5_0": [2],
    "reduce/input_5_1": [1],
}

#: NASNet-A (Zoph et al.'s cell figure), as DARTS's ``genotypes.py`` transcribes it (which
#: matches TF slim's ``NasNetANormalCell``/``NasNetAReductionCell``: slim's hidden state 0 is our
#: input 1, the previous cell, and its state 1 our input 0, the one before).
NASNET_A_SAMPLE = genotype_sample(
    normal=[
        ("sep_conv_5x5", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 0),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 0),
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
    ],
    reduce=[
        ("sep_conv_5x5", 1),
        ("sep_conv_7x7", 0),
        ("max_pool_3x3", 1),
        ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1),
        ("sep_conv_5x5", 0),
        ("skip_connect", 3),
        ("avg_pool_3x3", 2),
        ("sep_conv_3x3", 2),
        ("max_pool_3x3", 1),
    ],
)

#: AmoebaNet-A (Real et al.'s cell figure), as DARTS's ``genotypes.py`` transcribes it.
AMOEBA_A_SAMPLE = genotype_sample(
    normal=[
        ("avg_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 2),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 3),
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 1),
    ],
    reduce=[
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("max_pool_3x3", 0),
        ("sep_conv_7x7", 2),
        ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("conv_7x1_1x7", 0),
        ("sep_conv_3x3", 5),
    ],
)

_PNAS_CELL: Genotype = [
    ("sep_conv_5x5", 0),
    ("max_pool_3x3", 0),
    ("sep_conv_7x7", 1),
    ("max_pool_3x3", 1),
    ("sep_conv_5x5", 1),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 4),
    ("max_pool_3x3", 1),
    ("sep_conv_3x3", 0),
    ("skip_connect", 1),
]
#: PNASNet-5 (Liu et al.'s cell figure; one cell, used as the normal and the reduction cell), as
#: PNASNet.pytorch's ``genotypes.py`` transcribes it.
PNAS_SAMPLE = genotype_sample(normal=_PNAS_CELL, reduce=_PNAS_CELL)

#: ENAS's micro cells (Pham et al.'s cell figures), as NSGA-Net's ``micro_genotypes.py``
#: transcribes them.
ENAS_SAMPLE = genotype_sample(
    normal=[
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
        ("sep_conv_5x5", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 1),
        ("avg_pool_3x3", 0),
    ],
    reduce=[
        ("sep_conv_5x5", 0),
        ("avg_pool_3x3", 1),
        ("sep_conv_3x3", 1),
        ("avg_pool_3x3", 1),
        ("avg_pool_3x3", 1),
        ("sep_conv_3x3", 1),
        ("sep_conv_5x5", 4),
        ("avg_pool_3x3", 1),
        ("sep_conv_3x3", 5),
        ("sep_conv_5x5", 0),
    ],
)

# The papers' CIFAR-10 networks: N normal cells per stage and F channels in the first stage are
# num_cells = 3N + 2 (two reduction cells) and width = F. The samples' labels do not depend on
# the width or the depth, so the test checks them against a small space.
_CIFAR = {"dataset": "cifar"}
_CHECK = {"width": 4, "num_cells": 3}

register_architecture(
    ArchitectureEntry(
        name="darts-v2",
        space=DARTS,
        space_kwargs={"width": 36, "num_cells": 20, **_CIFAR},
        sample=DARTS_V2_SAMPLE,
        paper_params=3.3,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Liu et al., DARTS (ICLR 2019), Table 1: DARTS (second order) + cutout, 3.3M",
        check_kwargs=_CHECK,
    )
)
register_architecture(
    ArchitectureEntry(
        name="amoeba-a",
        space=AmoebaNet,
        space_kwargs={"width": 36, "num_cells": 20, **_CIFAR},
        sample=AMOEBA_A_SAMPLE,
        paper_params=3.2,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Real et al., Regularized Evolution (AAAI 2019), CIFAR-10 results: AmoebaNet-A "
        "(N=6, F=36), 3.2M",
        check_kwargs=_CHECK,
    )
)
#: What NASNet-A's cells concatenate (TF slim, ``nets/nasnet/nasnet_utils.py``: a cell outputs
#: the hidden states its ``used_hiddenstates`` marks 0). The normal cell: ``[1, 0, 0, 0, 0, 0, 0]``,
#: so the previous-previous input (slim's state 1, our node 0, after its 1x1 convolution) and all
#: five nodes (768 = 6 x 4 x 32 penultimate filters, the paper's "6 @ 768"); the reduction cell:
#: ``[1, 1, 1, 0, 0, 0, 0]``, nodes 3-6 (node 3 is also read by node 5, so not a loose end).
NASNET_A_CONCAT: dict[str, Any] = {
    "normal_concat": [0, 2, 3, 4, 5, 6],
    "reduce_concat": [3, 4, 5, 6],
}

register_architecture(
    ArchitectureEntry(
        name="nasnet-a",
        space=NASNet,
        space_kwargs={"width": 32, "num_cells": 20, **_CIFAR, **NASNET_A_CONCAT},
        sample=NASNET_A_SAMPLE,
        paper_params=3.3,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Zoph et al., NASNet (CVPR 2018), Table 1: NASNet-A (6 @ 768), 3.3M; network: "
        "TF slim nets/nasnet (cifar_config: N=6, 32 filters; the cells' used_hiddenstates)",
        check_kwargs=_CHECK,
    )
)
# PNASNet's N counts the stride-2 cell that opens stages 2 and 3: TF slim's pnasnet.py builds
# num_cells = 3N cells in all (large_imagenet_config: N=4, 12 cells; mobile: N=3, 9 cells), and
# PNAS's first author answers that the CIFAR-10 network has 9 cells, not 11
# (github.com/chenxi116/PNASNet.pytorch/issues/1).
register_architecture(
    ArchitectureEntry(
        name="pnas",
        space=PNAS,
        space_kwargs={"width": 48, "num_cells": 9, **_CIFAR},
        sample=PNAS_SAMPLE,
        paper_params=3.2,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Liu et al., Progressive NAS (ECCV 2018), Table 1: PNASNet-5 (N=3, F=48), 3.2M; "
        "9 cells (3N, reduction cells included) as in TF slim's pnasnet.py",
        check_kwargs=_CHECK,
    )
)
# Checked against ENAS's released code (melodyguan/enas, src/cifar10/micro_child.py, the fixed-arc
# network of scripts/cifar10_micro_final.sh: num_layers=15, out_filters=36, so 15 normal + 2
# reduction cells), counting its variables by their shapes as its own count does (aux head
# excluded: "aux_head" not in var.name). That network is NDS's except that `_fixed_layer` adds one
# ReLU-1x1 conv-BN ("layer_base") on the previous cell's output, and that `_fixed_combine` would
# also concatenate an unused cell input (none is unused in these cells).
_ENAS_GAP = (
    "ENAS's own network (melodyguan/enas micro_child.py, num_layers=15, out_filters=36, counted "
    "by variable shapes without the aux head, as its code counts) has 3.436M parameters with "
    "these cells (3.271M here: NDS lacks its extra 1x1 'layer_base' conv per cell) and 3.894M "
    "with the arc of its cifar10_micro_final.sh; adding the 0.495M aux head gives 3.931M / "
    "4.389M (benchmarks/hub_paper_counts.py). None is within 2% of the paper's 4.6M, so no "
    "faithful network reaches it"
)

register_architecture(
    ArchitectureEntry(
        name="enas",
        space=ENAS,
        space_kwargs={"width": 36, "num_cells": 17, **_CIFAR},
        sample=ENAS_SAMPLE,
        paper_params=4.6,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Pham et al., ENAS (ICML 2018), Table 2: micro search space + cutout, 4.6M "
        "(final model: 15 normal cells, 36 filters)",
        check_kwargs=_CHECK,
        params_gap=_ENAS_GAP,
    )
)
