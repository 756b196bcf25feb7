"""One-shot strategies for Lightning evaluators: DARTS, GumbelDARTS, ENAS, Proxyless, RandomOneShot.

.. code-block:: python

    import retiarii.strategy as strategy
    import retiarii.evaluator.pytorch.lightning as pl

    evaluator = pl.Classification(train_dataloaders=..., val_dataloaders=..., max_epochs=10)
    exp = RetiariiExperiment(space, evaluator, None, strategy.DARTS())
    exp.run()
    exp.export_top_models()          # [the architecture DARTS found]

Unlike the ask/tell strategies, a one-shot strategy trains one supernet with the evaluator's
``LightningModule`` and ``Trainer`` (Lightning's loops, logging and devices), in the experiment's
process. The algorithms are those of :mod:`retiarii.oneshot.pytorch` (see
:mod:`retiarii.oneshot.pytorch.lightning`). This module does not import Lightning until a
strategy is used.

On several devices, pass a DDP strategy to the evaluator's trainer; the search is data-parallel
(each process trains on its share of the batches, gradients of the weights and of the
architecture are averaged), the experiment's process records it and exports one architecture:

.. code-block:: python

    evaluator = pl.Classification(..., max_epochs=10, accelerator="gpu", devices=4, strategy="ddp")
    # on CPU: accelerator="cpu", devices=2, strategy="ddp" (gloo)

``strategy='ddp'`` starts the other processes with the search cloudpickled (the script is not run
again) and keeps this one as rank 0; ``'ddp_spawn'`` and ``'ddp_fork'`` train in child processes
and bring rank 0's results back when the fit ends. FSDP and DeepSpeed are not supported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DARTS", "ENAS", "GumbelDARTS", "OneShotStrategy", "Proxyless", "RandomOneShot"]


class OneShotStrategy:
    """Base of one-shot strategies: builds the Lightning module that searches the space."""

    def oneshot_trainer(self, base_model: Any, evaluator: Any) -> Any:
        """The one-shot trainer that searches ``base_model`` (in place) with ``evaluator``."""
        from ..oneshot.pytorch.lightning import LightningOneShotTrainer

        return LightningOneShotTrainer(base_model, evaluator, self)

    def make_module(self, user_module: Any, evaluator: Any) -> Any:
        """The ``OneShotModule`` wrapping ``user_module`` (whose ``model`` is the space)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class DARTS(OneShotStrategy):
    """First-order DARTS: architecture step on a validation batch, weight step on a training
    batch; ``softmax(alpha)`` mixes the candidates.

    Args:
        arc_learning_rate: Adam learning rate of the architecture parameters.
        gradient_clip_val: clip the weights' gradient norm (Lightning's own clipping does not
            apply to the manual optimisation one-shot search uses).
    """

    def __init__(
        self, arc_learning_rate: float = 3e-4, gradient_clip_val: float | None = 5.0
    ) -> None:
        self.arc_learning_rate = arc_learning_rate
        self.gradient_clip_val = gradient_clip_val

    def make_module(self, user_module: Any, evaluator: Any) -> Any:
        from ..oneshot.pytorch.lightning_modules import DartsModule

        return DartsModule(user_module, self.arc_learning_rate, self.gradient_clip_val)


class GumbelDARTS(DARTS):
    """DARTS with Gumbel-softmax mixing weights (fresh noise per forward pass).

    Args:
        gumbel_temperature: the temperature; annealed linearly to ``min_temp`` over the epochs
            when ``use_temp_anneal``.
    """

    def __init__(
        self,
        arc_learning_rate: float = 3e-4,
        gradient_clip_val: float | None = 5.0,
        gumbel_temperature: float = 1.0,
        use_temp_anneal: bool = False,
        min_temp: float = 0.33,
    ) -> None:
        super().__init__(arc_learning_rate, gradient_clip_val)
        self.gumbel_temperature = gumbel_temperature
        self.use_temp_anneal = use_temp_anneal
        self.min_temp = min_temp

    def make_module(self, user_module: Any, evaluator: Any) -> Any:
        from ..oneshot.pytorch.lightning_modules import DartsModule

        return DartsModule(
            user_module,
            self.arc_learning_rate,
            self.gradient_clip_val,
            gumbel_temperature=self.gumbel_temperature,
            use_temp_anneal=self.use_temp_anneal,
            min_temp=self.min_temp,
        )


