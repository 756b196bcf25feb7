"""One-shot strategies: DARTS, GumbelDARTS, ENAS, Proxyless, RandomOneShot (SPOS).

.. code-block:: python

    import retiarii.strategy as strategy
    import retiarii.evaluator.pytorch.lightning as pl

    evaluator = pl.Classification(train_dataloaders=..., val_dataloaders=..., max_epochs=10)
    exp = RetiariiExperiment(space, evaluator, None, strategy.DARTS())
    exp.run()
    exp.export_top_models()          # [the architecture DARTS found]

A one-shot strategy is a :class:`~retiarii.strategy.BaseStrategy` that proposes nothing: it
trains one supernet with the evaluator's ``LightningModule`` and ``Trainer`` in the experiment's
process. Each class here *declares the arguments of its algorithm once*; the update rule lives in
:mod:`retiarii.oneshot.pytorch.algorithms` (one class per algorithm), which both the Lightning
driver behind these strategies and the plain-PyTorch trainers of seed 004 (``DartsTrainer`` ...)
run. This module does not import torch or Lightning.

On several devices, pass a DDP strategy to the evaluator's trainer (see
:mod:`retiarii.oneshot.pytorch.lightning`); FSDP and DeepSpeed are not supported.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import BaseStrategy

__all__ = ["DARTS", "ENAS", "GumbelDARTS", "OneShotStrategy", "Proxyless", "RandomOneShot"]


#: NNI 2.x's arguments of its one-shot strategies that have no counterpart here, and why.
_NNI_ONLY = {
    "log_prob_every_n_step": "the architecture probabilities are recorded every epoch "
    "(arch_prob/<label> in the experiment's store, plotted by the dashboard)",
    "mutation_hooks": "there are no mutation hooks; the algorithm builds the supernet from the "
    "space's choices itself, and refuses a module it cannot share when the search starts, "
    "naming it and its label",
}


class OneShotStrategy(BaseStrategy):
    """Base of one-shot strategies: the arguments of one algorithm; proposes no trial.

    ``algorithm`` names the torch class (``module:Class``) that runs the update rule; it is made
    by :meth:`make_algorithm` with this object as its configuration.
    """

    algorithm = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        for name in sorted(_NNI_ONLY.keys() & kwargs.keys()):
            raise TypeError(
                f"{cls.__name__}({name}=...) is an argument of NNI's {cls.__name__} that "
                f"retiarii does not take: {_NNI_ONLY[name]}; remove it"
            )
        return super().__new__(cls)

    def __init__(self, gradient_clip_val: float | None = None) -> None:
        super().__init__()
        self.gradient_clip_val = gradient_clip_val

    def make_algorithm(self) -> Any:
        """A fresh algorithm object (``retiarii.oneshot.pytorch.algorithms``) configured by this
        strategy."""
        module, name = self.algorithm.split(":")
        cls = getattr(importlib.import_module(module), name)
        return cls(self)

    def propose(self) -> None:
        raise TypeError(
            f"{type(self).__name__}() is a one-shot strategy: it trains a supernet instead of "
            "proposing trials; run it with RetiariiExperiment and a Lightning evaluator"
        )


_ALGORITHMS = "retiarii.oneshot.pytorch.algorithms"


class DARTS(OneShotStrategy):
    """DARTS: an architecture step on a validation batch (Adam on ``alpha``), then a weight step
    on a training batch; ``softmax(alpha)`` mixes the candidates (value choices in layer arguments
    mix zero-padded sliced weights).

    Args:
        arc_learning_rate: Adam learning rate of the architecture parameters.
        unrolled: second-order DARTS (the virtual step uses the weight optimizer's learning rate,
            momentum and weight decay).
        gradient_clip_val: clip the weights' gradient norm (None or 0: no clipping, NNI 2.10's
            default; the DARTS paper clips at 5).
        penalty: a cost penalty of the architecture loss,
            :class:`~retiarii.oneshot.pytorch.ExpectationProfilerPenalty` (expected parameters,
            FLOPs or latency under ``softmax(alpha)``, with a target and a weight).
    """

    algorithm = f"{_ALGORITHMS}:Darts"

    def __init__(
        self,
        arc_learning_rate: float = 3e-4,
        unrolled: bool = False,
        gradient_clip_val: float | None = None,
        penalty: Any = None,
    ) -> None:
        super().__init__(gradient_clip_val)
        if unrolled and penalty is not None and getattr(penalty, "aggregate", "add") != "add":
            raise ValueError("DARTS(unrolled=True) supports only a penalty with aggregate='add'")
        self.arc_learning_rate = arc_learning_rate
        self.unrolled = unrolled
        self.penalty = penalty


class GumbelDARTS(DARTS):
    """DARTS with Gumbel-softmax mixing weights ``softmax((alpha + g) / tau)`` (fresh noise per
    forward pass, none when validating).

    Args:
        arc_learning_rate, gradient_clip_val: as for :class:`DARTS`.
        gumbel_temperature: ``tau``.
        use_temp_anneal: anneal ``tau`` linearly from ``gumbel_temperature`` (first epoch) to
            ``min_temp`` (after the last).
        min_temp: the final temperature when annealing.
        penalty: a cost penalty of the architecture loss,
            :class:`~retiarii.oneshot.pytorch.ExpectationProfilerPenalty` (expected parameters,
            FLOPs or latency under ``softmax(alpha), without noise``, with a target and a weight).
    """

    algorithm = f"{_ALGORITHMS}:GumbelDarts"

    def __init__(
        self,
        arc_learning_rate: float = 3e-4,
        gradient_clip_val: float | None = None,
        gumbel_temperature: float = 1.0,
        use_temp_anneal: bool = False,
        min_temp: float = 0.33,
        penalty: Any = None,
    ) -> None:
        super().__init__(arc_learning_rate, False, gradient_clip_val, penalty)
        self.gumbel_temperature = gumbel_temperature
        self.use_temp_anneal = use_temp_anneal
        self.min_temp = min_temp


class ENAS(OneShotStrategy):
    """ENAS: an LSTM controller samples the path of every weight step; after it, the controller
    samples a path for the validation batch and learns by REINFORCE from its reward.

    Args:
        reward_function: ``fn(model output, target) -> float`` on a validation batch.
        reward_metric_name: the name of a metric the evaluator's ``validation_step`` logs (e.g.
            ``'val_acc'``), used as the reward. Without either: minus the loss (the evaluator's
            ``training_step``) of the validation batch.
        ctrl_lr: Adam learning rate of the controller.
        ctrl_steps_aggregate: controller samples per controller update.
        entropy_weight: weight of the sample entropy added to the reward.
        skip_weight: weight of the skip penalty (any-subset input choices).
        baseline_decay: ``baseline = decay * baseline + (1 - decay) * reward`` (from the first).
        ctrl_kwargs: arguments of :class:`~retiarii.oneshot.pytorch.ReinforceController`.
        gradient_clip_val: clip the weights' gradient norm (and the controller's, unless
            ``ctrl_grad_clip`` is given); None (NNI 2.10's default): no clipping.
        ctrl_grad_clip: clip the controller's gradient norm to this instead (NNI's argument;
            0: no clipping).
        penalty: an :class:`~retiarii.oneshot.pytorch.ExpectationProfilerPenalty`; its penalty of
            the *sampled* architecture's cost is subtracted from the reward (``aggregate='add'``:
            ``reward - scale * p``; ``'mul'``: ``reward / (1 + p) ** scale``) before REINFORCE.
    """

    algorithm = f"{_ALGORITHMS}:Enas"

    def __init__(
        self,
        reward_function: Any = None,
        reward_metric_name: str | None = None,
        ctrl_lr: float = 3.5e-4,
        ctrl_steps_aggregate: int = 20,
        entropy_weight: float = 1e-4,
        skip_weight: float = 0.8,
        baseline_decay: float = 0.999,
        ctrl_kwargs: dict[str, Any] | None = None,
        gradient_clip_val: float | None = None,
        penalty: Any = None,
        ctrl_grad_clip: float | None = None,
    ) -> None:
        super().__init__(gradient_clip_val)
        if reward_function is not None and reward_metric_name is not None:
            raise ValueError("ENAS: pass reward_function or reward_metric_name, not both")
        self.reward_function = reward_function
        self.reward_metric_name = reward_metric_name
        self.ctrl_lr = ctrl_lr
        self.ctrl_steps_aggregate = ctrl_steps_aggregate
        self.entropy_weight = entropy_weight
        self.skip_weight = skip_weight
        self.baseline_decay = baseline_decay
        self.ctrl_kwargs = ctrl_kwargs
        self.penalty = penalty
        self.ctrl_grad_clip = ctrl_grad_clip


class Proxyless(OneShotStrategy):
    """ProxylessNAS with binary gates, optionally latency-aware (latency measured on the device
    the search runs on, on one example of the training data). Value choices in layer arguments
    and ``Repeat`` depths are gated like layer choices: one sampled slice per weight step, the two
    sampled values of each label per architecture step (the latency loss covers layer choices
    only; use ``penalty`` on value choices).

    Args:
        arc_learning_rate: learning rate of the architecture optimizer (Adam, betas (0, 0.999)).
        warmup_epochs: first epochs that train only the weights.
        grad_reg_loss_type: ``None`` (accuracy only), ``'add#linear'``
            (``loss + lambda * (E - ref_latency) / ref_latency``) or ``'mul#log'``
            (``loss * alpha * (log E / log ref_latency) ** beta``, latencies above 1 ms),
            ``E`` the expected latency in ms.
        grad_reg_loss_params: ``{'lambda': 0.2}`` for ``'add#linear'``,
            ``{'alpha': 1, 'beta': 0.6}`` for ``'mul#log'`` (the defaults).
        ref_latency: the reference latency (ms) of the regularisation.
        latency_profiler: a :class:`~retiarii.oneshot.pytorch.LatencyProfiler` (default: one on
            the training device with the default cached table).
        gradient_clip_val: clip the weights' gradient norm.
        penalty: a cost penalty of the architecture loss,
            :class:`~retiarii.oneshot.pytorch.ExpectationProfilerPenalty` (expected parameters,
            FLOPs or latency under ``softmax(alpha)``, with a target and a weight).
    """

    algorithm = f"{_ALGORITHMS}:Proxyless"

    def __init__(
        self,
        arc_learning_rate: float = 1e-3,
        warmup_epochs: int = 0,
        grad_reg_loss_type: str | None = None,
        grad_reg_loss_params: dict[str, float] | None = None,
        ref_latency: float = 65.0,
        latency_profiler: Any = None,
        gradient_clip_val: float | None = None,
        penalty: Any = None,
    ) -> None:
        super().__init__(gradient_clip_val)
        if grad_reg_loss_type not in (None, "add#linear", "mul#log"):
            raise ValueError(
                "grad_reg_loss_type must be None, 'add#linear' or 'mul#log', "
                f"got {grad_reg_loss_type!r}"
            )
        self.arc_learning_rate = arc_learning_rate
        self.warmup_epochs = warmup_epochs
        self.grad_reg_loss_type = grad_reg_loss_type
        self.grad_reg_loss_params = grad_reg_loss_params
        self.ref_latency = ref_latency
        self.latency_profiler = latency_profiler
        self.penalty = penalty


class RandomOneShot(OneShotStrategy):
    """Uniform single-path training (SPOS), then a search of the trained supernet: an ordinary
    ask/tell strategy (default :class:`~retiarii.strategy.RegularizedEvolution`) proposes subnets,
    each scored in-process on validation batches after BatchNorm recalibration.

    Args:
        population_size, evolution_cycles, mutation_prob: the default evolution
            (``population_size * (1 + evolution_cycles)`` subnets evaluated).
        search_strategy: another ask/tell strategy to search with (``population_size`` and
            ``evolution_cycles`` still set the number of subnets evaluated).
        bn_recalibration_batches: training batches to recompute BatchNorm statistics on.
        eval_batches: validation batches per evaluated subnet (None: all).
        seed: seed of the path sampling and the search.
        gradient_clip_val: clip the weights' gradient norm.
        constraint: ``fn(sample) -> bool`` (e.g. a
            :class:`~retiarii.profiler.RangeProfilerFilter`): the search evaluates only subnets
            satisfying it (the default evolution's ``model_filter``; a ``search_strategy`` given
            keeps its own filter, and subnets failing this one are skipped unevaluated).
    """

    algorithm = f"{_ALGORITHMS}:RandomOneShot"

    def __init__(
        self,
        population_size: int = 20,
        evolution_cycles: int = 10,
        mutation_prob: float = 0.1,
        search_strategy: BaseStrategy | None = None,
        bn_recalibration_batches: int = 10,
        eval_batches: int | None = 10,
        seed: int | None = None,
        gradient_clip_val: float | None = None,
        constraint: Any = None,
    ) -> None:
        super().__init__(gradient_clip_val)
        self.population_size = population_size
        self.evolution_cycles = evolution_cycles
        self.mutation_prob = mutation_prob
        self.search_strategy = search_strategy
        self.bn_recalibration_batches = bn_recalibration_batches
        self.eval_batches = eval_batches
        self.seed = seed
        self.constraint = constraint
