"""Published architectures of the NDS cell spaces: DARTS-V2, AmoebaNet-A, NASNet-A, PNASNet-5,
ENAS, as samples in NNI's labels with the papers' CIFAR-10 configurations.

The cells are the papers' (the genotypes every DARTS-style codebase reproduces); the network
around them is NDS's, which is DARTS's own but differs in details from the networks NASNet,
PNAS and ENAS trained. So only DARTS-V2 and AmoebaNet-A come within 2% of their papers'
parameter counts; the others say why in ``params_gap`` (see the registry).
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

#: NASNet-A (Zoph et al.'s cell figure), as DARTS's ``genotypes.py`` transcribes it.
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
register_architecture(
    ArchitectureEntry(
        name="nasnet-a",
        space=NASNet,
        space_kwargs={"width": 32, "num_cells": 20, **_CIFAR},
        sample=NASNET_A_SAMPLE,
        paper_params=3.3,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Zoph et al., NASNet (CVPR 2018), Table 1: NASNet-A (6 @ 768), 3.3M",
        check_kwargs=_CHECK,
        params_gap="most likely because NASNet-A's normal cell also concatenates its input "
        "(6 tensors: 768 = 6 x 4 x 32 penultimate filters) while the NDS cell outputs only its "
        "5 loose-end nodes",
    )
)
register_architecture(
    ArchitectureEntry(
        name="pnas",
        space=PNAS,
        space_kwargs={"width": 48, "num_cells": 11, **_CIFAR},
        sample=PNAS_SAMPLE,
        paper_params=3.2,
        input_size=(3, 32, 32),
        num_classes=10,
        source="Liu et al., Progressive NAS (ECCV 2018), Table 1: PNASNet-5 (N=3, F=48), 3.2M",
        check_kwargs=_CHECK,
        params_gap="the NDS network with PNASNet-5's cell and the paper's N=3, F=48 is larger "
        "than the paper's count; we have not found which detail of the original differs",
    )
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
        params_gap="the NDS network with ENAS's final configuration (15 normal cells, 36 "
        "filters) is smaller; ENAS's own network (its TensorFlow code) differs from NDS's in "
        "several details and we have not pinned down which accounts for the gap",
    )
)
