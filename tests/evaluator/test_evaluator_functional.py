"""FunctionalEvaluator and the Evaluator base class, called directly (the debugging path)."""

from __future__ import annotations

import logging

import pytest
import torch

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper
from retiarii.evaluator import Evaluator, FunctionalEvaluator
from retiarii.reporting import trial_reporter


@model_wrapper
class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def fit(model, lr, epochs=2):
    for epoch in range(epochs):
        retiarii.report_intermediate_result(lr * (epoch + 1))
    retiarii.report_final_result({"default": 0.75, "loss": 0.1})
    return "trained"


class Recorder:
    def __init__(self) -> None:
        self.intermediate_values: list = []
        self.final_values: list = []

    def intermediate(self, metric) -> None:
        self.intermediate_values.append(metric)

    def final(self, metric) -> None:
        self.final_values.append(metric)


def test_calls_the_function_with_the_model_and_kwargs() -> None:
    calls = []
    evaluator = FunctionalEvaluator(
        lambda model, **kw: calls.append((model, kw)) or 0.5, a=1, b="x"
    )
    model = Small()
    assert evaluator.evaluate(model) == 0.5
    assert calls == [(model, {"a": 1, "b": "x"})]


def test_reports_go_to_the_current_reporter() -> None:
    recorder = Recorder()
    with trial_reporter(recorder):
        assert FunctionalEvaluator(fit, lr=0.1, epochs=3).evaluate(Small()) == "trained"
    assert recorder.intermediate_values == pytest.approx([0.1, 0.2, 0.3])
    assert recorder.final_values == [{"default": 0.75, "loss": 0.1}]


def test_outside_a_trial_reports_are_logged(caplog) -> None:
    caplog.set_level(logging.INFO, logger="retiarii.report")
    FunctionalEvaluator(fit, lr=0.5).evaluate(Small())
    messages = [r.getMessage() for r in caplog.records if r.name == "retiarii.report"]
    assert messages == [
        "intermediate result (not in a trial): 0.5",
        "intermediate result (not in a trial): 1.0",
        "final result (not in a trial): {'default': 0.75, 'loss': 0.1}",
    ]


def test_invalid_reports_raise_in_the_users_code() -> None:
    with pytest.raises(TypeError, match="must be a number"):
        FunctionalEvaluator(lambda m: retiarii.report_final_result("high")).evaluate(Small())
    with pytest.raises(ValueError, match="default"):
        FunctionalEvaluator(lambda m: retiarii.report_final_result({"acc": 1.0})).evaluate(Small())


def test_execute_builds_the_class_first() -> None:
    seen = []
    FunctionalEvaluator(lambda model: seen.append(model))._execute(Small)
    assert len(seen) == 1 and isinstance(seen[0], torch.nn.Module)
    assert seen[0](torch.zeros(1, 3)).shape == (1, 2)


def test_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="function"):
        FunctionalEvaluator("fit")  # type: ignore[arg-type]


def test_repr_names_the_function_and_arguments() -> None:
    assert (
        repr(FunctionalEvaluator(fit, lr=0.1, epochs=1))
        == "FunctionalEvaluator(fit, epochs=1, lr=0.1)"
    )


def test_base_evaluator_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        Evaluator().evaluate(Small())


def test_evaluator_is_cloudpicklable() -> None:
    import cloudpickle

    evaluator = FunctionalEvaluator(lambda model, k: k * 2, k=21)
    again = cloudpickle.loads(cloudpickle.dumps(evaluator))
    assert again.evaluate(Small()) == 42


def test_old_trainer_alias() -> None:
    from retiarii.trainer import FunctionalTrainer

    assert FunctionalTrainer is FunctionalEvaluator


def test_a_function_that_cannot_take_the_arguments_is_refused_at_once() -> None:
    def train(model, epochs, lr=0.1):
        return 0.5

    with pytest.raises(TypeError, match=r"train\(model, epochs, lr=0.1\) cannot be called as "):
        FunctionalEvaluator(train, epoch=3)  # misspelled
    with pytest.raises(TypeError, match="missing a required argument: 'epochs'"):
        FunctionalEvaluator(train)
    with pytest.raises(TypeError, match="cannot be called"):
        FunctionalEvaluator(lambda: 0.0)  # takes no model
    FunctionalEvaluator(train, epochs=1)  # fine
    FunctionalEvaluator(lambda model, **kw: 0.0, anything=1)  # **kwargs accepts all
