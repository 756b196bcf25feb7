"""ProxylessNAS: binary gates, measured latency, and the latency/accuracy trade-off."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, model_wrapper
from retiarii.oneshot.pytorch import LatencyProfiler, ProxylessTrainer

from .helpers import UsefulOrZero, Zero, accuracy, separable, sgd


@model_wrapper
class CheapOrAccurate(nn.Module):
    """``cheap`` zeroes the signal (fast, useless); ``accurate`` is a wide MLP (slow, useful)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.op = nn.LayerChoice(
            {
                "cheap": Zero(),
                "accurate": nn.Sequential(nn.Linear(16, 2048), nn.ReLU(), nn.Linear(2048, 16)),
            },
            label="op",
        )
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.op(F.relu(self.fc(x))))


def _search(reg: str | None, profiler: LatencyProfiler | None = None) -> ProxylessTrainer:
    model = CheapOrAccurate()
    trainer = ProxylessTrainer(
        model,
        F.cross_entropy,
        accuracy,
        sgd(model, lr=0.05),
        num_epochs=5,
        dataset=separable(n=256),
        warmup_epochs=1,  # the weights first learn a little, on uniformly sampled paths
        batch_size=16,
        arc_learning_rate=0.1,
        grad_reg_loss_type=reg,
        grad_reg_loss_params={"lambda": 5.0},
        ref_latency=0.01,
        latency_profiler=profiler,
    )
    trainer.fit()
    return trainer


def test_latency_penalty_picks_the_cheap_op_and_accuracy_the_accurate_one(tmp_path):
    profiler = LatencyProfiler(cache_path=tmp_path / "latency.json", repeats=5)
    fast = _search("add#linear", profiler)
    cheap, accurate = fast.latency_table["op"]
    assert accurate > 2 * cheap  # measured on this machine, not a table
    assert fast.export() == {"op": "cheap"}
    assert fast.export_probs()["op"]["cheap"] > 0.7
    assert (
        fast.history[-1].metrics["expected_latency_ms"]
        < (cheap + accurate) / 2 + fast.supernet.base_latency
    )

    plain = _search(None)
    assert plain.export() == {"op": "accurate"}
    assert plain.export_probs()["op"]["accurate"] > 0.7
    assert plain.latency_table == {}  # nothing measured without a latency loss


def test_latency_table_is_cached_on_disk(tmp_path):
    path = tmp_path / "latency.json"
    model = UsefulOrZero()
    first = LatencyProfiler(cache_path=path, repeats=2)
    ProxylessTrainer(
        model, F.cross_entropy, None, sgd(model), 1, separable(), grad_reg_loss_type="add#linear",
        latency_profiler=first,
    )  # fmt: skip
    assert first.measured == 3 and path.exists()  # two candidates and the whole network
    second = LatencyProfiler(cache_path=path, repeats=2)
    model2 = UsefulOrZero()
    trainer = ProxylessTrainer(
        model2, F.cross_entropy, None, sgd(model2), 1, separable(), grad_reg_loss_type="add#linear",
        latency_profiler=second,
    )  # fmt: skip
    assert second.measured == 0  # every latency came from the table
    assert len(trainer.latency_table["op"]) == 2 and trainer.expected_latency() > 0


class FixedClock(LatencyProfiler):
    """Every module takes ``ms`` milliseconds: deterministic, whatever the machine's load."""

    def __init__(self, ms: float) -> None:
        super().__init__(cache_path=False)
        self.ms = ms

    def time(self, module, args, kwargs):
        return self.ms


def test_mul_log_needs_latencies_above_one_millisecond():
    model = UsefulOrZero()
    with pytest.raises(ValueError, match="needs latencies above 1 ms"):
        ProxylessTrainer(
            model, F.cross_entropy, None, sgd(model), 1, separable(), grad_reg_loss_type="mul#log",
            latency_profiler=FixedClock(0.05),
        )  # fmt: skip
    model = UsefulOrZero()
    trainer = ProxylessTrainer(
        model, F.cross_entropy, None, sgd(model), 1, separable(), grad_reg_loss_type="mul#log",
        latency_profiler=FixedClock(5.0), ref_latency=8.0,
    )  # fmt: skip
    assert trainer.supernet.base_latency == 0.0 and trainer.expected_latency() == 5.0
    trainer.fit()  # the multiplicative loss trains
    with pytest.raises(ValueError, match="grad_reg_loss_type must be"):
        ProxylessTrainer(
            UsefulOrZero(), F.cross_entropy, None, None, 1, separable(), grad_reg_loss_type="x"
        )


def test_architecture_step_runs_two_paths_and_keeps_the_others_probability():
    @model_wrapper
    class Four(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.LayerChoice([nn.Linear(8, 8) for _ in range(4)], label="op")
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.op(x))

    model = Four()
    trainer = ProxylessTrainer(
        model, F.cross_entropy, None, sgd(model), 1, separable(), arc_learning_rate=0.5
    )
    calls: list[int] = []
    for i, op in enumerate(model.op):
        op.register_forward_hook(lambda *_, i=i: calls.append(i))
    data = separable(n=32)
    before = torch.softmax(trainer.arch_parameters()["op"].detach(), -1).clone()
    trainer.search_step(data.tensors, data.tensors)
    after = torch.softmax(trainer.arch_parameters()["op"].detach(), -1)
    assert len(calls) == 3  # two gated paths (architecture step), one path (weight step)
    pair = calls[:2]
    others = [i for i in range(4) if i not in pair]
    assert len(set(pair)) == 2
    torch.testing.assert_close(after[others], before[others])  # their probability is unchanged
    assert not torch.allclose(after[pair], before[pair])
    sample = trainer.export()
    assert ModelSpace(Four()).validate(sample) == sample


def test_single_input_choices_are_searched_and_exported_as_lists():
    model = UsefulOrZero()
    trainer = ProxylessTrainer(
        model, F.cross_entropy, None, sgd(model), 2, separable(), arc_learning_rate=0.1
    )
    trainer.fit()
    sample = trainer.export()
    assert (
        isinstance(sample["pick"], list) and ModelSpace(UsefulOrZero()).validate(sample) == sample
    )
