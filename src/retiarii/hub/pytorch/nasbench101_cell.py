"""The NAS-Bench-101 cell: a DAG whose vertices, edges and operations are decisions.

Labels (NNI 2.10's), for a cell labelled ``cell``:

* ``cell/num_nodes``: number of vertices, ``2 .. max_num_nodes``;
* ``cell/op_{i}``: the operation of vertex ``i`` (``1 .. max_num_nodes - 2``), by name;
* ``cell/input_{i}``: the vertices feeding vertex ``i`` (``1 .. max_num_nodes - 1``), a sorted
  non-empty list of indices ``< i``.

Labels of vertices beyond ``num_nodes`` are part of every sample but do not matter. NNI gives
``num_nodes`` a prior weighting large cells (``2 ** n``); retiarii's choices have no priors, so
random samples draw ``num_nodes`` uniformly (among valid graphs).

**Invalid graphs.** Per-label candidates cannot express "at most 9 edges", so the cell adds a
:class:`~retiarii.mutable.Constraint` to the space: ``ModelSpace.validate`` (hence ``freeze`` and
``build``, what a trial runs) and ``fixed_arch`` reject a graph with too many edges, or whose
output is not reachable from its input, with a :class:`~retiarii.mutable.ConstraintViolation`
naming the cell, the edge count and the limit. ``SearchSpace.random`` (the ``Random`` strategy),
one-shot path sampling skip such graphs, and every strategy draws again when it proposes one
(``BaseStrategy.ask`` checks the space's constraints), so none is ever run as a trial. ``size``
counts samples before the constraint (the
benchmark's 423k unique graphs are what remains after the constraint and after merging
isomorphic graphs, which retiarii does not do).

A frozen cell is a :class:`NasBench101FrozenCell`: the graph pruned of dead vertices and its
channels split as the benchmark does. In a one-shot supernet the cell runs every vertex at full
width (:class:`PathSamplingNasBench101Cell`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as tnn

from ...mutable import Choice, Constraint, ConstraintViolation, InputSubset, SampleError
from ...mutable.labels import auto_label, validate_label
from ...nn.pytorch import InputChoice, LayerChoice, MutableModule, ValueChoice
from ...nn.pytorch.choices import LayerChoiceDecision
from ...nn.pytorch.fixed import current_fixed

if TYPE_CHECKING:
    from ...nn.pytorch.freeze import Freezer
    from ...oneshot.pytorch.supernet import SwitchBoard

__all__ = [
    "NasBench101Cell",
    "NasBench101CellConstraint",
    "NasBench101FrozenCell",
    "NasBench101Graph",
    "PathSamplingNasBench101Cell",
    "compute_vertex_channels",
    "prune",
]

OpFactory = Callable[[int], tnn.Module]
ProjectionFactory = Callable[[int, int], tnn.Module]
Matrix = list[list[int]]


# -- the graph ---------------------------------------------------------------------------------
def _matrix(adjacency: Sequence[Sequence[int]], num_nodes: int) -> Matrix:
    """``matrix[src][dst] = 1`` for each edge; ``adjacency[i - 1]`` lists the inputs of vertex i."""
    matrix = [[0] * num_nodes for _ in range(num_nodes)]
    for dst, sources in enumerate(adjacency, start=1):
        for src in sources:
            matrix[src][dst] = 1
    return matrix


def _reachable(matrix: Matrix, start: int, forward: bool) -> set[int]:
    n = len(matrix)
    seen, todo = {start}, [start]
    while todo:
        v = todo.pop()
        for w in range(n):
            edge = matrix[v][w] if forward else matrix[w][v]
            if edge and w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def prune(matrix: Matrix, ops: list[Any]) -> tuple[Matrix, list[Any]]:
    """Drop the vertices not on a path from the input to the output (they cannot change the
    output), as the benchmark does before hashing a graph.

    Raises:
        ValueError: the output is not reachable from the input.
    """
    n = len(matrix)
    keep = sorted(_reachable(matrix, 0, True) & _reachable(matrix, n - 1, False))
    if 0 not in keep or n - 1 not in keep:
        raise ValueError("the output vertex is not connected to the input vertex")
    return [[matrix[a][b] for b in keep] for a in keep], [ops[v] for v in keep]


def compute_vertex_channels(in_channels: int, out_channels: int, matrix: Matrix) -> list[int]:
    """Channels of every vertex of a pruned cell, as NAS-Bench-101 computes them.

    The output's channels are split among the interior vertices feeding it (the first ones get
    one more when the split is uneven); any other interior vertex gets the largest count of the
    vertices it feeds. The input keeps ``in_channels``.
    """
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[n - 1] = in_channels, out_channels
    if n == 2:
        return channels
    fan_in = sum(matrix[v][n - 1] for v in range(1, n - 1))
    share, extra = divmod(out_channels, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            channels[v] = share + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    channels[v] = max(channels[v], channels[dst])
    if min(channels[1 : n - 1]) <= 0:
        raise ValueError(
            f"out_features={out_channels} is too small to split among the {fan_in} vertices that "
            "feed the output of a NAS-Bench-101 cell"
        )
    return channels


def _sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    out = tensors[0]
    for tensor in tensors[1:]:
        out = out + tensor
    return out


def _truncate(x: torch.Tensor, channels: int) -> torch.Tensor:
    # a vertex that got one extra output channel feeds vertices with one fewer
    return x if x.shape[1] == channels else x[:, :channels]


class NasBench101Graph:
    """A cell's graph read from a sample: ``num_nodes``, adjacency, operations; ``check()`` says
    why it is invalid and ``pruned()`` gives the matrix and ops the network runs."""

    def __init__(
        self,
        label: str,
        sample: Mapping[str, Any],
        op_names: Sequence[str],
        max_num_nodes: int,
        max_num_edges: int,
    ) -> None:
        self.label, self.max_num_edges = label, max_num_edges
        num_nodes = ValueChoice(list(range(2, max_num_nodes + 1)), label=f"{label}/num_nodes")
        n = self.num_nodes = num_nodes.freeze(sample)
        self.adjacency = [
            InputSubset(i, None, label=f"{label}/input_{i}").freeze(sample) for i in range(1, n)
        ]
        self.ops: list[str] = [
            LayerChoiceDecision(list(op_names), label=f"{label}/op_{i}").freeze(sample)
            for i in range(1, n - 1)
        ]

    @property
    def num_edges(self) -> int:
        return sum(len(sources) for sources in self.adjacency)

    def check(self) -> str | None:
        """Why this graph is not a NAS-Bench-101 cell, or None."""
        if self.num_edges > self.max_num_edges:
            inputs = ", ".join(
                f"input_{i}={sources}" for i, sources in enumerate(self.adjacency, start=1)
            )
            return (
                f"NasBench101Cell {self.label!r}: the sample's graph has {self.num_edges} edges, "
                f"more than max_num_edges={self.max_num_edges} (num_nodes={self.num_nodes}: "
                f"{inputs}); remove edges or lower {self.label}/num_nodes"
            )
        try:
            self.pruned()
        except ValueError as exc:
            return f"NasBench101Cell {self.label!r}: {exc}"
        return None

    def pruned(self) -> tuple[Matrix, list[str]]:
        """The matrix and operations (``'IN'``/``'OUT'`` at the ends) without dead vertices."""
        matrix = _matrix(self.adjacency, self.num_nodes)
        return prune(matrix, ["IN", *self.ops, "OUT"])


class NasBench101CellConstraint(Constraint):
    """At most ``max_num_edges`` edges, and an output reachable from the input (one rule per
    cell label: cells sharing a label share their graph)."""

    def __init__(self, label: str, op_names: Sequence[str], max_num_nodes: int, max_num_edges: int):
        self.label = label
        self.op_names = list(op_names)
        self.max_num_nodes, self.max_num_edges = max_num_nodes, max_num_edges
        self.key = f"NasBench101Cell:{label}"

    def check(self, sample: Mapping[str, Any]) -> str | None:
        try:
            graph = NasBench101Graph(
                self.label, sample, self.op_names, self.max_num_nodes, self.max_num_edges
            )
        except SampleError:
            return None  # a missing or invalid label is reported by the label's own check
        return graph.check()


class NasBench101FrozenCell(tnn.Module):
    """One NAS-Bench-101 cell, an ordinary module: the pruned graph, its vertex channels, a
    projection of the input for every vertex the input feeds, and the chosen operations.

    ``ops[t]`` and ``projections[t]`` are indexed by vertex (``nn.Identity`` where a vertex has
    none), so state-dict keys say which vertex a weight belongs to.
    """

    def __init__(
        self,
        ops: Sequence[OpFactory],
        matrix: Matrix,
        in_features: int,
        out_features: int,
        projection: ProjectionFactory,
    ) -> None:
        super().__init__()
        n = len(matrix)
        self.matrix = [list(row) for row in matrix]
        self.in_features, self.out_features = in_features, out_features
        self.hidden_features = compute_vertex_channels(in_features, out_features, self.matrix)
        self.projections = tnn.ModuleList(
            projection(in_features, self.hidden_features[t])
            if t > 0 and self.matrix[0][t]
            else tnn.Identity()
            for t in range(n)
        )
        self.ops = tnn.ModuleList(
            ops[t - 1](self.hidden_features[t]) if 0 < t < n - 1 else tnn.Identity()
            for t in range(n)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        matrix, n = self.matrix, len(self.matrix)
        tensors = [x]
        for t in range(1, n - 1):
            add_in = [
                _truncate(tensors[src], self.hidden_features[t])
                for src in range(1, t)
                if matrix[src][t]
            ]
            if matrix[0][t]:
                add_in.append(self.projections[t](x))
            tensors.append(self.ops[t](_sum(add_in)))
        hidden = [tensors[src] for src in range(1, n - 1) if matrix[src][n - 1]]
        if not hidden:  # only the input feeds the output
            return self.projections[n - 1](x)
        out = hidden[0] if len(hidden) == 1 else torch.cat(hidden, 1)
        if matrix[0][n - 1]:
            out = out + self.projections[n - 1](x)
        return out

    def extra_repr(self) -> str:
        return f"matrix={self.matrix}, hidden_features={self.hidden_features}"


def _op_dict(op_candidates: Mapping[str, OpFactory] | Sequence[OpFactory]) -> dict[str, OpFactory]:
    if isinstance(op_candidates, Mapping):
        return dict(op_candidates)
    return {str(i): op for i, op in enumerate(op_candidates)}


class NasBench101Cell(MutableModule):
    """A NAS-Bench-101 cell whose graph and operations are decisions (see the module docstring).

    Args:
        op_candidates: ``{name: factory(num_features)}`` (or a list: names ``"0"``, ``"1"``, ...);
            each factory builds an operation that keeps ``num_features`` channels.
        in_features: channels of the cell's input.
        out_features: channels of the cell's output.
        projection: ``factory(in_features, out_features)`` of the module that projects the
            cell's input onto a vertex (a 1x1 Conv-BN-ReLU in the paper).
        max_num_nodes: most vertices, input and output included (7 in the paper), at least 2.
        max_num_edges: most edges (9 in the paper).
        label: prefix of the labels; cells sharing a label share their decisions.

    In a model space the cell holds every vertex at ``out_features`` channels (what one-shot path
    sampling trains; see :meth:`_retiarii_path_sampling`); frozen, it is a
    :class:`NasBench101FrozenCell` built for the sample. Inside ``fixed_arch`` only that frozen
    cell is built.
    """

    def __init__(
        self,
        op_candidates: Mapping[str, OpFactory] | Sequence[OpFactory],
        in_features: int,
        out_features: int,
        projection: ProjectionFactory,
        max_num_nodes: int = 7,
        max_num_edges: int = 9,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.label = (
            validate_label(label, "NasBench101Cell") if label is not None else auto_label("cell")
        )
        if not isinstance(max_num_nodes, int) or max_num_nodes < 2:
            raise ValueError(
                f"NasBench101Cell {self.label!r}: max_num_nodes must be an int >= 2, "
                f"got {max_num_nodes!r}"
            )
        self.op_candidates = _op_dict(op_candidates)
        if not self.op_candidates:
            raise ValueError(f"NasBench101Cell {self.label!r}: op_candidates must not be empty")
        self.in_features, self.out_features = in_features, out_features
        self.projection = projection
        self.max_num_nodes, self.max_num_edges = max_num_nodes, max_num_edges
        self._constraint = NasBench101CellConstraint(
            self.label, list(self.op_candidates), max_num_nodes, max_num_edges
        )
        self.num_nodes = ValueChoice(
            list(range(2, max_num_nodes + 1)), label=f"{self.label}/num_nodes"
        )
        ctx = current_fixed()
        self.frozen_cell: NasBench101FrozenCell | None = None
        if ctx is not None:
            # build only the chosen cell; its labels are this cell's whatever the graph uses
            self.frozen_cell = self.build_frozen(ctx.sample)
            ctx.mark_used(self.all_labels())
            return
        # the supernet: every vertex at out_features channels
        self.projections = tnn.ModuleList(
            [tnn.Identity()]
            + [projection(in_features, out_features) for _ in range(1, max_num_nodes)]
        )
        self.ops = tnn.ModuleList([tnn.Identity()])
        self.inputs = tnn.ModuleList([tnn.Identity()])
        for i in range(1, max_num_nodes):
            if i < max_num_nodes - 1:
                self.ops.append(
                    LayerChoice(
                        {
                            name: functools.partial(op, out_features)
                            for name, op in self.op_candidates.items()
                        },
                        label=f"{self.label}/op_{i}",
                    )
                )
            self.inputs.append(InputChoice(i, None, label=f"{self.label}/input_{i}"))

    def all_labels(self) -> list[str]:
        """Every label of this cell, in the space's order."""
        n = self.max_num_nodes
        return [
            f"{self.label}/num_nodes",
            *(f"{self.label}/op_{i}" for i in range(1, n - 1)),
            *(f"{self.label}/input_{i}" for i in range(1, n)),
        ]

    def graph(self, sample: Mapping[str, Any]) -> NasBench101Graph:
        """The cell's graph in ``sample`` (not checked; see :meth:`NasBench101Graph.check`)."""
        return NasBench101Graph(
            self.label, sample, list(self.op_candidates), self.max_num_nodes, self.max_num_edges
        )

    def build_frozen(self, sample: Mapping[str, Any]) -> NasBench101FrozenCell:
        """A fresh frozen cell for ``sample``.

        Raises:
            ConstraintViolation: the graph has too many edges, or its output is not reachable
                from its input (the message names the cell and the problem).
            SampleError: a label the graph needs is missing or has a value it cannot take.
        """
        graph = self.graph(sample)
        problem = graph.check()
        if problem is not None:
            raise ConstraintViolation(problem)
        matrix, ops = graph.pruned()
        return NasBench101FrozenCell(
            [self.op_candidates[op] for op in ops[1:-1]],
            matrix,
            self.in_features,
            self.out_features,
            self.projection,
        )

    # -- the walks ---------------------------------------------------------------------------
    def _retiarii_decisions(self) -> Iterable[Choice]:
        return [self.num_nodes] if self.frozen_cell is None else []

    def _retiarii_constraints(self) -> Iterable[Constraint]:
        return [self._constraint] if self.frozen_cell is None else []

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        if self.frozen_cell is not None:
            return self.frozen_cell
        return self.build_frozen(freezer.sample)

    def _retiarii_path_sampling(self, board: SwitchBoard) -> tnn.Module:
        """The single-path version used by ``PathSamplingSupernet`` (SPOS, random one-shot)."""
        return PathSamplingNasBench101Cell(self, board)

    def extra_repr(self) -> str:
        return (
            f"label={self.label!r}, max_num_nodes={self.max_num_nodes}, "
            f"max_num_edges={self.max_num_edges}"
        )


