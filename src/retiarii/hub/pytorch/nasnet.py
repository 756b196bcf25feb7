"""The NASNet family of cell spaces, as unified by NDS: NASNet, ENAS, AmoebaNet, PNAS, DARTS.

`On Network Design Spaces for Visual Recognition <https://arxiv.org/abs/1905.13214>`__ (NDS)
showed that the cell spaces of five NAS papers differ only in their operation candidates, the
number of nodes per cell and which nodes a cell outputs; everything else (stems, three stages
separated by reduction cells, two-input cells) is shared. :class:`NDS` is that shared network and
the five subclasses fix what differs, with NNI's constructor arguments and labels:

* ``width`` (int, or a tuple of choices labelled ``width``): channels of the first stage's
  operations; ``num_cells`` (int, or a tuple labelled ``depth``): cells in the whole network,
  split in three stages, the first cell of stages 2 and 3 being a reduction cell.
* Every normal cell shares the labels ``normal/op_{n}_{j}`` / ``normal/input_{n}_{j}``, every
  reduction cell ``reduce/...`` (NNI's ``Cell`` numbering, see :mod:`retiarii.nn.pytorch.cell`),
  so the architectures NNI exports load with ``fixed_arch`` (an input is written ``[0]`` by NNI
  3 and ``0`` by NNI 2.x's hub; both are accepted).

Two things a reader should know:

* In the space (the supernet) every cell outputs all its nodes, whatever ``merge_op`` says — NNI's
  assumption for one-shot training, since a ``'loose_end'`` output's width depends on the sampled
  inputs. The frozen network is *rebuilt* for its sample (``NDS._retiarii_freeze``), because with
  loose ends the channels of every later cell depend on earlier decisions; so freezing does not
  carry supernet weights over.
* When a stage's depth may be one cell, the next stage would receive a "previous-previous" tensor
  of another shape in the supernet; a small alignment module (NNI's
  ``first_cell_transformation``) fixes the shape there. Frozen networks never hold it.

The operations (:mod:`.nds_ops`, re-exported here as NNI has them in this module) follow
`pycls/unnas <https://github.com/facebookresearch/unnas>`__, which NDS and
NNI use. What this module does not do: train anything, or hold pretrained weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
import torch.nn as tnn

from ...mutable import Mutable
from ...nn import pytorch as nn
from ...nn.pytorch.cell import Cell, check_output_nodes
from ...nn.pytorch.fixed import current_fixed, fixed_arch
from ...nn.pytorch.repeat import Repeat
from ...nn.pytorch.wrappers import get_init_args, model_wrapper
from .hub_space import HubSpaceMixin
from .nds_ops import OPS, AuxiliaryHead, Channels, DropPath, FactorizedReduce, relu_conv_bn
from .registry import SpaceEntry, register_space

if TYPE_CHECKING:
    from ...nn.pytorch.freeze import Freezer

__all__ = [
    "DARTS",
    "ENAS",
    "NDS",
    "OPS",
    "PNAS",
    "AmoebaNet",
    "AuxiliaryHead",
    "CellPostprocessor",
    "CellPreprocessor",
    "DropPath",
    "FactorizedReduce",
    "NASNet",
]


class CellPreprocessor(tnn.Module):
    """Brings the two cell inputs to ``c`` channels and one resolution (the previous-previous
    input is halved with :class:`FactorizedReduce` when the previous cell was a reduction)."""

    def __init__(
        self, c_pprev: Channels, c_prev: Channels, c: Channels, last_cell_reduce: bool
    ) -> None:
        super().__init__()
        self.pre0 = (
            FactorizedReduce(c_pprev, c) if last_cell_reduce else relu_conv_bn(c_pprev, c, 1)
        )
        self.pre1 = relu_conv_bn(c_prev, c, 1)

    def forward(self, cells: list[torch.Tensor]) -> list[torch.Tensor]:
        pprev, prev = cells
        return [self.pre0(pprev), self.pre1(prev)]


class CellPostprocessor(tnn.Module):
    """A cell returns ``[its previous input, its output]``, so that cells chain in a Sequential."""

    def forward(self, this_cell: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [inputs[-1], this_cell]


class _CellBuilder:
    """Builds the cells of one stage in order, tracking the channels each cell receives (which,
    with loose ends in a fixed architecture, depend on the previous cells' decisions)."""

    def __init__(
        self,
        op_candidates: Sequence[str],
        c_pprev: Channels,
        c_prev: Channels,
        c: Channels,
        num_nodes: int,
        merge_op: str,
        first_cell_reduce: bool,
        last_cell_reduce: bool,
        drop_path_prob: float,
        concat: dict[str, list[int] | None],
    ) -> None:
        self.op_candidates = list(op_candidates)
        self.concat = concat
        self.c_pprev, self.c_prev, self.c = c_pprev, c_prev, c
        self.num_nodes, self.merge_op = num_nodes, merge_op
        self.first_cell_reduce, self.last_cell_reduce = first_cell_reduce, last_cell_reduce
        self.drop_path_prob = drop_path_prob
        self.built = 0

    def op_factory(self, op: str, reduction: bool) -> Callable[[int, int, int], tnn.Module]:
        def build(node: int, op_index: int, input_index: int) -> tnn.Module:
            # A reduction cell halves the resolution on the edges leaving its two inputs.
            stride = 2 if reduction and input_index < 2 else 1
            operation = OPS[op](self.c, stride)
            if self.drop_path_prob > 0 and not isinstance(operation, tnn.Identity):
                # DARTS leaves identity skips undropped
                return tnn.Sequential(operation, DropPath(self.drop_path_prob))
            return operation

        return build

    def __call__(self, index: int) -> Cell:
        if index != self.built:
            raise ValueError(
                f"NDS cells are built in order: expected cell {self.built}, got {index}"
            )
        reduction = index == 0 and self.first_cell_reduce
        cell = Cell(
            {op: self.op_factory(op, reduction) for op in self.op_candidates},
            num_nodes=self.num_nodes,
            num_ops_per_node=2,
            num_predecessors=2,
            merge_op=self.merge_op,
            preprocessor=CellPreprocessor(self.c_pprev, self.c_prev, self.c, self.last_cell_reduce),
            postprocessor=CellPostprocessor(),
            label="reduce" if reduction else "normal",
            output_nodes=self.concat["reduce" if reduction else "normal"],
        )
        self.c_pprev = self.c_prev
        self.c_prev = self.c * len(cell.output_node_indices)
        self.last_cell_reduce = reduction
        self.built += 1
        return cell


class _SupernetStage(tnn.Module):
    """A stage of the space: its cells, and where its depth may be one cell, the module that
    gives the "previous-previous" output the shape the next stage was built for."""

    def __init__(self, cells: tnn.Module, align: tnn.Module | None) -> None:
        super().__init__()
        self.cells = cells
        self.align = align
        if align is not None and isinstance(cells, Repeat):
            # a supernet that mixes the depths aligns each depth's output before the sum
            object.__setattr__(cells, "_retiarii_depth_output", partial(_align_states, align))

    def forward(self, states: list[torch.Tensor]) -> list[torch.Tensor]:
        return _align_states(self.align, self.cells(states))


def _align_states(align: tnn.Module | None, states: list[torch.Tensor]) -> list[torch.Tensor]:
    s0, s1 = states
    if align is not None and s0.shape[1:] != s1.shape[1:]:
        s0 = align(s0)  # one cell ran: s0 is this stage's input
    return [s0, s1]


def _choice(value: int | Iterable[int], label: str, name: str) -> int | nn.ValueChoice:
    if isinstance(value, int):
        return value
    values = list(value)
    if not values or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(f"NDS: {name} must be a positive int or a tuple of them, got {value!r}")
    return values[0] if len(values) == 1 else nn.ValueChoice(values, label=label)


@model_wrapper
class NDS(HubSpaceMixin, tnn.Module):
    """The NDS network shared by the NASNet-family spaces (see the module docstring).

    Args:
        op_candidates: operation names, keys of :data:`OPS`.
        merge_op: ``'all'`` (the cell outputs every node) or ``'loose_end'`` (only the nodes no
            other node reads).
        num_nodes_per_cell: intermediate nodes of a cell.
        width: channels of the first stage's operations (doubled at each reduction), or a tuple
            of choices (label ``width``).
        num_cells: cells of the network, or a tuple of choices (label ``depth``); stage ``i`` has
            ``(i + 1) * n // 3 - i * n // 3`` of them.
        dataset: ``'cifar'`` (one 3x3 stem, 10 classes) or ``'imagenet'`` (two stride-2 stems
            and a reduction, 1000 classes).
        auxiliary_loss: add the auxiliary head; the network then returns ``(logits, aux_logits)``
            in training mode. Only for a fixed architecture (inside ``fixed_arch`` or
            :func:`~retiarii.hub.pytorch.load_searched_model`), as in NNI.
        drop_path_prob: drop-path probability of every non-identity operation (0: none).
        normal_concat: retiarii extension (keyword-only; NNI has no such argument): the nodes
            every normal cell of a frozen network concatenates, overriding ``merge_op`` — DARTS's
            ``Genotype.normal_concat``, but cell inputs ``0`` (previous-previous) and ``1``
            (previous), after preprocessing, may be listed too. Published networks need it when
            their cells output neither all nodes nor the loose ends (NASNet-A: TF slim's
            ``used_hiddenstates``). ``None`` (default): ``merge_op``, as in NNI. The space's
            cells still output all their nodes (module docstring), and samples are unchanged.
        reduce_concat: the same for every reduction cell.
    """

    def __init__(
        self,
        op_candidates: Sequence[str],
        merge_op: str = "all",
        num_nodes_per_cell: int = 4,
        width: int | tuple[int, ...] = 16,
        num_cells: int | tuple[int, ...] = 20,
        dataset: str = "imagenet",
        auxiliary_loss: bool = False,
        drop_path_prob: float = 0.0,
        *,
        normal_concat: Sequence[int] | None = None,
        reduce_concat: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        unknown = [op for op in op_candidates if op not in OPS]
        if unknown:
            raise ValueError(f"NDS: unknown operations {unknown}; known: {sorted(OPS)}")
        if dataset not in ("cifar", "imagenet"):
            raise ValueError(f"NDS: dataset must be 'cifar' or 'imagenet', got {dataset!r}")
        if merge_op not in ("all", "loose_end"):
            raise ValueError(f"NDS: merge_op must be 'all' or 'loose_end', got {merge_op!r}")
        concat: dict[str, list[int] | None] = {
            cell: check_output_nodes(nodes, num_nodes_per_cell + 2, f"NDS: {cell}_concat")
            for cell, nodes in (("normal", normal_concat), ("reduce", reduce_concat))
        }
        widths = [width] if isinstance(width, int) else list(width)
        if dataset == "imagenet" and any(w % 2 for w in widths):
            # the first cell halves the stems' output with FactorizedReduce: two halves of width
            raise ValueError(
                f"NDS: with dataset='imagenet' every width must be even, got {width!r}"
            )
        ctx = current_fixed()
        fixed = ctx is not None
        if auxiliary_loss and not fixed:
            raise ValueError(
                "NDS: auxiliary_loss=True builds a network to retrain, not a space; build it for "
                "one architecture (inside retiarii.fixed_arch(sample), or load_searched_model)"
            )
        self.op_candidates = list(op_candidates)
        self.merge_op, self.num_nodes_per_cell = merge_op, num_nodes_per_cell
        self.dataset, self.auxiliary_loss = dataset, auxiliary_loss
        self.drop_path_prob = drop_path_prob
        self.num_labels = 10 if dataset == "cifar" else 1000
        c_choice = _choice(width, "width", "width")
        depth_choice = _choice(num_cells, "depth", "num_cells")
        if ctx is not None:  # one architecture: resolve the choices to plain ints at once
            c_choice, depth_choice = (
                v.freeze(ctx.sample) if isinstance(v, Mutable) else v
                for v in (c_choice, depth_choice)
            )
            ctx.mark_used([label for label in ("width", "depth") if label in ctx.sample])
        c: Channels = c_choice
        if dataset == "imagenet":
            self.stem0 = tnn.Sequential(
                nn.Conv2d(3, c // 2, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c // 2),
                tnn.ReLU(inplace=True),
                nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
            )
            self.stem1 = tnn.Sequential(
                tnn.ReLU(inplace=True),
                nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
            )
            c_pprev = c_prev = c_curr = c
            last_cell_reduce = True
        else:
            self.stem = tnn.Sequential(
                nn.Conv2d(3, 3 * c, 3, padding=1, bias=False), nn.BatchNorm2d(3 * c)
            )
            c_pprev = c_prev = 3 * c
            c_curr = c
            last_cell_reduce = False

        # In the space every cell outputs all its nodes (see the module docstring).
        cell_merge = merge_op if fixed else "all"
        cell_concat = concat if fixed else dict.fromkeys(concat)
        self.stages = tnn.ModuleList()
        c_aux: Channels = None
        for stage_index in range(3):
            if stage_index > 0:
                c_curr = c_curr * 2
            depth: Any = (stage_index + 1) * depth_choice // 3 - stage_index * depth_choice // 3
            builder = _CellBuilder(
                self.op_candidates,
                c_pprev,
                c_prev,
                c_curr,
                num_nodes_per_cell,
                cell_merge,
                stage_index > 0,
                last_cell_reduce,
                drop_path_prob,
                cell_concat,
            )
            if isinstance(depth, int):
                cells: tnn.Module = tnn.Sequential(*(builder(i) for i in range(depth)))
                min_depth = max_depth = depth
            else:
                repeat = Repeat(builder, depth, label=f"stage_{stage_index}")
                cells, min_depth, max_depth = repeat, repeat.min_depth, repeat.max_depth
            stage_out = c_curr * num_nodes_per_cell  # every cell of the space, all nodes
            if fixed:
                self.stages.append(cells)
            else:
                align: tnn.Module | None = None
                if min_depth <= 1 < max_depth and stage_index < 2:
                    align = (
                        FactorizedReduce(c_prev, stage_out)
                        if stage_index > 0
                        else relu_conv_bn(c_prev, stage_out, 1)
                    )
                self.stages.append(_SupernetStage(cells, align))
            if stage_index == 2 and auxiliary_loss:  # fixed: the head reads the first cell
                first: Any = cast(Any, cells)[0]
                c_aux = c_curr * len(first.output_node_indices)
            # what the next stage receives: the outputs of this stage's last two cells (the
            # builder built them all in a space, the chosen ones in a fixed architecture)
            c_pprev, c_prev = builder.c_pprev, builder.c_prev
            last_cell_reduce = builder.last_cell_reduce
        if auxiliary_loss:
            self.auxiliary_head = AuxiliaryHead(c_aux, self.num_labels, dataset)
        self.global_pooling = tnn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(c_prev, self.num_labels)

    def forward(self, inputs: torch.Tensor) -> Any:
        if self.dataset == "imagenet":
            s0 = self.stem0(inputs)
            s1 = self.stem1(s0)
        else:
            s0 = s1 = self.stem(inputs)
        logits_aux = None
        for stage_index, stage in enumerate(self.stages):
            if stage_index == 2 and self.auxiliary_loss and self.training:
                # the head reads the first cell of the last stage (a fixed network's Sequential)
                for block_index, block in enumerate(cast(tnn.Sequential, stage)):
                    s0, s1 = block([s0, s1])
                    if block_index == 0:
                        logits_aux = self.auxiliary_head(s1)
            else:
                s0, s1 = stage([s0, s1])
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        if logits_aux is not None:
            return logits, logits_aux
        return logits

    #: ``ModelSpace.freeze`` need not copy the space (see :meth:`_retiarii_freeze`)
    _retiarii_freeze_rebuilds: ClassVar[bool] = True

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        # With loose ends the channels of every cell depend on earlier decisions, so the frozen
        # network is rebuilt for the sample (as NNI's NDS.freeze does); weights are fresh.
        recorded = get_init_args(self)
        assert recorded is not None, "NDS is a @model_wrapper class: its arguments are recorded"
        cls, args, kwargs = recorded
        with fixed_arch(dict(freezer.sample), verbose=False):
            model: tnn.Module = cls(*args, **kwargs)
        return model

    def set_drop_path_prob(self, drop_prob: float) -> None:
        """Set the drop-path probability of every operation (DARTS raises it during training)."""
        for module in self.modules():
            if isinstance(module, DropPath):
                module.drop_prob = drop_prob


_SPACE_ARGS = """
    Args:
        width: channels of the first stage's operations, or a tuple of choices (label ``width``).
        num_cells: cells of the network, or a tuple of choices (label ``depth``).
        dataset: ``'cifar'`` or ``'imagenet'`` (the stem, the auxiliary head, 10/1000 classes).
        auxiliary_loss: add the auxiliary head (fixed architectures only).
        drop_path_prob: drop-path probability of every non-identity operation.
        normal_concat: keyword-only retiarii extension, see :class:`NDS` (default: NNI's rule).
        reduce_concat: keyword-only retiarii extension, see :class:`NDS`.
"""


class _PaperSpace(NDS):
    """NDS with one paper's operations, cell size and merge rule, fixed by the class attributes
    ``_OPS``, ``_MERGE_OP`` and ``_NUM_NODES``; the constructor takes only NNI's arguments."""

    _OPS: ClassVar[Sequence[str]]
    _MERGE_OP: ClassVar[str]
    _NUM_NODES: ClassVar[int]

    def __init__(
        self,
        width: int | tuple[int, ...] = (16, 24, 32),
        num_cells: int | tuple[int, ...] = (4, 8, 12, 16, 20),
        dataset: str = "cifar",
        auxiliary_loss: bool = False,
        drop_path_prob: float = 0.0,
        *,
        normal_concat: Sequence[int] | None = None,
        reduce_concat: Sequence[int] | None = None,
    ) -> None:
        super().__init__(
            self._OPS,
            self._MERGE_OP,
            self._NUM_NODES,
            width,
            num_cells,
            dataset,
            auxiliary_loss,
            drop_path_prob,
            normal_concat=normal_concat,
            reduce_concat=reduce_concat,
        )


@model_wrapper
class NASNet(_PaperSpace):
    """`NASNet <https://arxiv.org/abs/1707.07012>`__'s space: 13 operations, 5 nodes per cell,
    the cell outputs its loose ends.
    """

    __doc__ = (__doc__ or "") + _SPACE_ARGS

    NASNET_OPS = [
        "skip_connect",
        "conv_3x1_1x3",
        "conv_7x1_1x7",
        "dil_conv_3x3",
        "avg_pool_3x3",
        "max_pool_3x3",
        "max_pool_5x5",
        "max_pool_7x7",
        "conv_1x1",
        "conv_3x3",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "sep_conv_7x7",
    ]

    _OPS = NASNET_OPS
    _MERGE_OP = "loose_end"
    _NUM_NODES = 5


@model_wrapper
class ENAS(_PaperSpace):
    """`ENAS <https://arxiv.org/abs/1802.03268>`__'s micro space: 5 operations, 5 nodes per cell,
    the cell outputs its loose ends.
    """

    __doc__ = (__doc__ or "") + _SPACE_ARGS

    ENAS_OPS = ["skip_connect", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3"]

    _OPS = ENAS_OPS
    _MERGE_OP = "loose_end"
    _NUM_NODES = 5


@model_wrapper
class AmoebaNet(_PaperSpace):
    """`AmoebaNet <https://arxiv.org/abs/1802.01548>`__'s space: 8 operations, 5 nodes per cell,
    the cell outputs its loose ends.
    """

    __doc__ = (__doc__ or "") + _SPACE_ARGS

    AMOEBA_OPS = [
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "sep_conv_7x7",
        "avg_pool_3x3",
        "max_pool_3x3",
        "dil_sep_conv_3x3",
        "conv_7x1_1x7",
    ]

    _OPS = AMOEBA_OPS
    _MERGE_OP = "loose_end"
    _NUM_NODES = 5


@model_wrapper
class PNAS(_PaperSpace):
    """`PNAS <https://arxiv.org/abs/1712.00559>`__'s space: 8 operations, 5 nodes per cell, the
    cell outputs all its nodes.
    """

    __doc__ = (__doc__ or "") + _SPACE_ARGS

    PNAS_OPS = [
        "sep_conv_3x3",
        "sep_conv_5x5",
        "sep_conv_7x7",
        "conv_7x1_1x7",
        "skip_connect",
        "avg_pool_3x3",
        "max_pool_3x3",
        "dil_conv_3x3",
    ]

    _OPS = PNAS_OPS
    _MERGE_OP = "all"
    _NUM_NODES = 5


@model_wrapper
class DARTS(_PaperSpace):
    """`DARTS <https://arxiv.org/abs/1806.09055>`__'s space: 7 operations, 4 nodes per cell, the
    cell outputs all its nodes. ``none`` is left out, as in NNI's later releases (earlier ones
    listed it first): it only matters to the continuous relaxation, and a derived DARTS cell
    never holds it.
    """

    __doc__ = (__doc__ or "") + _SPACE_ARGS

    DARTS_OPS = [
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    ]

    _OPS = DARTS_OPS
    _MERGE_OP = "all"
    _NUM_NODES = 4


# -- registration -------------------------------------------------------------------------------

# Small enough for CPU tests, and still every kind of choice: two widths, and a depth choice of
# one or two cells in stages 2 and 3 (so the supernet's stage alignment runs).
_TEST_KWARGS = {"width": (4, 8), "num_cells": (3, 5), "dataset": "cifar"}

# Building a supernet of 8-13 operations per edge takes seconds (value-choice layers), so the
# three larger spaces run with the slow tests; ENAS (loose ends) and DARTS (all nodes) cover the
# same code by default.
for _space, _slow in (
    (NASNet, True),
    (ENAS, False),
    (AmoebaNet, True),
    (PNAS, True),
    (DARTS, False),
):
    register_space(
        SpaceEntry(
            name=_space.__name__,
            factory=_space,
            # 8x8 (stages at 8, 4, 2): the same modules run as on CIFAR's 32x32, and a DARTS
            # step of the supernet takes half the time
            input_size=(3, 8, 8),
            num_classes=10,
            test_kwargs=_TEST_KWARGS,
            full_input_size=(3, 32, 32),
            slow=_slow,
            unused_parameters=True,
            oneshot_refused={
                "Proxyless": "Proxyless does not search Cell: the cells' operator and input "
                "choices (normal/op_{i}_{j}, normal/input_{i}_{j}) are refused (the width value "
                "choice and the depth Repeat it searches)",
            },
            oneshot_slow=True,
        )
    )
