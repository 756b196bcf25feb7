"""``Cell``: a DARTS-style cell whose nodes choose their inputs and operations.

Nodes are numbered as NNI numbers them: the ``num_predecessors`` cell inputs are nodes
``0 .. num_predecessors - 1`` and the intermediate nodes follow, so with two inputs the first
intermediate node is node 2. Node ``n`` has ``num_ops_per_node`` operations; operation ``j`` takes
one input among the nodes before ``n`` and applies one of ``op_candidates``. The node sums its
operations; the cell concatenates its nodes (``merge_op='all'``) or only the nodes no other node
consumed (``'loose_end'``). ``output_node_indices`` lists the concatenated nodes. A retiarii
extension, ``output_nodes=[...]``, fixes the concatenated nodes instead (cell inputs allowed), for
cells such as NASNet-A's whose published output is neither rule.

Labels (NNI's): ``{label}/op_{n}_{j}`` (which operation: a candidate name) and
``{label}/input_{n}_{j}`` (which input: a list of one node index, ``[0]``; a bare ``0`` is
accepted too), so a sample NNI exported for a cell space loads with ``fixed_arch``.

Because an operation may depend on its input (e.g. stride 2 on cell inputs in a reduction cell),
the space holds one copy of every candidate per possible input, all sharing the ``op`` decision;
the frozen cell keeps only the chosen one. Inside ``fixed_arch`` only the chosen ``(input,
operation)`` of every edge is built, so ``output_node_indices`` is known during construction (what
a network needs to size the next layer after a ``'loose_end'`` cell).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as tnn

from ...mutable import Choice, InputSubset
from ...mutable.labels import label_or_auto
from .base import MutableModule
from .choices import LayerChoiceDecision, call_factory
from .fixed import current_fixed

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

    def _inputs(self, args: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
        """The cell's inputs as given, and after the preprocessor (what the nodes read)."""
        inputs = (
            list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
        )
        if len(inputs) != self.num_predecessors:
            raise ValueError(f"this cell takes {self.num_predecessors} inputs, got {len(inputs)}")
        states = list(self.preprocessor(inputs)) if self.preprocessor is not None else inputs
        return inputs, states

    def _output(self, merged: Any, inputs: list[Any]) -> Any:
        # NNI calls postprocessor(this_cell, inputs) with the inputs as given, not preprocessed:
        # NDS cells return [inputs[-1], this_cell] so that cells chain.
        return self.postprocessor(merged, inputs) if self.postprocessor is not None else merged


class FrozenCell(_CellIO):
    """A decided cell: per intermediate node, the chosen ``(input index, operation)`` pairs.

    Attributes:
        inputs: ``inputs[i][j]`` is the node operation ``j`` of intermediate node ``i`` reads.
        ops: ``ops[i][j]`` is that operation.
        output_node_indices: the nodes concatenated to the output (NNI's attribute and
            numbering: cell inputs are nodes ``0 .. num_predecessors - 1``).
    """

    def __init__(
        self,
        inputs: list[list[int]],
        ops: list[list[tnn.Module]],
        output_node_indices: list[int],
        num_predecessors: int,
        concat_dim: int,
        preprocessor: tnn.Module | None,
        postprocessor: tnn.Module | None,
    ) -> None:
        super().__init__()
        self.inputs = inputs
        self.ops = tnn.ModuleList(tnn.ModuleList(node) for node in ops)
        self.output_node_indices = output_node_indices
        self.num_predecessors = num_predecessors
        self.concat_dim = concat_dim
        self.preprocessor = preprocessor
        self.postprocessor = postprocessor

    def forward(self, *args: Any) -> Any:
        inputs, states = self._inputs(args)
        states = list(states)
        for node_inputs, node_ops in zip(self.inputs, list(self.ops)):
            outs = [op(states[k]) for k, op in zip(node_inputs, list(node_ops))]  # type: ignore[call-overload]
            states.append(outs[0] if len(outs) == 1 else torch.stack(outs).sum(0))
        merged = _merge(states, self.output_node_indices, self.concat_dim)
        return self._output(merged, inputs)


def _output_nodes(
    merge_op: str,
    inputs: list[list[int]],
    num_predecessors: int,
    num_nodes: int,
    fixed: list[int] | None = None,
) -> list[int]:
    if fixed is not None:
        return list(fixed)
    nodes = range(num_predecessors, num_predecessors + num_nodes)
    if merge_op == "all":
        return list(nodes)
    used = {k for node in inputs for k in node}
    return [n for n in nodes if n not in used]


def check_output_nodes(nodes: Iterable[int] | None, num_states: int, what: str) -> list[int] | None:
    """``nodes`` as a list after checking that they are distinct node indices of a cell with
    ``num_states`` nodes (inputs included); ``what`` names the argument in the error."""
    if nodes is None:
        return None
    listed = list(nodes)
    if (
        not listed
        or len(set(listed)) != len(listed)
        or not all(isinstance(n, int) and 0 <= n < num_states for n in listed)
    ):
        raise ValueError(
            f"{what} must be distinct node indices in 0..{num_states - 1} (cell inputs first, "
            f"then the intermediate nodes), at least one; got {nodes!r}"
        )
    return listed