class PathSamplingNasBench101Cell(tnn.Module):
    """Runs the graph of the active path with the cell's shared modules.

    Weight sharing needs one module per vertex whatever the graph, so every vertex keeps the
    supernet's ``out_features`` channels and the output *sums* the vertices feeding it (the
    frozen cell concatenates narrower ones) — NNI's approximation too. Dead vertices are skipped.
    Random paths respect the cell's edge limit (the board draws only valid graphs).
    """

    _cell: NasBench101Cell

    def __init__(self, cell: NasBench101Cell, board: SwitchBoard) -> None:
        super().__init__()
        from ...oneshot.pytorch.supernet import ValueResolver

        self.label = cell.label
        self.projections, self.ops, self.inputs = cell.projections, cell.ops, cell.inputs
        self.__dict__["_cell"] = cell  # its decisions and its freeze; not a submodule
        labels = cell.all_labels()
        choices: dict[str, Choice] = {}
        for module in [cell, *cell.ops, *cell.inputs]:
            decisions = getattr(type(module), "_retiarii_decisions", None)
            if decisions is not None:
                for decision in decisions(module):
                    choices.update({leaf.label: leaf for leaf in decision.leaves()})
        self._resolve = ValueResolver(
            {label: choices[label] for label in labels if label in choices}, board, post=self._plan
        )

    def _plan(self, sample: Mapping[str, Any]) -> Matrix:
        graph = self._cell.graph(sample)
        problem = graph.check()
        if problem is not None:
            raise ConstraintViolation(f"path sampling set an invalid path: {problem}")
        # the pruned matrix over the original vertex numbers (so ops[t] is vertex t's op)
        matrix = _matrix(graph.adjacency, graph.num_nodes)
        n = graph.num_nodes
        live = _reachable(matrix, 0, True) & _reachable(matrix, n - 1, False)
        return [
            [matrix[a][b] if a in live and b in live else 0 for b in range(n)] for a in range(n)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        matrix: Matrix = self._resolve()
        n = len(matrix)
        last = self._cell.max_num_nodes - 1
        tensors: dict[int, torch.Tensor] = {0: x}
        for t in range(1, n - 1):
            add_in = [tensors[src] for src in range(1, t) if matrix[src][t]]
            if matrix[0][t]:
                add_in.append(self.projections[t](x))
            if add_in:  # else a dead vertex
                tensors[t] = self.ops[t](_sum(add_in))
        out = [tensors[src] for src in range(1, n - 1) if matrix[src][n - 1]]
        if matrix[0][n - 1]:
            out.append(self.projections[last](x))
        return _sum(out)

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return self._cell._retiarii_decisions()

    def _retiarii_constraints(self) -> Iterable[Constraint]:
        return self._cell._retiarii_constraints()

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        return self._cell._retiarii_freeze(freezer)

    def extra_repr(self) -> str:
        return f"label={self.label!r}"
