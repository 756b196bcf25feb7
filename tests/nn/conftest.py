"""Shared checks for the PyTorch model-space tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn as tnn

from retiarii.mutable import leaves_of
from retiarii.nn.pytorch import ChosenInputs, FrozenCell, MutableModule

# The only retiarii classes a frozen model may contain: parameter-free, decision-free glue.
_ALLOWED_RETIARII = (ChosenInputs, FrozenCell)


def assert_frozen(model: tnn.Module) -> None:
    """``model`` holds no retiarii choice modules, no retiarii layer classes, no undecided values."""
    for name, module in model.named_modules():
        cls = type(module)
        where = f"module {name or '<root>'} ({cls.__module__}.{cls.__qualname__})"
        assert not isinstance(module, MutableModule), f"{where} is an undecided choice"
        if cls.__module__.startswith("retiarii"):
            assert cls in _ALLOWED_RETIARII, f"{where} is a retiarii class"
        if cls.__module__.startswith("torch."):
            assert cls.__module__.startswith("torch.nn."), where
        assert "_retiarii_mutable_args" not in vars(module), f"{where} keeps value-choice args"
        for attr, value in vars(module).items():
            if attr.startswith("_"):
                continue
            assert next(leaves_of(value), None) is None, f"{where}.{attr} holds a choice"
    for _, param in model.named_parameters():
        assert type(param) is tnn.Parameter


def assert_same_architecture(a: tnn.Module, b: tnn.Module) -> None:
    """Same state_dict keys, in the same order, with the same shapes, and the same module types."""
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert {k: tuple(v.shape) for k, v in sa.items()} == {k: tuple(v.shape) for k, v in sb.items()}
    assert [(n, type(m)) for n, m in a.named_modules()] == [
        (n, type(m)) for n, m in b.named_modules()
    ]


def assert_trains(model: tnn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """Forward, backward: every parameter gets a gradient."""
    out = model(*inputs)
    loss = out.float().pow(2).mean()
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    return out


@pytest.fixture(scope="session")
def check_frozen() -> Callable[[tnn.Module], None]:
    return assert_frozen


@pytest.fixture(scope="session")
def check_same_architecture() -> Callable[[tnn.Module, tnn.Module], None]:
    return assert_same_architecture


@pytest.fixture(scope="session")
def check_trains() -> Callable[..., torch.Tensor]:
    return assert_trains
