"""The AutoFormer space: NNI's labels, published architectures, and a weight-sliced supernet
whose every path computes what the frozen subnet computes."""

from __future__ import annotations

import random

import pytest
import torch

import retiarii
import retiarii.hub.pytorch as hub
from retiarii.hub.pytorch import AutoformerSpace
from retiarii.oneshot.pytorch.sampling import PathSamplingSupernet

SMALL = {
    "search_embed_dim": (16, 24),
    "search_mlp_ratio": (1.0, 1.5),
    "search_num_heads": (1, 2),
    "search_depth": (1, 2),
    "img_size": 32,
    "patch_size": 8,
    "num_classes": 5,
    "qkv_bias": True,
}


def test_labels_are_nnis() -> None:
    space = retiarii.ModelSpace(AutoformerSpace(**SMALL))
    assert set(space.labels) == {
        "embed_dim",
        "depth",
        "mlp_ratio_0",
        "mlp_ratio_1",
        "num_head_0",
        "num_head_1",
    }
    assert space.size == 2**6


def test_a_frozen_subnet_has_the_sampled_sizes() -> None:
    space = retiarii.ModelSpace(AutoformerSpace(**SMALL))
    sample = {
        "embed_dim": 16,
        "depth": 1,
        "mlp_ratio_0": 1.5,
        "num_head_0": 2,
        "mlp_ratio_1": 1.0,
        "num_head_1": 1,
    }
    model = space.freeze(sample)
    assert len(model.blocks) == 1
    block = model.blocks[0]
    assert (block.fc1.in_features, block.fc1.out_features) == (16, 24)
    assert block.attn.q.out_features == 2 * 64
    assert model.cls_token.cls_token.shape == (1, 1, 16)
    assert model.pos_embed.pos_embed.shape == (1, 17, 16)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)


@pytest.mark.parametrize("global_pool", [False, True])
def test_every_supernet_path_computes_what_its_frozen_subnet_computes(global_pool: bool) -> None:
    torch.manual_seed(0)
    model = AutoformerSpace(**SMALL, global_pool=global_pool)
    supernet = PathSamplingSupernet(model)
    space = retiarii.ModelSpace(model)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    rng = random.Random(0)
    for _ in range(5):
        supernet.random(rng)
        sample = supernet.sample()
        frozen = space.freeze(sample)
        torch.testing.assert_close(model(x), frozen(x))
        # the frozen subnet keeps the leading slice of the supernet's class token
        width = sample["embed_dim"]
        torch.testing.assert_close(
            frozen.cls_token.cls_token, model.cls_token.cls_token[..., :width]
        )


def test_published_samples_belong_to_their_spaces() -> None:
    for name in ("autoformer-tiny", "autoformer-small", "autoformer-base"):
        entry = hub.registry.ARCHITECTURES[name]
        assert entry.input_size == (3, 224, 224) and entry.num_classes == 1000
        sample = hub.searched_architecture(name)
        assert sample["depth"] in entry.space_kwargs["search_depth"]
        assert len([k for k in sample if k.startswith("mlp_ratio_")]) == max(
            entry.space_kwargs["search_depth"]
        )


def test_nnis_classmethod_loads_a_published_model() -> None:
    model = AutoformerSpace.load_searched_model("autoformer-tiny")
    assert sum(p.numel() for p in model.parameters()) == 5_867_944
    with pytest.raises(ValueError, match="no searched model"):
        AutoformerSpace.load_searched_model("darts-v2")
