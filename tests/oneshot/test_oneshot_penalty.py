"""Cost penalties of the one-shot algorithms (ExpectationProfilerPenalty) and SPOS constraints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii import model_wrapper
from retiarii.oneshot.pytorch import (
    DartsTrainer,
    EnasTrainer,
    ExpectationProfilerPenalty,
    GumbelDartsTrainer,
    ProxylessTrainer,
    SinglePathTrainer,
)
from retiarii.profiler import FlopsProfiler, NumParamsProfiler, RangeProfilerFilter

from .helpers import ElasticMLP, accuracy, reward_accuracy, sgd


@model_wrapper
class BigOrSmall(nn.Module):
    """XOR of two signs: the wide MLP solves it, the linear layer cannot."""

    def __init__(self) -> None:
        super().__init__()
        self.op = nn.LayerChoice(
            {
                "big": nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2)),
                "small": nn.Linear(4, 2),
            },
            label="op",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


BIG, SMALL = 4 * 64 + 64 + 64 * 2 + 2, 4 * 2 + 2


def xor(n: int = 512, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long())


def test_expected_params_is_exact_and_differentiable():
    penalty = ExpectationProfilerPenalty(NumParamsProfiler(BigOrSmall()), baseline=100.0)
    alpha = torch.zeros(2, requires_grad=True)
    cost = penalty.expected_cost({"op": torch.softmax(alpha, -1)})
    assert float(cost.detach()) == pytest.approx((BIG + SMALL) / 2)
    loss, details = penalty(torch.tensor(1.0), {"op": torch.softmax(alpha, -1)})
    assert float(loss.detach()) == pytest.approx(1.0 + ((BIG + SMALL) / 2 - 100) / 100)
    assert details["expected_cost"] == pytest.approx((BIG + SMALL) / 2)
    loss.backward()
    # d/dalpha of (p_big*BIG + p_small*SMALL)/100 at p = 1/2: +-(BIG - SMALL)/400
    assert alpha.grad.tolist() == pytest.approx([(BIG - SMALL) / 400, -(BIG - SMALL) / 400])


def test_nonlinear_and_aggregate():
    profiler = NumParamsProfiler(BigOrSmall())
    below = ExpectationProfilerPenalty(profiler, 1000.0, 2.0, nonlinear="positive")
    assert below.normalized(500.0) == 0.0 and below.normalized(1500.0) == 0.5
    negative = ExpectationProfilerPenalty(profiler, 1000.0, nonlinear="negative")
    assert negative.normalized(500.0) == -0.5 and negative.normalized(1500.0) == 0.0
    assert float(negative.expected_cost({"op": {"big": 1.0}})) == BIG  # NNI's dict form
    absolute = ExpectationProfilerPenalty(profiler, 1000.0, nonlinear="absolute")
    assert absolute.normalized(500.0) == 0.5
    mul = ExpectationProfilerPenalty(profiler, 1000.0, 2.0, aggregate="mul")
    assert mul.apply(3.0, 1500.0) == pytest.approx(3.0 * 1.5**2)
    assert mul.reward(1.0, {"op": "small"}) == pytest.approx(1.0 / (SMALL / 1000) ** 2)
    add = ExpectationProfilerPenalty(profiler, 100.0, 0.5)
    assert add.reward(1.0, {"op": "big"}) == pytest.approx(1.0 - 0.5 * (BIG - 100) / 100)
    with pytest.raises(ValueError, match="nonlinear"):
        ExpectationProfilerPenalty(profiler, 1.0, nonlinear="square")
    with pytest.raises(ValueError, match="baseline"):
        ExpectationProfilerPenalty(profiler, 0.0)
    with pytest.raises(ValueError, match="aggregate='add'"):
        strategy.DARTS(unrolled=True, penalty=mul)


def test_flops_expectation_is_additive_and_exact_for_one_label():
    profiler = FlopsProfiler(BigOrSmall(), torch.zeros(1, 4))
    penalty = ExpectationProfilerPenalty(profiler, baseline=10.0)
    p = torch.tensor([0.25, 0.75], requires_grad=True)
    cost = penalty.expected_cost({"op": p})
    big, small = profiler.profile({"op": "big"}), profiler.profile({"op": "small"})
    assert float(cost.detach()) == pytest.approx(0.25 * big + 0.75 * small)
    cost.backward()
    assert p.grad.tolist() == pytest.approx([big - small, 0.0]) or p.grad.tolist() == (
        pytest.approx([0.0, small - big])
    )


def _fit(trainer_class, penalty, **kwargs):
    torch.manual_seed(0)
    model = BigOrSmall()
    trainer = trainer_class(
        model,
        F.cross_entropy,
        accuracy,
        sgd(model),
        num_epochs=6,
        dataset=xor(),
        batch_size=32,
        penalty=penalty,
        **kwargs,
    )
    trainer.fit()
    return trainer.export()


@pytest.mark.parametrize(
    ("trainer_class", "kwargs"),
    [
        (DartsTrainer, {"arc_learning_rate": 0.05}),
        (DartsTrainer, {"arc_learning_rate": 0.05, "unrolled": True}),
        (GumbelDartsTrainer, {"arc_learning_rate": 0.05}),
    ],
    ids=["darts", "darts-unrolled", "gumbel"],
)
def test_penalty_moves_the_exported_cost_to_the_target(trainer_class, kwargs):
    """Without a penalty DARTS picks the big accurate op; a strong penalty with the small op's
    cost as target makes it pick the small one."""
    assert _fit(trainer_class, None, **kwargs) == {"op": "big"}
    penalty = ExpectationProfilerPenalty(NumParamsProfiler(BigOrSmall()), SMALL, scale=1.0)
    assert _fit(trainer_class, penalty, **kwargs) == {"op": "small"}


def test_proxyless_penalty_moves_the_exported_cost_to_the_target():
    penalty = ExpectationProfilerPenalty(NumParamsProfiler(BigOrSmall()), SMALL, scale=1.0)
    torch.manual_seed(0)
    model = BigOrSmall()
    trainer = ProxylessTrainer(
        model, F.cross_entropy, accuracy, sgd(model), num_epochs=4, dataset=xor(),
        batch_size=32, arc_learning_rate=0.05, penalty=penalty,
    )  # fmt: skip
    trainer.fit()
    assert trainer.export() == {"op": "small"}


def test_proxyless_penalty_on_value_choices_and_repeat_moves_the_export_to_the_target():
    """The expected parameter count of a width choice and a Repeat depth under softmax(alpha):
    without a penalty this search picks width 8 and depth 1; a penalty pulling the cost to the
    largest subnet's (``'absolute'``) makes it pick width 16 and depth 2."""

    def search(penalty: ExpectationProfilerPenalty | None) -> ProxylessTrainer:
        torch.manual_seed(0)
        space = ElasticMLP(dim=4)
        trainer = ProxylessTrainer(
            space, F.cross_entropy, accuracy, sgd(space), num_epochs=2, dataset=xor(),
            batch_size=32, arc_learning_rate=0.1, penalty=penalty,
        )  # fmt: skip
        trainer.fit()
        return trainer

    assert {k: search(None).export()[k] for k in ("width", "depth")} == {"width": 8, "depth": 1}
    profiler = NumParamsProfiler(ElasticMLP(dim=4))
    big = profiler.profile({"width": 16, "depth": 2, "op": "relu"})
    trainer = search(ExpectationProfilerPenalty(profiler, big, scale=5.0, nonlinear="absolute"))
    assert {k: trainer.export()[k] for k in ("width", "depth")} == {"width": 16, "depth": 2}
    assert trainer.history[-1].metrics["expected_cost"] > profiler.profile(
        {"width": 8, "depth": 1, "op": "relu"}
    )


