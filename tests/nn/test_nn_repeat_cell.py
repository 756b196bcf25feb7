"""Repeat (int, range, ValueChoice depth; module, factory and list blocks) and Cell."""

from __future__ import annotations

import pytest
import torch
import torch.nn as tnn

import retiarii.nn.pytorch as nn
from retiarii import ModelSpace, fixed_arch, model_wrapper
from retiarii.mutable import SampleError
from retiarii.nn.pytorch import FrozenCell, NotFrozenError

# -- Repeat ------------------------------------------------------------------------------------------

BLOCK_KINDS = {
    "module": lambda: nn.Linear(4, 4),
    "factory": lambda: lambda index: nn.Linear(4, 4),
    "factory-no-arg": lambda: lambda: nn.Linear(4, 4),
    "class": lambda: _Block,
    "list": lambda: [nn.Linear(4, 4) for _ in range(4)],
    "list-of-factories": lambda: [(lambda: nn.Linear(4, 4)) for _ in range(4)],
}


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


@model_wrapper
class RepeatNet(nn.Module):
    def __init__(self, blocks: object, depth: object, label: str | None = None) -> None:
        super().__init__()
        self.stem = nn.Linear(3, 4)
        self.body = nn.Repeat(blocks, depth, label=label)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(x))


def _block_keys(depth: int, kind: str) -> list[str]:
    inner = "fc." if kind == "class" else ""
    return [f"body.{i}.{inner}{p}" for i in range(depth) for p in ("weight", "bias")]


@pytest.mark.parametrize("kind", list(BLOCK_KINDS))
@pytest.mark.parametrize("depth", [(1, 3), "valuechoice"])
def test_repeat_with_chosen_depth(kind: str, depth: object, check_frozen, check_trains) -> None:
    def build() -> RepeatNet:
        d = nn.ValueChoice([1, 2, 3], label="depth") if depth == "valuechoice" else depth
        return RepeatNet(BLOCK_KINDS[kind](), d, label="depth" if depth != "valuechoice" else None)

    space = ModelSpace(build())
    assert space.labels == ["depth"]
    assert space.size == 3
    assert space.to_json() == {"depth": {"_type": "choice", "_value": [1, 2, 3]}}
    for d in (1, 2, 3):
        frozen = space.freeze({"depth": d})
        with fixed_arch({"depth": d}):
            built = build()
        for model in (frozen, built):
            check_frozen(model)
            assert type(model.body) is tnn.Sequential
            assert len(model.body) == d
            assert list(model.state_dict())[2:] == _block_keys(d, kind)
            check_trains(model, torch.randn(2, 3))


def test_repeat_with_fixed_depth(check_frozen) -> None:
    space = ModelSpace(RepeatNet(nn.Linear(4, 4), 2))
    assert space.labels == []
    assert space.size == 1
    model = space.freeze({})
    check_frozen(model)
    assert type(model.body) is tnn.Sequential and len(model.body) == 2
    # A fixed-depth Repeat is runnable as is.
    assert space.model(torch.randn(1, 3)).shape == (1, 4)


def test_repeated_module_blocks_are_independent_copies() -> None:
    model = ModelSpace(RepeatNet(nn.Linear(4, 4), (2, 2), label="d")).freeze({"d": 2})
    assert model.body[0] is not model.body[1]
    assert model.body[0].weight is not model.body[1].weight


def test_factory_receives_the_block_index() -> None:
    seen: list[int] = []

    def make(index: int) -> tnn.Module:
        seen.append(index)
        return nn.Linear(4, 4)

    RepeatNet(make, (1, 3), label="d")
    assert seen == [0, 1, 2]
    seen.clear()
    with fixed_arch({"d": 2}):
        model = RepeatNet(make, (1, 3), label="d")
    assert seen == [0, 1]  # blocks beyond the chosen depth are never built
    assert len(model.body) == 2


def test_repeat_depth_from_an_expression_label() -> None:
    layers = nn.ValueChoice([1, 2], label="layers")
    space = ModelSpace(RepeatNet(nn.Linear(4, 4), layers * 2))
    assert space.labels == ["layers"]
    assert [len(space.freeze(s).body) for s in space.grid()] == [2, 4]


def test_repeat_depth_zero_is_identity() -> None:
    space = ModelSpace(RepeatNet(nn.Linear(4, 4), (0, 1), label="d"))
    model = space.freeze({"d": 0})
    assert len(model.body) == 0
    x = torch.randn(2, 3)
    assert torch.equal(model(x), model.stem(x))


