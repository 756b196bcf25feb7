"""Parameters and FLOPs from the space equal those of the built model, for every kind of choice."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import torch
import torch.nn as tnn
from torch.utils.flop_counter import FlopCounterMode

import retiarii.nn.pytorch as nn
from retiarii.mutable import SampleError
from retiarii.nn.pytorch import ModelSpace, basic_unit, model_wrapper
from retiarii.profiler import FlopsProfiler, NumParamsProfiler


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def measured(space: ModelSpace, sample: dict[str, object], x: torch.Tensor) -> tuple[int, int]:
    """Build the model and count: what the profilers must reproduce without building."""
    model = space.build(sample).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


@model_wrapper
class UserNet(nn.Module):
    """Value choices in layer arguments (shared between layers), Repeat, LayerChoice, InputChoice."""

    def __init__(self) -> None:
        super().__init__()
        width = nn.ValueChoice([8, 16], label="width")
        self.stem = nn.Conv2d(3, width, nn.ValueChoice([3, 5], label="k"), padding=2)
        self.body = nn.Repeat(
            lambda i: nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU()),
            (1, 3),
            label="depth",
        )
        self.branch = nn.LayerChoice(
            {"conv": nn.Conv2d(width, width, 1), "pool": nn.MaxPool2d(3, 1, 1)}, label="op"
        )
        self.pick = nn.InputChoice(n_candidates=2, n_chosen=1, label="skip")
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.body(x)
        y = self.pick([y, self.branch(y)])
        return self.head(y.mean((2, 3)))


OPS = {
    "linear": lambda node, op, inp: nn.Linear(4, 4),
    "relu": lambda node, op, inp: nn.ReLU(),
    "skip": lambda node, op, inp: nn.Identity(),
}


@model_wrapper
class CellNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.Cell(OPS, num_nodes=3, num_ops_per_node=2, num_predecessors=2, label="c")
        self.out = nn.Linear(12, 2)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.out(self.cell(a, b))


def test_user_space_is_exact_on_every_sample() -> None:
    space = ModelSpace(UserNet())
    x = torch.zeros(2, 3, 12, 12)
    params, flops = NumParamsProfiler(space), FlopsProfiler(space.model, x)
    for sample in space.grid():
        assert (params.profile(sample), flops.profile(sample)) == measured(space, sample, x)
    assert params.fallbacks == [] and flops.fallbacks == []


def test_cell_is_exact() -> None:
    space = ModelSpace(CellNet())
    a = torch.zeros(3, 4)
    flops = FlopsProfiler(space, (a, a))
    params = NumParamsProfiler(space)
    for seed in range(30):
        sample = space.random(seed)
        model = space.build(sample).eval()
        with FlopCounterMode(display=False) as counter:
            model(a, a)
        assert flops.profile(sample) == counter.get_total_flops() // 2
        assert params.profile(sample) == sum(p.numel() for p in model.parameters())


def test_convention_is_multiply_adds() -> None:
    space = nn.Linear(4, nn.ValueChoice([8, 16], label="width"))
    # 2 rows x 4 inputs x 16 outputs; the bias is not counted
    assert FlopsProfiler(space, torch.zeros(2, 4)).profile({"width": 16}) == 2 * 4 * 16
    assert NumParamsProfiler(space).profile({"width": 8}) == 4 * 8 + 8


def test_space_is_left_untouched_and_nothing_is_allocated() -> None:
    model = UserNet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    profiler = FlopsProfiler(model, torch.zeros(1, 3, 8, 8))
    profiler.profile({"width": 16, "k": 5, "depth": 3, "op": "conv", "skip": [1]})
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(not p.is_meta for p in model.parameters())


def test_invalid_sample_names_the_label() -> None:
    profiler = NumParamsProfiler(UserNet())
    with pytest.raises(SampleError, match="width"):
        profiler.profile({"width": 7, "k": 3, "depth": 1, "op": "conv", "skip": [0]})


def test_not_a_space_is_refused() -> None:
    with pytest.raises(TypeError, match="model space"):
        NumParamsProfiler("resnet")


class ReadsValues(tnn.Module):
    """A forward that needs real values: it cannot run on meta tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = tnn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum().item() > 1e9:  # data-dependent control flow
            return x
        return self.fc(x)


def test_module_that_cannot_run_on_meta_is_measured_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    space = nn.Sequential(ReadsValues(), nn.Linear(4, nn.ValueChoice([2, 3], label="w")))
    with caplog.at_level(logging.WARNING):
        profiler = FlopsProfiler(space, torch.zeros(1, 4))
        assert profiler.profile({"w": 2}) == 16 + 8
        assert profiler.profile({"w": 3}) == 16 + 12
    assert profiler.fallbacks == ["ReadsValues"]
    assert sum("ReadsValues" in r.getMessage() for r in caplog.records) == 1


def test_profilers_survive_pickling() -> None:
    import cloudpickle

    space = UserNet()
    sample = {"width": 16, "k": 5, "depth": 2, "op": "conv", "skip": [1]}
    for profiler in (NumParamsProfiler(space), FlopsProfiler(space, torch.zeros(1, 3, 8, 8))):
        expected = profiler.profile(sample)
        copy = cloudpickle.loads(cloudpickle.dumps(profiler))
        assert copy.profile(sample) == expected


class Scaled(tnn.Module):
    """A raw parameter whose shape its repr does not show."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.scale = tnn.Parameter(torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def test_look_alike_modules_with_different_parameters_are_told_apart() -> None:
    space = nn.Sequential(Scaled(4), Scaled(1), nn.Linear(4, nn.ValueChoice([2, 3], label="w")))
    assert NumParamsProfiler(space).profile({"w": 2}) == 4 + 1 + 10


@basic_unit
class Block(tnn.Module):
    """A basic unit rebuilt whole from its (value-choice) arguments."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = tnn.Linear(width, hidden)
        self.fc2 = tnn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.fc1(x).relu())


def test_basic_unit_with_value_choice_arguments_is_exact() -> None:
    space = ModelSpace(nn.Sequential(Block(4, nn.ValueChoice([3, 6, 9], label="hidden"))))
    x = torch.zeros(5, 4)
    params, flops = NumParamsProfiler(space), FlopsProfiler(space, x)
    for sample in space.grid():
        assert (params.profile(sample), flops.profile(sample)) == measured(space, sample, x)
