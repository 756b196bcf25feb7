"""Supernet versions of ``nn.Cell``: path sampling (SPOS, ENAS) and differentiable (DARTS).

A cell's decisions are, for operation ``j`` of node ``i``, which op (label ``{cell}/op_{i}_{j}``)
and which input (label ``{cell}/input_{i}_{j}``). The space already holds one copy of every op per
possible input (``edges[i][j][k][op]``); the supernet cells keep those modules (the same objects)
and freeze exactly like the ``Cell`` they replace.

* :class:`PathSamplingCell` runs, for each ``(i, j)``, the op and the input its switches select.
* :class:`DartsCell` mixes: ``sum_k beta_k * sum_o alpha_o * op_o(state_k)`` with ``alpha`` the
  softmax over ops of label ``op_i_j`` and ``beta`` the softmax over inputs of label
  ``input_i_j`` (a DARTS node with one mixed edge per predecessor). Only ``merge_op='all'`` (or
  fixed ``output_nodes``): with ``'loose_end'`` the merged nodes depend on the decisions and cannot
  be relaxed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as tnn

from ...mutable import Choice
from ...nn.pytorch.cell import Cell, _CellIO, _merge, _output_nodes
from .supernet import Switch, SwitchBoard

if TYPE_CHECKING:
    from ...nn.pytorch.freeze import Freezer

__all__ = ["DartsCell", "PathSamplingCell"]


class _SupernetCell(_CellIO):
    """Keeps a cell's modules (same objects, same names) and freezes like the cell."""

    _cell: Cell

    def __init__(self, cell: Cell) -> None:
        super().__init__()
        self.label = cell.label
        self.edges = cell.edges
        self.preprocessor = cell.preprocessor
        self.postprocessor = cell.postprocessor
        self.num_nodes, self.num_ops_per_node = cell.num_nodes, cell.num_ops_per_node
        self.num_predecessors, self.merge_op = cell.num_predecessors, cell.merge_op
        self.concat_dim = cell.concat_dim
        self.output_nodes = cell.output_nodes
        self.op_names = list(cell.op_names)
        self.__dict__["_cell"] = cell  # for its decisions and its freeze: not a submodule
        # ops[i][j][k]: the candidate modules of operation j of node i on input k, in op order
        edges: Any = cell.edges
        self._ops: list[list[list[list[tnn.Module]]]] = [
            [
                [[by_input[str(name)] for name in self.op_names] for by_input in by_op]
                for by_op in by_node
            ]
            for by_node in edges
        ]

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return self._cell._retiarii_decisions()

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        return self._cell._retiarii_freeze(freezer)

    def _node(self, outs: list[Any]) -> Any:
        return outs[0] if len(outs) == 1 else torch.stack(outs).sum(0)

    def extra_repr(self) -> str:
        return f"label={self.label!r}"


class PathSamplingCell(_SupernetCell):
    """A ``Cell`` running the op and input its switches select for every operation of a node."""

    def __init__(self, cell: Cell, board: SwitchBoard) -> None:
        super().__init__(cell)
        self._op_switches: list[list[Switch]] = [
            [board.switch(d) for d in node] for node in cell._op_decisions
        ]
        self._input_switches: list[list[Switch]] = [
            [board.switch(d) for d in node] for node in cell._input_decisions
        ]

    def forward(self, *args: Any) -> Any:
        inputs, states = self._inputs(args)
        states = list(states)
        chosen_inputs = []
        for ops, op_switches, input_switches in zip(
            self._ops, self._op_switches, self._input_switches
        ):
            ks = [switch.active[0] for switch in input_switches]
            chosen_inputs.append(ks)
            outs = [
                by_input[k][s.active](states[k]) for by_input, s, k in zip(ops, op_switches, ks)
            ]
            states.append(self._node(outs))
        nodes = _output_nodes(
            self.merge_op, chosen_inputs, self.num_predecessors, self.num_nodes, self.output_nodes
        )
        return self._output(_merge(states, nodes, self.concat_dim), inputs)


class DartsCell(_SupernetCell):
    """A ``Cell`` mixing every op on every input (see the module docstring).

    Args:
        cell: the cell to replace.
        weights: ``weights(label, n) -> tensor`` giving the mixing weights of a label (the
            supernet's softmax or Gumbel-softmax of its shared architecture parameter).
    """

    def __init__(self, cell: Cell, weights: Callable[[str, int], torch.Tensor]) -> None:
        super().__init__(cell)
        if self.merge_op != "all" and self.output_nodes is None:
            raise ValueError(
                f"Cell {self.label!r}: merge_op={self.merge_op!r} cannot be relaxed (the merged "
                "nodes depend on the decisions); use merge_op='all', or a sampling trainer"
            )
        self._weights = weights
        self._op_labels = [[d.label for d in node] for node in cell._op_decisions]
        self._input_labels = [[d.label for d in node] for node in cell._input_decisions]

    def forward(self, *args: Any) -> Any:
        inputs, states = self._inputs(args)
        states = list(states)
        n_ops = len(self.op_names)
        for ops, op_labels, input_labels in zip(self._ops, self._op_labels, self._input_labels):
            outs = []
            for by_input, op_label, input_label in zip(ops, op_labels, input_labels):
                alpha = self._weights(op_label, n_ops).unbind()
                beta = self._weights(input_label, len(by_input)).unbind()
                out = None
                for k, candidates in enumerate(by_input):
                    for o, op in enumerate(candidates):
                        term = op(states[k]) * (beta[k] * alpha[o])
                        out = term if out is None else out + term
                outs.append(out)
            states.append(self._node(outs))
        nodes = _output_nodes("all", [], self.num_predecessors, self.num_nodes, self.output_nodes)
        return self._output(_merge(states, nodes, self.concat_dim), inputs)
