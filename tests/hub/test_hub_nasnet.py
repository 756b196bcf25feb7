"""The NDS cell spaces: NNI's labels and samples, loose-end channels, the supernet's stage
alignment, the auxiliary head, ImageNet stems and drop-path (the registry test covers the rest)."""

from __future__ import annotations

import random

import pytest
import torch

import retiarii
from retiarii.hub.pytorch import DARTS, ENAS, NDS, NASNet
from retiarii.hub.pytorch.nasnet import DropPath
from retiarii.hub.pytorch.nasnet_architectures import (
    DARTS_V2_SAMPLE,
    ENAS_SAMPLE,
    NASNET_A_CONCAT,
    NASNET_A_SAMPLE,
)
from retiarii.nn.pytorch import MutableModule
from retiarii.oneshot.pytorch.differentiable import DifferentiableSupernet
from retiarii.oneshot.pytorch.sampling import PathSamplingSupernet

SMALL = {"width": (4, 8), "num_cells": (3, 5), "dataset": "cifar"}


@pytest.fixture(scope="module")
def darts_space() -> retiarii.ModelSpace:
    return retiarii.ModelSpace(DARTS(**SMALL))


def test_labels_are_nnis(darts_space: retiarii.ModelSpace) -> None:
    labels = darts_space.labels
    assert labels[:2] == ["width", "depth"]
    cells = [f"{cell}/{kind}_{n}_{j}" for cell in ("normal", "reduce") for n in range(2, 6)
             for kind in ("op", "input") for j in range(2)]  # fmt: skip
    assert sorted(labels[2:]) == sorted(cells)
    spec = darts_space.to_json()
    assert spec["width"] == {"_type": "choice", "_value": [4, 8]}
    assert spec["normal/op_2_0"]["_value"] == DARTS.DARTS_OPS
    assert spec["reduce/input_5_1"]["_value"] == {"candidates": [0, 1, 2, 3, 4], "n_chosen": 1}


def test_nni_darts_v2_dict_loads_with_fixed_arch() -> None:
    sample = {**DARTS_V2_SAMPLE, "width": 8, "depth": 5}
    with retiarii.fixed_arch(sample, verbose=False):
        model = DARTS(**SMALL)
    assert not any(isinstance(m, MutableModule) for m in model.modules())
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # stages of 1, 2 and 2 cells, the first of stages 2 and 3 a reduction cell
    assert [len(stage) for stage in model.stages] == [1, 2, 2]


def test_nni_2x_bare_input_indices_build_the_same_network() -> None:
    # NNI 2.x's hub wrote 'normal/input_2_0': 0, NNI 3's writes [0]: both load, to one network
    bare = {k: v[0] if "/input_" in k else v for k, v in DARTS_V2_SAMPLE.items()}
    shapes = []
    for sample in (DARTS_V2_SAMPLE, bare):
        with retiarii.fixed_arch(sample, verbose=False):
            model = DARTS(width=4, num_cells=5)
        shapes.append({k: tuple(v.shape) for k, v in model.state_dict().items()})
    assert shapes[0] == shapes[1]


def test_loose_end_cells_size_the_next_layers() -> None:
    with retiarii.fixed_arch(ENAS_SAMPLE, verbose=False):
        model = ENAS(width=4, num_cells=5)
    reduce_cell = model.stages[1][0]
    assert reduce_cell.output_node_indices == [2, 3, 6]  # nodes 4 and 5 are read by others
    normal_cell = model.stages[2][1]
    assert normal_cell.output_node_indices == [2, 3, 4, 5, 6]
    assert model.classifier.in_features == 4 * 4 * 5
    # the normal cell after it reads 3 loose ends of 16 channels
    assert normal_cell.preprocessor.pre1[1].in_channels == 4 * 4 * 3
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_concat_lists_fix_what_frozen_cells_output() -> None:
    # NASNet-A as TF slim builds it: the normal cell also outputs its previous-previous input
    with retiarii.fixed_arch(NASNET_A_SAMPLE, verbose=False):
        model = NASNet(width=4, num_cells=5, **NASNET_A_CONCAT)
        loose = NASNet(width=4, num_cells=5)  # NNI's rule: loose ends only
    normal, reduce_cell = model.stages[0][0], model.stages[1][0]
    assert normal.output_node_indices == [0, 2, 3, 4, 5, 6]
    assert reduce_cell.output_node_indices == [3, 4, 5, 6]
    assert loose.stages[1][0].output_node_indices == [4, 5, 6]
    assert model.classifier.in_features == 4 * 4 * 6  # the last normal cell: 6 tensors
    x = torch.randn(1, 3, 32, 32)
    assert model(x).shape == (1, 10)
    # the space is NNI's: same labels and size, cells of the supernet output all their nodes
    space, plain = (retiarii.ModelSpace(NASNet(width=4, num_cells=5, **kw))
                    for kw in (NASNET_A_CONCAT, {}))  # fmt: skip
    assert space.labels == plain.labels and space.size == plain.size
    assert space.freeze(NASNET_A_SAMPLE).stages[0][0].output_node_indices == [0, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match=r"normal_concat must be distinct node indices in 0\.\.6"):
        NASNet(width=4, num_cells=5, normal_concat=[0, 7])