def test_repeat_unfrozen_forward_raises() -> None:
    with pytest.raises(NotFrozenError, match=r"'d'.*fixed_arch"):
        RepeatNet(nn.Linear(4, 4), (1, 2), label="d")(torch.randn(1, 3))


def test_repeat_missing_depth_in_fixed_arch_names_the_label() -> None:
    with pytest.raises(SampleError, match="'d'"), fixed_arch({}):
        RepeatNet(nn.Linear(4, 4), (1, 2), label="d")


@pytest.mark.parametrize("depth", [(2, 1), (-1, 2), (1, 2, 3), -1, "3", 2.0])
def test_repeat_invalid_depth(depth: object) -> None:
    with pytest.raises((ValueError, TypeError), match="depth"):
        nn.Repeat(nn.Linear(4, 4), depth)  # type: ignore[arg-type]


def test_repeat_list_too_short() -> None:
    with pytest.raises(ValueError, match="2 blocks given for max depth 3"):
        nn.Repeat([nn.Linear(4, 4), nn.Linear(4, 4)], (1, 3), label="short")


def test_choices_inside_repeated_blocks(check_same_architecture) -> None:
    # Each factory-built block has its own (automatically labelled) choices; building only the
    # chosen depth in fixed_arch must not renumber the choices built after the Repeat.
    @model_wrapper
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Repeat(
                lambda: nn.LayerChoice([nn.Linear(4, 4), nn.ReLU()]), (1, 3), label="depth"
            )
            self.head = nn.LayerChoice([nn.Linear(4, 2), nn.Linear(4, 2, bias=False)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(x))

    space = ModelSpace(Net())
    assert space.labels == [
        "depth",
        "depth/0/model_1",
        "depth/1/model_1",
        "depth/2/model_1",
        "model_1",
    ]
    assert space.size == 3 * 2**3 * 2
    for sample in space.grid():
        with fixed_arch(sample):
            built = Net()
        frozen = space.freeze(sample)
        check_same_architecture(built, frozen)
        assert (built.head.bias is None) == (sample["model_1"] == 1)


def test_value_choice_shared_by_repeated_module_blocks() -> None:
    # A module block is deep-copied: its value choice keeps its label, so all copies share it.
    width = nn.ValueChoice([4, 8], label="width")
    block = nn.Sequential(nn.Linear(4, width), nn.Linear(width, 4))
    space = ModelSpace(RepeatNet(block, (1, 2), label="d"))
    assert space.labels == ["d", "width"]
    model = space.freeze({"d": 2, "width": 8})
    assert [m[0].out_features for m in model.body] == [8, 8]


# -- Cell -------------------------------------------------------------------------------------------------

OPS = {
    "linear": lambda: nn.Linear(4, 4),
    "relu": nn.ReLU,
    "skip": lambda node, op, inp: nn.Identity(),
}


@model_wrapper
class CellNet(nn.Module):
    def __init__(self, merge_op: str = "all") -> None:
        super().__init__()
        self.cell = nn.Cell(
            OPS,
            num_nodes=3,
            num_ops_per_node=2,
            num_predecessors=2,
            merge_op=merge_op,
            label="cell",
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.cell(a, b)


CELL_LABELS = [
    f"cell/{kind}_{i}_{j}" for i in range(2, 5) for kind in ("op", "input") for j in range(2)
]


def test_cell_labels_and_size() -> None:
    space = ModelSpace(CellNet())
    assert sorted(space.labels) == sorted(CELL_LABELS)
    # node i: 3 ops and (2 + i) inputs per operation, 2 operations.
    assert space.size == (3 * 2) ** 2 * (3 * 3) ** 2 * (3 * 4) ** 2
    spec = space.to_json()
    assert spec["cell/op_2_0"] == {"_type": "layer_choice", "_value": ["linear", "relu", "skip"]}
    assert spec["cell/input_4_1"] == {
        "_type": "input_choice",
        "_value": {"candidates": [0, 1, 2, 3], "n_chosen": 1},
    }


@pytest.mark.parametrize("merge_op", ["all", "loose_end"])
@pytest.mark.parametrize("seed", range(3))
def test_cell_freeze_and_forward(
    merge_op: str, seed: int, check_frozen, check_same_architecture
) -> None:
    space = ModelSpace(CellNet(merge_op))
    sample = space.random(seed)
    frozen = space.freeze(sample)
    with fixed_arch(sample):
        built = CellNet(merge_op)
    for model in (frozen, built):
        check_frozen(model)
        assert type(model.cell) is FrozenCell
    check_same_architecture(frozen, built)

    consumed = {sample[f"cell/input_{i}_{j}"][0] for i in range(2, 5) for j in range(2)}
    merged = [i for i in range(2, 5) if merge_op == "all" or i not in consumed]
    assert frozen.cell.output_node_indices == merged
    assert built.cell.output_node_indices == merged
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    out = frozen(a, b)
    assert out.shape == (5, 4 * len(merged))
    built.load_state_dict(frozen.state_dict(), strict=True)
    torch.testing.assert_close(built(a, b), out)


def test_cell_frozen_keys_hold_only_chosen_linear_ops() -> None:
    space = ModelSpace(CellNet())
    sample: dict[str, object] = {f"cell/input_{i}_{j}": [0] for i in range(2, 5) for j in range(2)}
    sample.update({f"cell/op_{i}_{j}": "relu" for i in range(2, 5) for j in range(2)})
    sample["cell/op_2_0"] = sample["cell/op_3_1"] = "linear"
    model = space.freeze(sample)
    assert list(model.state_dict()) == [
        "cell.ops.0.0.weight",
        "cell.ops.0.0.bias",
        "cell.ops.1.1.weight",
        "cell.ops.1.1.bias",
    ]
    # The computation: node 0 = linear(a) + relu(a), node 1 = relu(a) + linear(a), node 2 = 2 relu(a).
    a, b = torch.randn(2, 4), torch.randn(2, 4)
    out = model(a, b)
    n0 = model.cell.ops[0][0](a) + torch.relu(a)
    n1 = torch.relu(a) + model.cell.ops[1][1](a)
    n2 = 2 * torch.relu(a)
    torch.testing.assert_close(out, torch.cat([n0, n1, n2], dim=1))


def test_cell_unfrozen_forward_raises() -> None:
    with pytest.raises(NotFrozenError, match="'cell'"):
        CellNet()(torch.randn(1, 4), torch.randn(1, 4))


def test_cell_called_with_wrong_number_of_inputs() -> None:
    model = ModelSpace(CellNet()).freeze(ModelSpace(CellNet()).random(0))
    with pytest.raises(ValueError, match="takes 2 inputs, got 1"):
        model.cell(torch.randn(1, 4))
    assert model.cell([torch.randn(1, 4), torch.randn(1, 4)]).shape == (1, 12)


def test_cell_with_list_candidates_and_modules() -> None:
    cell = nn.Cell([nn.Linear(4, 4), nn.Tanh()], num_nodes=2, label="c2")
    space = ModelSpace(cell)
    assert space.to_json()["c2/op_1_0"] == {"_type": "layer_choice", "_value": [0, 1]}
    model = space.freeze({"c2/op_1_0": 0, "c2/input_1_0": [0], "c2/op_2_0": 0, "c2/input_2_0": [1]})
    assert type(model) is FrozenCell
    # Module candidates are deep-copied per edge: two independent Linear layers.
    assert model.ops[0][0] is not model.ops[1][0]
    assert model(torch.randn(3, 4)).shape == (3, 8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"merge_op": "concat"}, "merge_op"),
        ({"num_nodes": 0}, "num_nodes"),
        ({"num_predecessors": 0}, "num_predecessors"),
        ({"op_candidates": []}, "op_candidates"),
    ],
)
def test_cell_invalid_arguments(kwargs: dict, match: str) -> None:
    args = {"op_candidates": OPS, "num_nodes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.Cell(**args, label="bad")


# -- Cell: NNI's numbering and fixed_arch --------------------------------------------------------


def _recording_factory(calls: list[tuple[int, int, int]]):
    def factory(node: int, op: int, inp: int) -> tnn.Module:
        calls.append((node, op, inp))
        return nn.Linear(4, 4)

    return factory


def test_cell_factories_get_nni_node_indices() -> None:
    calls: list[tuple[int, int, int]] = []
    nn.Cell({"lin": _recording_factory(calls)}, num_nodes=2, num_predecessors=2, label="c")
    # node 2 reads nodes 0-1, node 3 reads nodes 0-2: one candidate copy per input
    assert calls == [(2, 0, 0), (2, 0, 1), (3, 0, 0), (3, 0, 1), (3, 0, 2)]


@model_wrapper
class _OneCell(nn.Module):
    """A cell, and the width of what follows it, read while building (as NDS networks do)."""

    def __init__(self, **cell_kwargs: object) -> None:
        super().__init__()
        self.cell = nn.Cell(**cell_kwargs)  # type: ignore[arg-type]
        self.out_nodes = list(self.cell.output_node_indices)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.cell(*xs)


def test_cell_in_fixed_arch_builds_only_the_chosen_edges() -> None:
    calls: list[tuple[int, int, int]] = []
    sample = {"c/op_2_0": "lin", "c/input_2_0": [1], "c/op_3_0": "lin", "c/input_3_0": [2]}
    with fixed_arch(sample):
        model = _OneCell(
            op_candidates={"lin": _recording_factory(calls), "tanh": nn.Tanh},
            num_nodes=2,
            num_predecessors=2,
            merge_op="loose_end",
            label="c",
        )
    assert calls == [(2, 0, 1), (3, 0, 2)]
    # known while building, so a network can size the layer after a loose-end cell
    assert model.out_nodes == [3]
    assert type(model.cell) is FrozenCell and model.cell.output_node_indices == [3]
    assert model(torch.randn(2, 4), torch.randn(2, 4)).shape == (2, 4)


def test_cell_space_output_node_indices_are_every_node() -> None:
    cell = nn.Cell(OPS, num_nodes=3, num_predecessors=2, merge_op="loose_end", label="c")
    assert cell.output_node_indices == [2, 3, 4]


def test_cell_loads_nni_exported_input_values() -> None:
    # NNI exports an input choice of a cell as a list ([0]); a bare index is accepted as well.
    nni_sample = {"c2/op_1_0": 0, "c2/input_1_0": [0], "c2/op_2_0": 1, "c2/input_2_0": [1]}
    bare = {**nni_sample, "c2/input_1_0": 0, "c2/input_2_0": 1}
    for sample in (nni_sample, bare):
        with fixed_arch(sample):
            model = _OneCell(op_candidates=[nn.Linear(4, 4), nn.Tanh()], num_nodes=2, label="c2")
        assert model.cell.inputs == [[0], [1]]


def test_cell_postprocessor_gets_the_inputs_as_given() -> None:
    class Pre(tnn.Module):
        def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
            return [x * 0 for x in xs]

    class Post(tnn.Module):
        def forward(self, out: torch.Tensor, xs: list[torch.Tensor]) -> list[torch.Tensor]:
            return [xs[-1], out]

    cell = nn.Cell([nn.Identity()], num_nodes=1, num_predecessors=2, preprocessor=Pre(),
                   postprocessor=Post(), label="p")  # fmt: skip
    frozen = ModelSpace(cell).freeze({"p/op_2_0": 0, "p/input_2_0": [1]})
    a, b = torch.ones(1, 2), torch.full((1, 2), 2.0)
    prev, out = frozen([a, b])
    torch.testing.assert_close(prev, b)  # NNI: [previous input, this cell] chains cells
    torch.testing.assert_close(out, torch.zeros(1, 2))


# -- Cell: fixed output nodes (retiarii extension) ------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_cell_output_nodes_fix_the_concatenation_whatever_the_sample(seed: int) -> None:
    # NASNet-A's normal cell (TF slim's used_hiddenstates) outputs an input next to its nodes
    kwargs = {"op_candidates": OPS, "num_nodes": 3, "num_predecessors": 2, "label": "c",
              "merge_op": "loose_end", "output_nodes": [0, 3, 4]}  # fmt: skip
    space = ModelSpace(_OneCell(**kwargs))
    assert space.model.cell.output_node_indices == [0, 3, 4]
    sample = space.random(seed)
    frozen = space.freeze(sample)
    with fixed_arch(sample):
        built = _OneCell(**kwargs)
    assert built.out_nodes == [0, 3, 4]
    for model in (frozen, built):
        assert type(model.cell) is FrozenCell and model.cell.output_node_indices == [0, 3, 4]
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    out = frozen(a, b)
    assert out.shape == (5, 12)
    torch.testing.assert_close(out[:, :4], a)  # input 0, as the nodes read it (no preprocessor)
    built.load_state_dict(frozen.state_dict())
    torch.testing.assert_close(built(a, b), out)


@pytest.mark.parametrize("nodes", [[], [0, 0], [5], [-1], ["2"]])
def test_cell_output_nodes_must_be_distinct_nodes(nodes: list[object]) -> None:
    with pytest.raises(ValueError, match=r"output_nodes must be distinct node indices in 0\.\.4"):
        nn.Cell(OPS, num_nodes=3, num_predecessors=2, output_nodes=nodes, label="bad")  # type: ignore[arg-type]
