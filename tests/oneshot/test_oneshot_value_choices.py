"""Value choices in layer arguments, Repeat depths and nested choices under every algorithm; the
trained subnet's weights (sub_state_dict) load into fixed_arch's model; what an algorithm cannot
share is refused."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, basic_unit, fixed_arch, model_wrapper
from retiarii.oneshot.pytorch import (
    DartsTrainer,
    EnasTrainer,
    GumbelDartsTrainer,
    ProxylessTrainer,
    SinglePathTrainer,
)
from retiarii.oneshot.pytorch.mixed import MixedSliced

from .helpers import reward_accuracy, sgd


@model_wrapper
class Elastic(nn.Module):
    """Width, kernel size and depth are choices; the Repeat's blocks use the width too."""

    def __init__(self) -> None:
        super().__init__()
        width = nn.ValueChoice([4, 8], label="width")
        kernel = nn.ValueChoice([1, 3], label="kernel")
        self.conv = nn.Conv2d(3, width, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm2d(width)
        self.blocks = nn.Repeat(lambda i: nn.Conv2d(width, width, 3, padding=1), (1, 2),
                                label="depth")  # fmt: skip
        self.op = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="op")
        self.fc = nn.Linear(width, 2)

    def forward(self, x):
        x = self.blocks(self.op(self.bn(self.conv(x))))
        return self.fc(x.mean((2, 3)))


@model_wrapper
class Nested(nn.Module):
    """A LayerChoice holding a convolution whose kernel size is a value choice (its padding an
    expression of it) and an inner LayerChoice; the width is a choice everywhere."""

    def __init__(self) -> None:
        super().__init__()
        width = nn.ValueChoice([4, 8], label="width")
        kernel = nn.ValueChoice([1, 3], label="kernel")
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.op = nn.LayerChoice(
            {
                "conv": nn.Conv2d(width, width, kernel, padding=kernel // 2),
                "inner": nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="inner"),
            },
            label="op",
        )
        self.fc = nn.Linear(width, 2)

    def forward(self, x):
        return self.fc(self.op(self.stem(x)).mean((2, 3)))


SPACES = {"elastic": (Elastic, {"width", "kernel", "depth", "op"}),
          "nested": (Nested, {"width", "kernel", "op", "inner"})}  # fmt: skip


def images(n: int = 64) -> TensorDataset:
    x = torch.randn(n, 3, 5, 5)
    return TensorDataset(x, (x[:, 0].mean((1, 2)) > 0).long())


def make(algorithm: str, model: nn.Module):
    data, opt = images(), sgd(model)
    if algorithm == "darts":
        return DartsTrainer(model, F.cross_entropy, None, opt, 1, data, batch_size=16)
    if algorithm == "darts_unrolled":
        return DartsTrainer(model, F.cross_entropy, None, opt, 1, data, batch_size=16,
                            unrolled=True)  # fmt: skip
    if algorithm == "gumbel":
        return GumbelDartsTrainer(model, F.cross_entropy, None, opt, 1, data, batch_size=16)
    if algorithm == "proxyless":  # a nested label learns only in steps where its path is gated
        return ProxylessTrainer(model, F.cross_entropy, None, opt, 4, data, batch_size=16,
                                arc_learning_rate=0.1)  # fmt: skip
    if algorithm == "enas":
        return EnasTrainer(model, F.cross_entropy, None, reward_accuracy, opt, 1, data,
                           batch_size=16, ctrl_steps_aggregate=1)  # fmt: skip
    return SinglePathTrainer(model, F.cross_entropy, None, opt, 1, data, batch_size=16,
                             population_size=2, evolution_cycles=1)  # fmt: skip


@pytest.mark.parametrize("space", list(SPACES))
@pytest.mark.parametrize(
    "algorithm", ["darts", "darts_unrolled", "gumbel", "enas", "proxyless", "spos"]
)
def test_value_choices_repeat_and_nested_choices_under_every_algorithm(algorithm, space):
    space_class, labels = SPACES[space]
    torch.manual_seed(0)
    model = space_class()
    trainer = make(algorithm, model)
    before = {k: a.detach().clone() for k, a in trainer.arch_parameters().items()}
    trainer.fit()
    sample = trainer.export()
    assert set(sample) == labels
    assert ModelSpace(space_class()).validate(sample) == sample
    if before:  # every label's architecture parameter learns, value choices included
        assert set(before) == labels
        after = trainer.arch_parameters()
        assert all(not torch.equal(before[k], after[k]) for k in labels)
    if algorithm != "enas":  # probabilities of every label, value choices included
        probs = trainer.export_probs()
        assert not probs or set(probs) == set(sample)
    # The supernet's weights of the chosen subnet load into the model fixed_arch builds.
    state = trainer.sub_state_dict(sample)
    with fixed_arch(sample, verbose=False):
        subnet = space_class()
    subnet.load_state_dict(state)
    frozen = ModelSpace(model).freeze(sample).eval()
    x = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(subnet.eval()(x), frozen(x))