class Cell(MutableModule, _CellIO):
    """A DARTS-style cell (see the module docstring).

    Args:
        op_candidates: a list or dict of candidate operations: modules (deep-copied per edge) or
            factories called as ``f(node_index, op_index, input_index)`` (or with fewer args),
            where ``node_index`` counts the cell inputs first (NNI's numbering: the first
            intermediate node of a two-input cell is node 2) and ``input_index`` is the node the
            operation reads — so a factory can, e.g., give stride 2 to operations on cell inputs.
        num_nodes: number of intermediate nodes.
        num_ops_per_node: operations (each with its own input) summed into a node.
        num_predecessors: number of cell inputs.
        merge_op: ``'all'`` or ``'loose_end'``.
        preprocessor: optional module mapping the list of cell inputs to a list of tensors.
        postprocessor: optional module called as ``postprocessor(output, inputs)`` with the
            inputs as given (before the preprocessor), as in NNI.
        concat_dim: dimension along which node outputs are concatenated.
        label: prefix of the cell's labels (auto ``cell_N``).
        output_nodes: retiarii extension (NNI has no such argument): the nodes to concatenate,
            in this order, whatever the sample (``merge_op`` is then ignored). Cell inputs
            (``0 .. num_predecessors - 1``, after the preprocessor) may be listed: TF slim's
            NASNet-A normal cell, for instance, outputs its previous-previous input next to its
            five nodes (``used_hiddenstates``). ``None`` (the default): ``merge_op`` decides.

    Attributes:
        output_node_indices: the nodes concatenated to the output. In a space this is every
            intermediate node (what a supernet computes); inside ``fixed_arch`` it follows the
            sample (``'loose_end'`` drops the consumed nodes), as NNI's attribute does; with
            ``output_nodes`` it is that list, in a space too.
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
        output_nodes: Iterable[int] | None = None,
    ) -> None:
        super().__init__()
        self.label = label_or_auto(label, "Cell")
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
        self.output_nodes = check_output_nodes(
            output_nodes, num_predecessors + num_nodes, f"Cell {self.label!r}: output_nodes"
        )
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
        for i in range(num_nodes):
            node = num_predecessors + i
            self._op_decisions.append(
                [
                    LayerChoiceDecision(self.op_names, label=f"{self.label}/op_{node}_{j}")
                    for j in range(num_ops_per_node)
                ]
            )
            self._input_decisions.append(
                [
                    InputSubset(node, 1, label=f"{self.label}/input_{node}_{j}")
                    for j in range(num_ops_per_node)
                ]
            )
        chosen = self._chosen_in_fixed_arch(items)
        # edges[i][j][k][name]: operation j of intermediate node i reading node k. Inside
        # fixed_arch only the chosen (k, name) of each (i, j) is built; the other dicts stay empty.
        self.edges = tnn.ModuleList()
        for i in range(num_nodes):
            node = num_predecessors + i
            by_op = tnn.ModuleList()
            for j in range(num_ops_per_node):
                by_input = tnn.ModuleList()
                for k in range(node):
                    by_input.append(
                        tnn.ModuleDict(
                            {
                                str(name): self._build(op, node, j, k)
                                for o, (name, op) in enumerate(items)
                                if chosen is None or chosen[i][j] == (k, o)
                            }
                        )
                    )
                by_op.append(by_input)
            self.edges.append(by_op)
        self.output_node_indices = (
            list(range(num_predecessors, num_predecessors + num_nodes))
            if chosen is None and self.output_nodes is None
            else _output_nodes(
                merge_op,
                [[k for k, _ in node_choice] for node_choice in chosen or []],
                num_predecessors,
                num_nodes,
                self.output_nodes,
            )
        )

    def _chosen_in_fixed_arch(
        self, items: list[tuple[Any, OpCandidate]]
    ) -> list[list[tuple[int, int]]] | None:
        """``chosen[i][j] = (input node, candidate index)`` from the active ``fixed_arch`` sample,
        or ``None`` when not building for a sample (or the sample does not decide this cell)."""
        ctx = current_fixed()
        labels = [d.label for d in self._retiarii_decisions()]
        if ctx is None or not all(label in ctx.sample for label in labels):
            return None
        chosen = [
            [
                (inp.normalize(ctx.sample[inp.label])[0], op.index_of(ctx.sample[op.label]))
                for op, inp in zip(ops, inputs)
            ]
            for ops, inputs in zip(self._op_decisions, self._input_decisions)
        ]
        ctx.mark_used(labels)
        if any(not isinstance(op, tnn.Module) for _, op in items):
            ctx.skipped_lazily = (
                True  # unchosen factories were not called: their labels are unknown
            )
        ctx.dropped.extend(op for _, op in items if isinstance(op, tnn.Module))
        return chosen

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
            node_ops = []
            for j, (k, name) in enumerate(zip(node_inputs, names)):
                by_name: Any = self.edges[i][j][k]  # type: ignore[index]
                if str(name) not in by_name:  # built inside fixed_arch for another sample
                    raise ValueError(
                        f"Cell {self.label!r} was built for another sample: it holds no "
                        f"{name!r} on node {k} for {self._op_decisions[i][j].label!r}"
                    )
                node_ops.append(freezer.module(by_name[str(name)]))
            ops.append(node_ops)
        outputs = _output_nodes(
            self.merge_op, inputs, self.num_predecessors, self.num_nodes, self.output_nodes
        )
        pre = freezer.module(self.preprocessor) if self.preprocessor is not None else None
        post = freezer.module(self.postprocessor) if self.postprocessor is not None else None
        return FrozenCell(inputs, ops, outputs, self.num_predecessors, self.concat_dim, pre, post)

    def forward(self, *args: Any) -> Any:
        self._not_frozen()
