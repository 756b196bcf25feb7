"""The mobile spaces (ProxylessNAS, MobileNetV3Space, ShuffleNetSpace): what the registry test
does not check — NNI's samples load as NNI writes them, a supernet's weights carry over to the
networks it exports, and the published networks have the published shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as tnn

import retiarii
from retiarii.hub.pytorch import MobileNetV3Space, ProxylessNAS, ShuffleNetSpace
from retiarii.hub.pytorch.proxylessnas import InvertedResidual, make_divisible
from retiarii.hub.pytorch.registry import SPACES
from retiarii.nn.pytorch import MutableModule, ValueChoice
from retiarii.oneshot.pytorch.sampling import PathSamplingSupernet


def n_params(model: tnn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_make_divisible_follows_nni_on_numbers_and_choices() -> None:
    assert [make_divisible(v) for v in (4, 12, 184.0, 88.08, 200.0)] == [8, 16, 184, 88, 200]
    assert make_divisible(43.6) == 48  # NNI rounds (TensorFlow's int() would give 40 + 8)
    width = make_divisible(ValueChoice([0.5, 1.0], label="w") * 24)
    assert [width.freeze({"w": w}) for w in (0.5, 1.0)] == [16, 24]


def test_nni_hardcoded_sample_builds_the_registered_network() -> None:
    # NNI's own dict: no labels for skipped blocks, and a depth label of the fixed last stage
    nni_sample = {
        **{f"s{s}_depth": 1 for s in range(2, 8)},
        **{f"s{s}_i0": "k3e6" for s in range(2, 8)},
    }
    with retiarii.fixed_arch(nni_sample, verbose=False):
        model = ProxylessNAS(num_labels=10, width_mult=0.25)
    space = retiarii.ModelSpace(ProxylessNAS(num_labels=10, width_mult=0.25))
    complete = {label: "k3e6" if "_i" in label else 1 for label in space.labels}
    frozen = space.freeze(complete)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in frozen.state_dict().items()
    }


@pytest.mark.parametrize("name", ["MobileNetV3Space", "ShuffleNetSpace", "ProxylessNAS"])
def test_supernet_weights_carry_over_to_the_exported_network(name: str) -> None:
    entry = SPACES[name]
    torch.manual_seed(0)
    model = entry.factory(**entry.test_kwargs)
    supernet = PathSamplingSupernet(model)
    space = retiarii.ModelSpace(model)
    x = torch.randn(2, *entry.input_size)
    for seed in (0, 1):
        sample = space.random(seed=seed)
        supernet.set_sample(sample)
        model.eval()
        exported = space.freeze(sample).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x), exported(x))


def test_mobilenetv3_large_has_timm_shapes() -> None:
    model = MobileNetV3Space.load_searched_model("mobilenetv3-large-100")
    assert n_params(model) == 5_483_032  # timm's mobilenetv3_large_100
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 14
    # a residual wherever a block keeps its width and resolution, as in the paper's Table 1
    assert [b.has_skip for b in blocks] == [
        False, True, False, True, True, False, True, True, True, False, True, False, True, True,
    ]  # fmt: skip


def test_mobilenetv3_small_has_timm_size() -> None:
    assert n_params(MobileNetV3Space.load_searched_model("mobilenetv3-small-100")) == 2_542_856


def test_nni_classmethods_load_only_the_space_own_architectures() -> None:
    assert isinstance(ShuffleNetSpace.load_searched_model("spos"), ShuffleNetSpace)
    with pytest.raises(ValueError, match="architecture of ProxylessNAS"):
        ShuffleNetSpace.load_searched_model("proxyless-mobile")
    small = {"stage_repeats": (1, 1), "stage_out_channels": (8, 16, 32, 64)}
    model = ShuffleNetSpace.fixed_arch({"layer_1": "xcep", "layer_2": "k5"})(10, **small)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert not any(isinstance(m, MutableModule) for m in model.modules())


def test_local_weights_load_through_the_space_classmethod(tmp_path: Path) -> None:
    model = ShuffleNetSpace.load_searched_model("spos")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.25)
    torch.save(model.state_dict(), tmp_path / "spos.pth")
    loaded = ShuffleNetSpace.load_searched_model(
        "spos", pretrained=True, weights=tmp_path / "spos.pth"
    )
    assert all(torch.equal(p, torch.full_like(p, 0.25)) for p in loaded.parameters())


def test_shufflenet_channel_search_labels() -> None:
    space = retiarii.ModelSpace(ShuffleNetSpace(channel_search=True))
    assert len(space.labels) == 40
    assert space.search_space["channel_1"].spec()["_value"] == [6, 12, 19, 25, 32, 38, 44, 51]
    assert space.size == 4**20 * 8**20


def test_mobilenetv3_rejects_inconsistent_arguments() -> None:
    with pytest.raises(ValueError, match="squeeze_excite"):
        MobileNetV3Space(squeeze_excite=("none",))
    with pytest.raises(ValueError, match="depth_range"):
        MobileNetV3Space(depth_range=(0, 2))