def test_a_kernel_size_choice_mixes_zero_padded_kernels():
    model = Elastic()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, images(), batch_size=16)
    conv = model.conv
    assert isinstance(conv, MixedSliced)
    with torch.no_grad():
        for alpha in trainer.arch_parameters().values():
            alpha.normal_()
    x = torch.randn(2, 3, 5, 5)
    width = F.softmax(trainer.arch_parameters()["width"], -1)
    kernel = F.softmax(trainer.arch_parameters()["kernel"], -1)
    weight, bias = conv.sliced.weight, conv.sliced.bias  # (8, 3, 3, 3): the largest layer
    centre = torch.zeros_like(weight)
    centre[:, :, 1:2, 1:2] = weight[:, :, 1:2, 1:2]
    mask4 = torch.zeros(8, 1, 1, 1)
    mask4[:4] = 1
    mixed_kernel = kernel[0] * centre + kernel[1] * weight
    mixed_width = width[0] * mask4 + width[1]
    expected = F.conv2d(x, mixed_kernel * mixed_width, bias * mixed_width.view(-1), padding=1)
    assert conv._shared  # one convolution with the mixed kernel, not one per configuration
    torch.testing.assert_close(conv(x), expected)
    conv._shared = False  # mixing the outputs of every configuration gives the same
    torch.testing.assert_close(conv(x), expected)
    fc = model.fc
    assert isinstance(fc, MixedSliced) and fc._shared
    h = torch.randn(2, 8)
    fast = fc(h)
    fc._shared = False
    torch.testing.assert_close(fc(h), fast)


@model_wrapper
class Kernel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        kernel = nn.ValueChoice([1, 3], label="kernel")
        self.conv = nn.Conv2d(3, 4, kernel, padding=kernel // 2)

    def forward(self, x):
        return self.conv(x).mean((1, 2, 3))


@pytest.mark.parametrize("algorithm", ["darts", "proxyless"])
@pytest.mark.parametrize("space", [Kernel, Elastic])
def test_one_convolution_of_mixed_weights_equals_mixing_every_configuration(algorithm, space):
    """DARTS mixes every configuration's mask with the joint weights, ProxylessNAS sums the
    gated pairs' (four with Elastic's width and kernel); a bias that every kernel size keeps
    whole (Kernel) is added once, not scaled by the weights' sum (which is 1). The output and
    alpha's gradient are those of mixing every configuration's output, bias included."""
    model = space()
    trainer = make(algorithm, model)
    conv = model.conv
    assert conv._shared and (conv._out_masks is None) == (space is Kernel)
    alphas = [trainer.arch_parameters()[s.label] for s in conv._switches]
    with torch.no_grad():
        for alpha in alphas:
            alpha.normal_()
    if algorithm == "proxyless":
        trainer.algorithm.supernet.sample_two(random.Random(0))
    x = torch.randn(2, 3, 5, 5)
    got = []
    for shared in (True, False):  # one convolution, or one per configuration mixed
        conv._shared = shared
        out = conv(x)
        grads = torch.autograd.grad((out**2).sum(), alphas, retain_graph=True)
        got.append((out, grads))
    torch.testing.assert_close(got[0], got[1])


@model_wrapper
class Depthwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        width = nn.ValueChoice([2, 4, 8], label="width")
        kernel = nn.ValueChoice([3, 5], label="kernel")
        self.conv = nn.Conv2d(width, width, kernel, padding=kernel // 2, groups=width)

    def forward(self, x):
        return self.conv(x)


def test_a_depthwise_convolution_of_any_width_runs_once():
    model = Depthwise()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, images(), batch_size=16)
    conv = model.conv
    assert isinstance(conv, MixedSliced) and conv._shared and conv._call[-1] == 8  # 8 groups
    with torch.no_grad():
        for alpha in trainer.arch_parameters().values():
            alpha.normal_()
    x = torch.randn(2, 8, 5, 5)
    fast = conv(x)
    conv._shared = False  # one convolution per configuration, outputs mixed: the same
    torch.testing.assert_close(conv(x), fast)


@pytest.mark.parametrize("training", [True, False])
def test_a_width_choice_of_batchnorm_scales_the_largest_layers_channels(training):
    model = Elastic()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, images(), batch_size=16)
    bn = model.bn
    assert isinstance(bn, MixedSliced) and bn._norm == (8, 1e-5)
    with torch.no_grad():
        trainer.arch_parameters()["width"].normal_()
        bn.sliced.weight.normal_()
        bn.sliced.bias.normal_()
        bn.sliced.running_mean.normal_()
        bn.sliced.running_var.uniform_(0.5, 2.0)
    bn.train(training)
    x = torch.randn(4, 8, 3, 3)
    stats = [bn.sliced.running_mean.clone(), bn.sliced.running_var.clone()]
    fast = bn(x)
    once = [bn.sliced.running_mean.clone(), bn.sliced.running_var.clone()]
    bn.sliced.running_mean.copy_(stats[0])
    bn.sliced.running_var.copy_(stats[1])
    bn._norm = None  # one layer per width, outputs mixed: the same numbers
    torch.testing.assert_close(bn(x), fast)
    if training:  # the running statistics move once per step, as one BatchNorm's
        layer = torch.nn.BatchNorm2d(8).train()
        layer.running_mean.copy_(stats[0])
        layer.running_var.copy_(stats[1])
        layer(x)
        torch.testing.assert_close(once, [layer.running_mean, layer.running_var])


