"""Descriptions of strategies and evaluators shorten long arguments the same way."""

from __future__ import annotations

import retiarii.strategy as strategy
from retiarii._repr import short_repr
from retiarii.evaluator import FunctionalEvaluator


def fit(model, note: str = "") -> None:
    pass


class Tagged(strategy.Random):
    """A user's strategy with a text argument."""

    def __init__(self, tag: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.tag = tag


def test_long_arguments_are_cut_alike_in_strategy_and_evaluator_descriptions() -> None:
    note = "x" * 500
    assert len(short_repr(note)) < 70
    evaluator = repr(FunctionalEvaluator(fit, note=note))
    assert evaluator == f"FunctionalEvaluator(fit, note={short_repr(note)})"
    assert repr(Tagged(tag=note)) == f"Tagged(tag={short_repr(note)})"
