"""``replace_layer_choice`` / ``replace_input_choice`` and a user-written trainer (seed 001)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace
from retiarii.oneshot import BaseOneShotTrainer
from retiarii.oneshot.pytorch import replace_input_choice, replace_layer_choice

from .helpers import UsefulOrZero, Zero, separable


# -- seed 001, verbatim (nni.retiarii -> retiarii) -------------------------------------------------
class DartsLayerChoice(nn.Module):
    def __init__(self, layer_choice):
        super(DartsLayerChoice, self).__init__()
        self.name = layer_choice.key
        self.op_choices = nn.ModuleDict(layer_choice.named_children())
        self.alpha = nn.Parameter(torch.randn(len(self.op_choices)) * 1e-3)

    def forward(self, *args, **kwargs):
        op_results = torch.stack([op(*args, **kwargs) for op in self.op_choices.values()])
        alpha_shape = [-1] + [1] * (len(op_results.size()) - 1)
        return torch.sum(op_results * F.softmax(self.alpha, -1).view(*alpha_shape), 0)


class DartsInputChoice(nn.Module):
    def __init__(self, input_choice):
        super().__init__()
        self.name = input_choice.key
        self.alpha = nn.Parameter(torch.randn(input_choice.n_candidates) * 1e-3)

    def forward(self, inputs):
        stacked = torch.stack(inputs)
        return torch.sum(stacked * F.softmax(self.alpha, -1).view(-1, 1, 1), 0)


class MyDartsTrainer(BaseOneShotTrainer):
    def __init__(self, model, loss, metrics, optimizer, dataset):
        self.model = model
        self.loss = loss
        self.metrics = metrics
        self.num_epochs = 3

        self.nas_modules = []
        replace_layer_choice(self.model, DartsLayerChoice, self.nas_modules)
        replace_input_choice(self.model, DartsInputChoice, self.nas_modules)
        alphas = [m.alpha for _, m in self.nas_modules]
        self.ctrl_optim = torch.optim.Adam(alphas, 3e-2)
        self.model_optim = optimizer
        half = len(dataset) // 2
        self.train_loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, range(half)), batch_size=32
        )
        self.valid_loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, range(half, len(dataset))), batch_size=32
        )

    def train_architecture(self, x, y):
        self.ctrl_optim.zero_grad()
        self.loss(self.model(x), y).backward()
        self.ctrl_optim.step()

    def train_model_weight(self, x, y):
        self.model_optim.zero_grad()
        self.loss(self.model(x), y).backward()
        self.model_optim.step()

    def fit(self):
        for i in range(self.num_epochs):  # noqa: B007 (the seed's code)
            for (trn_X, trn_y), (val_X, val_y) in zip(self.train_loader, self.valid_loader):
                self.train_architecture(val_X, val_y)
                self.train_model_weight(trn_X, trn_y)

    @torch.no_grad()
    def export(self):
        result = dict()
        for name, module in self.nas_modules:
            if name not in result:
                if isinstance(module, DartsLayerChoice):
                    result[name] = list(module.op_choices)[int(module.alpha.argmax())]
                else:
                    result[name] = [int(module.alpha.argmax())]
        return result


def test_seed_001_user_trainer_runs_and_exports_a_sample():
    model = UsefulOrZero()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)  # before the replacement, as NNI
    trainer = MyDartsTrainer(model, F.cross_entropy, None, optimizer, separable())
    assert [label for label, _ in trainer.nas_modules] == ["op", "pick"]
    assert isinstance(model.op, DartsLayerChoice) and model.op.name == "op"
    assert list(model.op.op_choices) == ["zero", "linear"]
    trainer.fit()
    sample = trainer.export()
    assert ModelSpace(UsefulOrZero()).validate(sample) == sample


def test_replace_appends_label_and_new_module_and_keeps_candidates():
    model = UsefulOrZero()
    linear = model.op["linear"]
    modules: list = []
    out = replace_layer_choice(model, DartsLayerChoice, modules)
    assert out is modules and len(modules) == 1
    label, new = modules[0]
    assert label == "op" and model.op is new
    assert new.op_choices["linear"] is linear  # candidates move, they are not copied
    assert replace_input_choice(model, DartsInputChoice)[0][0] == "pick"


def test_nested_choices_are_replaced_inner_first():
    inner = nn.LayerChoice([nn.Linear(4, 4), nn.Identity()], label="inner")
    outer = nn.LayerChoice(
        {"seq": nn.Sequential(inner, nn.ReLU()), "id": nn.Identity()}, label="outer"
    )
    root = nn.Sequential(outer)
    built_from: list[list[str]] = []

    def init(choice):
        built_from.append([type(m).__name__ for _, m in choice.named_modules()])
        return DartsLayerChoice(choice)

    modules = replace_layer_choice(root, init)
    assert [label for label, _ in modules] == ["inner", "outer"]
    assert "LayerChoice" not in built_from[1][1:]  # outer saw its inner choice replaced already
    assert root(torch.randn(2, 4)).shape == (2, 4)


def test_a_choice_registered_twice_is_replaced_once():
    shared = nn.LayerChoice([nn.Identity(), Zero()], label="shared")
    root = nn.Sequential(shared, nn.ReLU(), shared)
    modules = replace_layer_choice(root, DartsLayerChoice)
    assert len(modules) == 1 and root[0] is root[2] is modules[0][1]


def test_replace_errors_name_the_problem():
    with pytest.raises(ValueError, match="the model itself is a LayerChoice"):
        replace_layer_choice(nn.LayerChoice([nn.Identity()], label="x"), DartsLayerChoice)
    with pytest.raises(TypeError, match="must be a torch Module"):
        replace_layer_choice(UsefulOrZero(), lambda choice: "not a module")


def test_old_and_new_import_paths():
    import retiarii.oneshot as oneshot
    import retiarii.oneshot.pytorch as pt

    assert pt.BaseOneShotTrainer is oneshot.BaseOneShotTrainer
    for name in pt.__all__:
        assert getattr(pt, name) is not None
    with pytest.raises(TypeError):
        BaseOneShotTrainer()  # abstract: fit() and export()
