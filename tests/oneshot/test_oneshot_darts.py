"""DARTS (first and second order) and GumbelDARTS."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, model_wrapper
from retiarii.oneshot.pytorch import DartsLayerChoice, DartsTrainer, GumbelDartsTrainer

from .helpers import UsefulOrZero, accuracy, batch_of, separable, sgd


@pytest.mark.parametrize(
    ("trainer_class", "kwargs"),
    [
        (DartsTrainer, {}),
        (DartsTrainer, {"unrolled": True}),
        (GumbelDartsTrainer, {"gumbel_temperature": 2.0, "use_temp_anneal": True}),
    ],
    ids=["darts", "darts-unrolled", "gumbel"],
)
def test_prefers_the_useful_op_over_zero(trainer_class, kwargs):
    model = UsefulOrZero()
    trainer = trainer_class(
        model,
        F.cross_entropy,
        accuracy,
        sgd(model),
        num_epochs=8,
        dataset=separable(),
        batch_size=32,
        arc_learning_rate=0.05,
        **kwargs,
    )
    trainer.fit()
    sample = trainer.export()
    assert sample == {"op": "linear", "pick": [0]}
    assert ModelSpace(UsefulOrZero()).validate(sample) == sample
    probs = trainer.export_probs()
    assert probs["op"]["linear"] > 0.6 and probs["pick"]["0"] > 0.6
    assert set(trainer.arch_parameters()) == {"op", "pick"}
    assert len(trainer.history) == 8 and trainer.history[-1].metrics["acc"] > 0.8


def test_supernet_freezes_to_the_exported_architecture_with_its_trained_weights():
    model = UsefulOrZero()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable(), batch_size=64)
    trainer.fit()
    space = ModelSpace(model)  # the replaced model is still a model space
    assert space.labels == ["op", "pick"]
    frozen = space.freeze(trainer.export())
    assert not any(isinstance(m, DartsLayerChoice) for m in frozen.modules())
    assert "op._arch_alpha" not in frozen.state_dict()
    if trainer.export()["op"] == "linear":
        assert torch.equal(frozen.op.weight, model.op["linear"].weight)


def test_shared_labels_share_one_architecture_parameter():
    @model_wrapper
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.LayerChoice([nn.Linear(4, 4), nn.Identity()], label="same")
            self.b = nn.LayerChoice([nn.Linear(4, 4), nn.Identity()], label="same")
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.b(self.a(x)))

    model = Shared()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable(dim=4))
    assert model.a.alpha is model.b.alpha and list(trainer.arch_parameters()) == ["same"]


def test_a_model_is_searched_by_one_trainer_only():
    model = UsefulOrZero()
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable())
    assert {id(p) for p in trainer.weight_parameters()}.isdisjoint(
        id(a) for a in trainer.arch_parameters().values()
    )
    with pytest.raises(ValueError, match="already replaced by another one-shot trainer"):
        GumbelDartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable())


def test_repeat_is_searched_and_unsupported_decisions_are_named():
    @model_wrapper
    class WithRepeat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Repeat(lambda: nn.Linear(8, 8), (1, 2), label="depth")
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.blocks(x))

    model = WithRepeat()  # a Repeat depth is searched (the outputs of each depth are mixed)
    trainer = DartsTrainer(model, F.cross_entropy, None, sgd(model), 1, separable())
    assert set(trainer.export_probs()["depth"]) == {"1", "2"}

    class Concat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pick = nn.InputChoice(3, 2, reduction="concat", label="cat")

        def forward(self, x):
            return self.pick([x, x, x])

    with pytest.raises(ValueError, match="cannot be relaxed"):
        DartsTrainer(Concat(), F.cross_entropy, None, None, 1, separable())


# -- second order: the finite-difference gradient against autograd through the virtual step -----
@model_wrapper
class Smooth(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.op = nn.LayerChoice({"lin": nn.Linear(6, 6), "tanh": nn.Tanh()}, label="op")
        self.pick = nn.InputChoice(2, 1, label="pick")
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        h = torch.tanh(self.fc(x))
        h = self.op(h)
        return self.head(self.pick([h, torch.sin(h)]))


def _brute_force_unrolled_grad(trainer, trn, val):
    """d/dalpha L_val(w - xi * (mu * m + grad_w L_train(w, alpha) + lambda * w), alpha), exactly."""
    model, optimizer = trainer.model, trainer.optimizer
    group = optimizer.param_groups[0]
    xi, mu, decay = group["lr"], group["momentum"], group["weight_decay"]
    params = dict(model.named_parameters())
    alpha_ids = {id(a) for a in trainer.arch_parameters().values()}
    w_names = [n for n, p in params.items() if id(p) not in alpha_ids]
    a_names = [n for n, p in params.items() if id(p) in alpha_ids]
    w = {n: params[n].detach().clone().requires_grad_(True) for n in w_names}
    a = {n: params[n].detach().clone().requires_grad_(True) for n in a_names}

    def loss(tensors, batch):
        return F.cross_entropy(functional_call(model, tensors, (batch[0],)), batch[1])

    grads = torch.autograd.grad(loss({**w, **a}, trn), list(w.values()), create_graph=True)
    unrolled = {}
    for (name, weight), g in zip(w.items(), grads):
        buf = optimizer.state[params[name]]["momentum_buffer"]
        unrolled[name] = weight - xi * (mu * buf + g + decay * weight)
    exact = torch.autograd.grad(loss({**unrolled, **a}, val), list(a.values()))
    first_order = torch.autograd.grad(loss({**w, **a}, val), list(a.values()))
    return dict(zip(a_names, exact)), dict(zip(a_names, first_order))


def test_second_order_gradient_matches_brute_force():
    torch.set_default_dtype(torch.float64)
    try:
        data = separable(n=64, dim=4)
        model = Smooth()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, weight_decay=3e-3)
        trainer = DartsTrainer(
            model, F.cross_entropy, None, optimizer, 1, data, unrolled=True, grad_clip=0
        )
        trn, val = batch_of(data, 16), batch_of(data, 16, start=32)
        trainer.search_step(trn, val)  # one real step: momentum buffers exist
        exact, first_order = _brute_force_unrolled_grad(trainer, trn, val)
        before = [p.detach().clone() for p in trainer.weight_parameters()]
        trainer.ctrl_optim.zero_grad()
        trainer.algorithm._unrolled_backward(trainer, trn, val)
        for w, b in zip(trainer.weight_parameters(), before):
            assert torch.equal(w, b)  # the weights are restored exactly
        names = dict(model.named_parameters())
        for name, expected in exact.items():
            got = names[name].grad
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-8)
            # the second-order term matters here: first order is measurably different
            assert (expected - first_order[name]).abs().max() > 100 * (got - expected).abs().max()
    finally:
        torch.set_default_dtype(torch.float32)