def test_path_sampling_supernet_runs_every_width_and_depth(
    darts_space: retiarii.ModelSpace,
) -> None:
    # depth 3 runs one cell per stage: the stage's alignment gives the next stage its input shape
    torch.manual_seed(0)
    model = DARTS(**SMALL)
    supernet = PathSamplingSupernet(model)
    model.train()
    for width, depth in [(4, 3), (8, 3), (4, 5), (8, 5)]:
        supernet.set_sample({**darts_space.random(seed=depth), "width": width, "depth": depth})
        model(torch.randn(2, 3, 32, 32)).sum().backward()


def test_darts_supernet_mixes_the_aligned_states_of_each_depth() -> None:
    # stage 1 has one or two cells (num_cells 3 or 5): each depth's [s0, s1] is aligned, then mixed
    torch.manual_seed(0)
    model = DARTS(**SMALL)
    supernet = DifferentiableSupernet(model)
    model.eval()
    stage = model.stages[1]
    mixed = stage.cells
    with torch.no_grad():
        supernet.alphas["depth"].copy_(torch.tensor([0.3, -0.2]))
        stem = model.stem(torch.randn(2, 3, 8, 8))
        states = model.stages[0]([stem, stem])
        w = torch.softmax(supernet.alphas["depth"], -1)
        after_one = mixed.blocks[0](states)  # [stage input, cell 1]: s0 needs the alignment
        after_two = mixed.blocks[1](after_one)
        assert after_one[0].shape != after_two[0].shape
        expected = [
            w[0] * stage.align(after_one[0]) + w[1] * after_two[0],
            w[0] * after_one[1] + w[1] * after_two[1],
        ]
        got = stage(states)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_freezing_an_nds_space_rebuilds_it_without_copying(monkeypatch: pytest.MonkeyPatch) -> None:
    model = DARTS(**SMALL)
    space = retiarii.ModelSpace(model)
    monkeypatch.setattr(
        type(model), "__deepcopy__", lambda self, memo: pytest.fail("copied"), raising=False
    )
    frozen = space.freeze(space.random(seed=0))
    assert not set(map(id, frozen.parameters())) & set(map(id, model.parameters()))


def test_darts_supernet_on_a_fixed_size_space() -> None:
    # In the space every cell outputs all its nodes, so DARTS relaxes even a loose-end space.
    model = ENAS(width=4, num_cells=3)
    supernet = DifferentiableSupernet(model)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    sample = supernet.export()
    retiarii.ModelSpace(ENAS(width=4, num_cells=3)).validate(sample)


def test_auxiliary_head_only_for_a_fixed_architecture() -> None:
    with pytest.raises(ValueError, match="auxiliary_loss=True"):
        DARTS(width=4, num_cells=3, auxiliary_loss=True)
    with retiarii.fixed_arch(DARTS_V2_SAMPLE, verbose=False):
        model = DARTS(width=8, num_cells=5, auxiliary_loss=True)
    model.train()
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    model.eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_imagenet_stems() -> None:
    with retiarii.fixed_arch(DARTS_V2_SAMPLE, verbose=False):
        model = DARTS(width=8, num_cells=3, dataset="imagenet")
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_drop_path_wraps_every_operation_but_identity() -> None:
    with retiarii.fixed_arch(DARTS_V2_SAMPLE, verbose=False):
        model = DARTS(width=4, num_cells=3, drop_path_prob=0.2)
    drops = [m for m in model.modules() if isinstance(m, DropPath)]
    # per normal cell 6 of 8 operations are not identity skips; a reduction cell's skips on
    # cell inputs are FactorizedReduce (dropped), its 3 skips from nodes are identities
    assert len(drops) == 6 + 5 + 5
    model.set_drop_path_prob(0.5)
    assert all(m.drop_prob == 0.5 for m in drops)
    model.train()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_nds_rejects_unknown_arguments() -> None:
    with pytest.raises(ValueError, match="unknown operations"):
        NDS(["conv_9x9"], width=4, num_cells=3)
    with pytest.raises(ValueError, match="dataset"):
        DARTS(width=4, num_cells=3, dataset="mnist")
    with pytest.raises(ValueError, match="merge_op"):
        NDS(["skip_connect"], merge_op="concat", width=4, num_cells=3)
    with pytest.raises(ValueError, match="even"):
        DARTS(width=(4, 5), num_cells=3, dataset="imagenet")


def test_random_samples_of_a_space_validate(darts_space: retiarii.ModelSpace) -> None:
    rng = random.Random(0)
    for _ in range(3):
        sample = darts_space.random(rng)
        assert darts_space.validate(sample) == sample


def test_nni_classmethod_load_searched_model() -> None:
    model = DARTS.load_searched_model("darts-v2")
    assert sum(p.numel() for p in model.parameters()) == 3_349_342  # DARTS's train.py: 3.349342M
    with pytest.raises(ValueError, match="architecture of ENAS"):
        DARTS.load_searched_model("enas")


def test_nni_2x_fixed_arch_factory() -> None:
    model = DARTS.fixed_arch(DARTS_V2_SAMPLE)(width=4, num_cells=3)
    assert not any(isinstance(m, MutableModule) for m in model.modules())
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)