@model_wrapper
class Width(nn.Module):
    """One Linear whose width is a choice, summed: the loss is linear in the layer's output."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, nn.ValueChoice([2, 4, 6], label="w"))

    def forward(self, x):
        return self.fc(x).sum(-1)


def test_proxyless_gates_a_value_choice_like_a_layer_choice():
    """An architecture step runs two widths behind binary gates; alpha's gradient is
    ProxylessNAS's estimate ``sum_j dL/dg_j * p'_j * (delta_ij - p'_i)``, ``dL/dg_j`` the loss
    of width ``j``'s slice; a weight step runs one slice, unpadded."""
    model = Width()
    x = torch.randn(16, 8)
    trainer = ProxylessTrainer(model, F.cross_entropy, None, sgd(model), 1, TensorDataset(x, x))
    supernet = trainer.algorithm.supernet
    alpha = trainer.arch_parameters()["w"]
    with torch.no_grad():
        alpha.copy_(torch.tensor([0.3, -0.2, 0.1]))
    supernet.sample_two(random.Random(0))
    decision = supernet.decisions["w"]
    a, b = decision.pair
    out = model(x)
    active = [2, 4, 6][decision.active]
    weight, bias = model.fc.sliced.weight, model.fc.sliced.bias
    torch.testing.assert_close(out, F.linear(x, weight[:active], bias[:active]).sum(-1))
    out.mean().backward()
    d_gate = [
        F.linear(x, weight[:n], bias[:n]).sum(-1).mean() for n in ([2, 4, 6][a], [2, 4, 6][b])
    ]
    p = torch.softmax(alpha.detach()[[a, b]], -1)
    expected = torch.zeros(3)
    for i, index in enumerate((a, b)):
        expected[index] = sum(d_gate[j] * p[j] * (float(i == j) - p[i]) for j in range(2))
    torch.testing.assert_close(alpha.grad, expected)
    supernet.sample_one(random.Random(0))
    assert model(x).shape == (16,) and model.fc.sliced(x).shape[-1] == [2, 4, 6][decision.active]


def test_proxyless_latency_loss_refuses_value_choices_naming_the_labels():
    model = Elastic()
    with pytest.raises(ValueError, match=r"not of value choices or Repeat depths \(\['width'"):
        ProxylessTrainer(model, F.cross_entropy, None, sgd(model), 1, images(),
                         grad_reg_loss_type="add#linear")  # fmt: skip


@basic_unit
class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, width)
        self.out = torch.nn.Linear(width, 2)

    def forward(self, x):
        return self.out(self.fc(x))


@model_wrapper
class WithBasicUnit(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Block(nn.ValueChoice([4, 8], label="hidden"))

    def forward(self, x):
        return self.block(x)


@pytest.mark.parametrize("trainer_class", [DartsTrainer, ProxylessTrainer, SinglePathTrainer])
def test_a_basic_unit_with_value_choice_arguments_is_refused_at_start(trainer_class):
    model = WithBasicUnit()
    x = torch.randn(32, 8)
    with pytest.raises(ValueError, match=r"cannot search 'hidden' \(Block\)"):
        trainer_class(model, F.cross_entropy, None, sgd(model), 1, TensorDataset(x, x[:, 0] > 0))
