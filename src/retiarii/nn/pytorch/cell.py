"""``Cell``: a DARTS-style cell whose nodes choose their inputs and operations.

Node ``i`` (``0 <= i < num_nodes``) has ``num_ops_per_node`` operations; operation ``j`` takes one
input from the ``num_predecessors`` cell inputs and the earlier nodes, and applies one of
``op_candidates``. The node sums its operations; the cell concatenates its nodes (``merge_op='all'``)
or only the nodes no other node consumed (``'loose_end'``).

Labels: ``{label}/op_{i}_{j}`` (which operation) and ``{label}/input_{i}_{j}`` (which input, a list
of one index). Because an operation may depend on its input (e.g. stride 2 on cell inputs in a
reduction cell), the space holds one copy of every candidate per possible input, all sharing the
``op`` decision; the frozen cell keeps only the chosen one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as tnn

from ...mutable import Choice, InputSubset
from ...mutable.labels import auto_label, validate_label
from .base import MutableModule
from .choices import LayerChoiceDecision, call_factory

if TYPE_CHECKING:
    from .freeze import Freezer

__all__ = ["Cell", "FrozenCell"]

OpCandidate = tnn.Module | Callable[..., tnn.Module]


def _merge(states: list[Any], indices: list[int], dim: int) -> Any:
    chosen = [states[i] for i in indices]
    return chosen[0] if len(chosen) == 1 else torch.cat(chosen, dim=dim)


class _CellIO(tnn.Module):
    """Shared pre/post-processing of a cell's inputs and output."""

    num_predecessors: int
    concat_dim: int
    preprocessor: tnn.Module | None
    postprocessor: tnn.Module | None

    def _inputs(self, args: tuple[Any, ...]) -> list[Any]:
        inputs = (
            list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
        )
        if len(inputs) != self.num_predecessors:
            raise ValueError(f"this cell takes {self.num_predecessors} inputs, got {len(inputs)}")
        if self.preprocessor is not None:
            inputs = list(self.preprocessor(inputs))
        return inputs

    def _output(self, merged: Any, inputs: list[Any]) -> Any:
        return self.postprocessor(merged, inputs) if self.postprocessor is not None else merged


class FrozenCell(_CellIO):
    """A decided cell: per node, the chosen ``(input index, operation)`` pairs."""

    def __init__(
        self,
        inputs: list[list[int]],
        ops: list[list[tnn.Module]],
        merge_nodes: list[int],
        num_predecessors: int,
        concat_dim: int,
        preprocessor: tnn.Module | None,
        postprocessor: tnn.Module | None,
    ) -> None:
        super().__init__()
        self.inputs = inputs
        self.ops = tnn.ModuleList(tnn.ModuleList(node) for node in ops)
        self.merge_nodes = merge_nodes
        self.num_predecessors = num_predecessors
        self.concat_dim = concat_dim
        self.preprocessor = preprocessor
        self.postprocessor = postprocessor

    def forward(self, *args: Any) -> Any:
        inputs = self._inputs(args)
        states = list(inputs)
        for node_inputs, node_ops in zip(self.inputs, list(self.ops)):
            outs = [op(states[k]) for k, op in zip(node_inputs, list(node_ops))]  # type: ignore[call-overload]
            states.append(outs[0] if len(outs) == 1 else torch.stack(outs).sum(0))
        merged = _merge(
            states, [self.num_predecessors + i for i in self.merge_nodes], self.concat_dim
        )
        return self._output(merged, inputs)