class ENAS(OneShotStrategy):
    """ENAS: an LSTM controller samples the path of every step; REINFORCE on validation batches.

    Args:
        reward_function: ``fn(model output, target) -> float`` on a validation batch; minus the
            evaluator's training loss when None.
        ctrl_lr, ctrl_steps_aggregate, entropy_weight, skip_weight, baseline_decay, ctrl_kwargs:
            as for :class:`~retiarii.oneshot.pytorch.EnasTrainer`.
        gradient_clip_val: clip the weights' and the controller's gradient norms.
    """

    def __init__(
        self,
        reward_function: Any = None,
        ctrl_lr: float = 3.5e-4,
        ctrl_steps_aggregate: int = 20,
        entropy_weight: float = 1e-4,
        skip_weight: float = 0.8,
        baseline_decay: float = 0.999,
        ctrl_kwargs: dict[str, Any] | None = None,
        gradient_clip_val: float | None = 5.0,
    ) -> None:
        self.reward_function = reward_function
        self.ctrl_lr = ctrl_lr
        self.ctrl_steps_aggregate = ctrl_steps_aggregate
        self.entropy_weight = entropy_weight
        self.skip_weight = skip_weight
        self.baseline_decay = baseline_decay
        self.ctrl_kwargs = ctrl_kwargs
        self.gradient_clip_val = gradient_clip_val

    def make_module(self, user_module: Any, evaluator: Any) -> Any:
        from ..oneshot.pytorch.lightning_modules import EnasModule

        return EnasModule(
            user_module,
            reward_function=self.reward_function,
            gradient_clip_val=self.gradient_clip_val,
            entropy_weight=self.entropy_weight,
            skip_weight=self.skip_weight,
            baseline_decay=self.baseline_decay,
            ctrl_lr=self.ctrl_lr,
            ctrl_steps_aggregate=self.ctrl_steps_aggregate,
            ctrl_kwargs=self.ctrl_kwargs,
        )


class Proxyless(OneShotStrategy):
    """ProxylessNAS with binary gates, optionally latency-aware (latency measured on the device
    the search runs on, on the first example of the training data).

    Args: as for :class:`~retiarii.oneshot.pytorch.ProxylessTrainer` (``arc_learning_rate``,
    ``warmup_epochs``, ``grad_reg_loss_type``, ``grad_reg_loss_params``, ``ref_latency``,
    ``latency_profiler``), plus ``gradient_clip_val``.
    """

    def __init__(
        self,
        arc_learning_rate: float = 1e-3,
        warmup_epochs: int = 0,
        grad_reg_loss_type: str | None = None,
        grad_reg_loss_params: dict[str, float] | None = None,
        ref_latency: float = 65.0,
        latency_profiler: Any = None,
        gradient_clip_val: float | None = None,
    ) -> None:
        self.arc_learning_rate = arc_learning_rate
        self.warmup_epochs = warmup_epochs
        self.grad_reg_loss_type = grad_reg_loss_type
        self.grad_reg_loss_params = grad_reg_loss_params
        self.ref_latency = ref_latency
        self.latency_profiler = latency_profiler
        self.gradient_clip_val = gradient_clip_val

    def make_module(self, user_module: Any, evaluator: Any) -> Any:
        from ..oneshot.pytorch.lightning_modules import ProxylessModule

        dummy = None
        if self.grad_reg_loss_type is not None:
            x = next(iter(evaluator.train_dataloaders))[0]
            dummy = x[:1]
        return ProxylessModule(
            user_module,
            arc_learning_rate=self.arc_learning_rate,
            gradient_clip_val=self.gradient_clip_val,
            warmup_epochs=self.warmup_epochs,
            grad_reg_loss_type=self.grad_reg_loss_type,
            grad_reg_loss_params=self.grad_reg_loss_params,
            ref_latency=self.ref_latency,
            latency_profiler=self.latency_profiler,
            dummy_input=dummy,
        )


class RandomOneShot(OneShotStrategy):
    """Uniform single-path training (SPOS), then an evolutionary search of the trained supernet
    (BatchNorm recalibrated, scored by minus the evaluator's loss on validation batches).

    Args:
        population_size, evolution_cycles, mutation_prob: the evolution.
        bn_recalibration_batches: training batches to recompute BatchNorm statistics on.
        eval_batches: validation batches per evaluated subnet.
        seed: seed of the path sampling and the search.
        gradient_clip_val: clip the weights' gradient norm.
    """

    def __init__(
        self,
        population_size: int = 20,
        evolution_cycles: int = 10,
        mutation_prob: float = 0.1,
        bn_recalibration_batches: int = 10,
        eval_batches: int | None = 10,
        seed: int | None = None,
        gradient_clip_val: float | None = None,
    ) -> None:
        self.population_size = population_size
        self.evolution_cycles = evolution_cycles
        self.mutation_prob = mutation_prob
        self.bn_recalibration_batches = bn_recalibration_batches
        self.eval_batches = eval_batches
        self.seed = seed
        self.gradient_clip_val = gradient_clip_val

    def make_module(self, user_module: Any, evaluator: Any) -> Any:
        from ..oneshot.pytorch.lightning_modules import RandomOneShotModule

        return RandomOneShotModule(
            user_module,
            gradient_clip_val=self.gradient_clip_val,
            population_size=self.population_size,
            evolution_cycles=self.evolution_cycles,
            mutation_prob=self.mutation_prob,
            bn_recalibration_batches=self.bn_recalibration_batches,
            eval_batches=self.eval_batches,
            seed=self.seed,
        )
