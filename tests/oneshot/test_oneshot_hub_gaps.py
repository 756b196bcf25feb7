"""One-shot bugs that the hub's shared test (``tests/hub/test_hub_oneshot.py``) found, each
reduced to a toy space (they were strict expected failures until fixed; a new one goes here as
a strict ``xfail`` with an ``oneshot_pending`` entry of the hub space)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
import retiarii.strategy as strategy
from retiarii import model_wrapper
from retiarii.oneshot.pytorch import SupernetTrainer

from .helpers import UsefulOrZero, batch_of, separable, sgd


class Pair(nn.Module):
    """A block that maps a pair of states to a pair, like an NDS cell (``[s0, s1] -> [s1, s2]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, states: list[torch.Tensor]) -> list[torch.Tensor]:
        s0, s1 = states
        return [s1, self.fc(s0 + s1)]


@model_wrapper
class RepeatOfPairs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Repeat(lambda: Pair(), (1, 2), label="depth")
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, out = self.blocks([x, x])
        return self.head(out)


@pytest.mark.parametrize("name", ["DARTS", "GumbelDARTS"])
def test_a_depth_choice_over_blocks_returning_lists_is_mixed(name: str) -> None:
    model = RepeatOfPairs()
    data = [batch_of(separable(), 8)]
    algorithm = getattr(strategy, name)().make_algorithm()
    trainer = SupernetTrainer(algorithm, model, F.cross_entropy, None, sgd(model), 1, data, data)
    trainer.fit()
    assert set(trainer.export_probs()["depth"]) == {"1", "2"}


def test_proxyless_gives_the_trained_subnet_weights_after_training() -> None:
    model = UsefulOrZero()
    data = [batch_of(separable(), 8)]
    algorithm = strategy.Proxyless().make_algorithm()
    trainer = SupernetTrainer(algorithm, model, F.cross_entropy, None, sgd(model), 1, data, data)
    trainer.fit()
    state = trainer.sub_state_dict()
    assert torch.equal(state["head.weight"], model.head.weight)