class Cell(MutableModule, _CellIO):
    """A DARTS-style cell (see the module docstring).

    Args:
        op_candidates: a list or dict of candidate operations: modules (deep-copied per edge) or
            factories called as ``f(node_index, op_index, input_index)`` (or with fewer args).
        num_nodes: number of intermediate nodes.
        num_ops_per_node: operations (each with its own input) summed into a node.
        num_predecessors: number of cell inputs.
        merge_op: ``'all'`` or ``'loose_end'``.
        preprocessor: optional module mapping the list of cell inputs to a list of tensors.
        postprocessor: optional module called as ``postprocessor(output, inputs)``.
        concat_dim: dimension along which node outputs are concatenated.
        label: prefix of the cell's labels (auto ``cell_N``).
    """

    def __init__(
        self,
        op_candidates: Mapping[str, OpCandidate] | list[OpCandidate],
        num_nodes: int,
        num_ops_per_node: int = 1,
        num_predecessors: int = 1,
        merge_op: str = "all",
        preprocessor: tnn.Module | None = None,
        postprocessor: tnn.Module | None = None,
        concat_dim: int = 1,
        *,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.label = validate_label(label, "Cell") if label is not None else auto_label("cell")
        if merge_op not in ("all", "loose_end"):
            raise ValueError(
                f"Cell {self.label!r}: merge_op must be 'all' or 'loose_end', got {merge_op!r}"
            )
        for name, value in (
            ("num_nodes", num_nodes),
            ("num_ops_per_node", num_ops_per_node),
            ("num_predecessors", num_predecessors),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Cell {self.label!r}: {name} must be a positive int, got {value!r}"
                )
        items = (
            list(op_candidates.items())
            if isinstance(op_candidates, Mapping)
            else list(enumerate(op_candidates))
        )
        if not items:
            raise ValueError(f"Cell {self.label!r}: op_candidates must not be empty")
        self.op_names = [name for name, _ in items]
        self.num_nodes, self.num_ops_per_node = num_nodes, num_ops_per_node
        self.num_predecessors, self.merge_op, self.concat_dim = (
            num_predecessors,
            merge_op,
            concat_dim,
        )
        self.preprocessor, self.postprocessor = preprocessor, postprocessor
        self._op_decisions: list[list[LayerChoiceDecision]] = []
        self._input_decisions: list[list[InputSubset]] = []
        # edges[i][j][k][name]: operation j of node i reading input k
        self.edges = tnn.ModuleList()
        for i in range(num_nodes):
            n_inputs = num_predecessors + i
            self._op_decisions.append(
                [
                    LayerChoiceDecision(self.op_names, label=f"{self.label}/op_{i}_{j}")
                    for j in range(num_ops_per_node)
                ]
            )
            self._input_decisions.append(
                [
                    InputSubset(n_inputs, 1, label=f"{self.label}/input_{i}_{j}")
                    for j in range(num_ops_per_node)
                ]
            )
            self.edges.append(
                tnn.ModuleList(
                    tnn.ModuleList(
                        tnn.ModuleDict({str(name): self._build(op, i, j, k) for name, op in items})
                        for k in range(n_inputs)
                    )
                    for j in range(num_ops_per_node)
                )
            )

    @staticmethod
    def _build(op: OpCandidate, node: int, op_index: int, input_index: int) -> tnn.Module:
        if isinstance(op, tnn.Module):
            return copy.deepcopy(op)
        built = call_factory(op, node, op_index, input_index)
        if not isinstance(built, tnn.Module):
            raise TypeError(f"Cell op factory {op!r} returned {type(built).__name__}, not a Module")
        return built

    def _retiarii_decisions(self) -> Iterable[Choice]:
        for ops, inputs in zip(self._op_decisions, self._input_decisions):
            yield from ops
            yield from inputs

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        inputs: list[list[int]] = []
        ops: list[list[tnn.Module]] = []
        for i in range(self.num_nodes):
            node_inputs = [d.freeze(freezer.sample)[0] for d in self._input_decisions[i]]
            names = [d.freeze(freezer.sample) for d in self._op_decisions[i]]
            inputs.append(node_inputs)
            ops.append(
                [
                    freezer.module(self.edges[i][j][k][str(name)])  # type: ignore[index]
                    for j, (k, name) in enumerate(zip(node_inputs, names))
                ]
            )
        if self.merge_op == "all":
            merge = list(range(self.num_nodes))
        else:
            used = {k - self.num_predecessors for node in inputs for k in node}
            merge = [i for i in range(self.num_nodes) if i not in used]
        pre = freezer.module(self.preprocessor) if self.preprocessor is not None else None
        post = freezer.module(self.postprocessor) if self.postprocessor is not None else None
        return FrozenCell(inputs, ops, merge, self.num_predecessors, self.concat_dim, pre, post)

    def forward(self, *args: Any) -> Any:
        self._not_frozen()