def test_enas_penalty_moves_the_exported_cost_to_the_target():
    penalty = ExpectationProfilerPenalty(NumParamsProfiler(BigOrSmall()), SMALL, scale=1.0)
    torch.manual_seed(0)
    model = BigOrSmall()
    trainer = EnasTrainer(
        model, F.cross_entropy, accuracy, reward_accuracy, sgd(model), num_epochs=4,
        dataset=xor(), batch_size=32, ctrl_lr=0.05, ctrl_steps_aggregate=1, penalty=penalty,
    )  # fmt: skip
    trainer.fit()
    assert trainer.export() == {"op": "small"}


def test_spos_search_evaluates_only_subnets_in_the_constraint():
    model = BigOrSmall()
    constraint = RangeProfilerFilter(NumParamsProfiler(BigOrSmall()), max=SMALL)
    trainer = SinglePathTrainer(
        model, F.cross_entropy, accuracy, sgd(model), num_epochs=1, dataset_train=xor(),
        batch_size=64, population_size=2, evolution_cycles=2, seed=0, constraint=constraint,
    )  # fmt: skip
    trainer.fit()
    assert trainer.export() == {"op": "small"}
    assert {s["op"] for s, _ in trainer.search_history} == {"small"}


def test_random_oneshot_strategy_takes_the_constraint():
    constraint = RangeProfilerFilter(NumParamsProfiler(BigOrSmall()), max=SMALL)
    algorithm = strategy.RandomOneShot(constraint=constraint, population_size=2).make_algorithm()
    algorithm.attach(BigOrSmall())
    found = algorithm.make_search_strategy()
    assert found.model_filter is constraint


def test_darts_strategy_with_a_penalty_in_an_experiment(tmp_path, monkeypatch):
    pytest.importorskip("lightning")
    import retiarii.evaluator.pytorch.lightning as pl
    from retiarii.experiment.pytorch import RetiariiExperiment

    monkeypatch.setenv("RETIARII_HOME", str(tmp_path / "experiments"))
    data = xor()
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.01,
        max_epochs=3,
        default_root_dir=str(tmp_path / "lightning"),
    )
    penalty = ExpectationProfilerPenalty(NumParamsProfiler(BigOrSmall()), SMALL, scale=1.0)
    exp = RetiariiExperiment(
        BigOrSmall(), evaluator, None, strategy.DARTS(arc_learning_rate=0.05, penalty=penalty)
    )
    exp.run()
    assert exp.export_top_models() == [{"op": "small"}]
    assert any("expected_cost" in name for name in exp.store.series_names())


def test_the_experiments_constraint_reaches_the_spos_search(tmp_path, monkeypatch):
    pytest.importorskip("lightning")
    import retiarii.evaluator.pytorch.lightning as pl
    from retiarii.experiment.pytorch import RetiariiExperiment

    monkeypatch.setenv("RETIARII_HOME", str(tmp_path / "experiments"))
    data = xor()
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=64, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        max_epochs=1,
        default_root_dir=str(tmp_path / "lightning"),
    )
    constraint = RangeProfilerFilter(NumParamsProfiler(BigOrSmall()), max=SMALL)
    search = strategy.RandomOneShot(population_size=2, evolution_cycles=1, seed=0)
    exp = RetiariiExperiment(BigOrSmall(), evaluator, None, search, constraint=constraint)
    exp.run()
    assert exp.export_top_models() == [{"op": "small"}]
    assert {s["op"] for s, _ in exp._oneshot_trainer.module.algorithm.history} == {"small"}


def test_nnis_module_path():
    from retiarii.oneshot.pytorch.profiler import ExpectationProfilerPenalty as Alias

    assert Alias is ExpectationProfilerPenalty
