"""The one-shot algorithms as :class:`~.lightning.OneShotModule` subclasses (used by the
strategies of :mod:`retiarii.strategy.oneshot`)."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from ...evaluator.pytorch.lightning import LightningModule
from ...mutable import SearchSpace
from ..evolution import EvolutionResult, evolution_search
from .differentiable import DifferentiableSupernet
from .distributed import broadcast_object, broadcast_random_state
from .enas import ReinforceController, ReinforceField, greedy_probs, set_path
from .latency import LatencyProfiler
from .lightning import OneShotModule
from .proxyless import ProxylessSupernet, check_latency_loss, latency_regularized
from .sampling import PathSamplingSupernet
from .spos import recalibrate_batchnorm
from .supernet import Switch
from .utils import to_device

__all__ = ["DartsModule", "EnasModule", "ProxylessModule", "RandomOneShotModule"]


class DartsModule(OneShotModule):
    """DARTS (first order) or, with ``gumbel_temperature``, GumbelDARTS."""

    def __init__(
        self,
        user: LightningModule,
        arc_learning_rate: float = 3e-4,
        gradient_clip_val: float | None = 5.0,
        gumbel_temperature: float | None = None,
        use_temp_anneal: bool = False,
        min_temp: float = 0.33,
    ) -> None:
        super().__init__(user, gradient_clip_val)
        name = "strategy.GumbelDARTS" if gumbel_temperature is not None else "strategy.DARTS"
        self.supernet = DifferentiableSupernet(
            user.model, gumbel=gumbel_temperature is not None, trainer=name
        )
        self.arc_learning_rate = arc_learning_rate
        self.initial_temperature = gumbel_temperature
        self.temperature = gumbel_temperature
        self.use_temp_anneal = use_temp_anneal
        self.min_temp = min_temp

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.supernet.arch_parameters())

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        alphas = self.arch_parameters()
        if not alphas:
            return []
        return [
            torch.optim.Adam(alphas, self.arc_learning_rate, betas=(0.5, 0.999), weight_decay=1e-3)
        ]

    def on_train_epoch_start(self) -> None:
        if self.initial_temperature is not None and self.use_temp_anneal:
            progress = self.current_epoch / max(self.trainer.max_epochs or 1, 1)
            self.temperature = (1 - progress) * (
                self.initial_temperature - self.min_temp
            ) + self.min_temp
        super().on_train_epoch_start()

    def _resample(self) -> None:
        if self.temperature is not None:
            self.supernet.resample(self.temperature)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        alphas = self.arch_parameters()
        if alphas:
            arch_optimizer = self._optimizers()[-1]
            arch_optimizer.zero_grad()
            self._resample()
            self.manual_backward(self.user_loss(batch["val"], batch_idx), inputs=alphas)
            self.sync_gradients(alphas)
            arch_optimizer.step()
        self._resample()
        return self.weight_step(batch["train"], batch_idx)

    def prepare_eval(self) -> None:
        if self.temperature is not None:  # validate the mixture without noise
            for label, noise in self.supernet.noises.items():
                noise.noise = torch.zeros_like(self.supernet.alphas[label].detach())

    def export(self) -> dict[str, Any]:
        return self.supernet.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        return self.supernet.export_probs()


class ProxylessModule(OneShotModule):
    """ProxylessNAS: binary gates, two paths per architecture step, one per weight step."""

    def __init__(
        self,
        user: LightningModule,
        arc_learning_rate: float = 1e-3,
        gradient_clip_val: float | None = None,
        warmup_epochs: int = 0,
        grad_reg_loss_type: str | None = None,
        grad_reg_loss_params: dict[str, float] | None = None,
        ref_latency: float = 65.0,
        latency_profiler: LatencyProfiler | None = None,
        dummy_input: Any = None,
    ) -> None:
        super().__init__(user, gradient_clip_val)
        check_latency_loss(grad_reg_loss_type, ref_latency)
        self.supernet = ProxylessSupernet(user.model, trainer="strategy.Proxyless")
        self.arc_learning_rate = arc_learning_rate
        self.warmup_epochs = warmup_epochs
        self.reg_loss_type = grad_reg_loss_type
        self.reg_loss_params = dict(grad_reg_loss_params or {})
        self.ref_latency = ref_latency
        self.latency_profiler = latency_profiler
        self.dummy_input = dummy_input
        self.latency_table: dict[str, list[float]] = {}
        self.rng = random.Random(int(torch.randint(2**31 - 1, ())))

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.supernet.arch_parameters())

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        alphas = self.arch_parameters()
        if not alphas:
            return []
        return [torch.optim.Adam(alphas, lr=self.arc_learning_rate, betas=(0.0, 0.999), eps=1e-8)]

    def on_fit_start(self) -> None:
        broadcast_random_state(self.rng)  # every rank samples the same pairs (for rescale())
        if self.reg_loss_type is None or self.supernet.latencies:
            return
        if self.dummy_input is None:
            raise ValueError("strategy.Proxyless: no input to measure latency on")
        if not self.distributed or self.global_rank == 0:  # rank 0 measures, the others use it
            profiler = self.latency_profiler or LatencyProfiler(self.device)
            example = to_device(self.dummy_input, self.device)
            self.latency_table = self.supernet.measure_latency(self.user.model, example, profiler)
        if self.distributed:
            table = broadcast_object((self.latency_table, self.supernet.base_latency))
            self.latency_table = table[0]
            self.supernet.set_latencies(*table)
        check_latency_loss(self.reg_loss_type, self.ref_latency, self.supernet)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        alphas = self.arch_parameters()
        if alphas and self.current_epoch >= self.warmup_epochs:
            arch_optimizer = self._optimizers()[-1]
            self.supernet.sample_two(self.rng)
            arch_optimizer.zero_grad()
            loss = latency_regularized(
                self.user_loss(batch["val"], batch_idx),
                self.supernet,
                self.reg_loss_type,
                self.reg_loss_params,
                self.ref_latency,
            )
            self.manual_backward(loss, inputs=alphas)
            self.sync_gradients(alphas)
            before = self.supernet.pair_logits()
            arch_optimizer.step()
            self.supernet.rescale(before)
        self.supernet.sample_one(self.rng)
        return self.weight_step(batch["train"], batch_idx)

    def prepare_eval(self) -> None:
        for decision in self.supernet.decisions.values():
            decision.pair, decision.active = None, int(torch.argmax(decision.alpha))

    def export(self) -> dict[str, Any]:
        return self.supernet.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        return self.supernet.export_probs()


class _SamplingModule(OneShotModule):
    def __init__(self, user: LightningModule, gradient_clip_val: float | None, name: str) -> None:
        super().__init__(user, gradient_clip_val)
        self.supernet = PathSamplingSupernet(user.model, trainer=name)
        self.switches: list[Switch] = list(self.supernet.board.values())


class EnasModule(_SamplingModule):
    """ENAS: an LSTM controller samples paths; trained by REINFORCE on validation batches.

    The reward of a path is ``reward_function(model output, target)`` on a validation batch
    ``(x, target)``, or minus the user's training loss on it if ``reward_function`` is None.
    """

    def __init__(
        self,
        user: LightningModule,
        reward_function: Any = None,
        gradient_clip_val: float | None = 5.0,
        entropy_weight: float = 1e-4,
        skip_weight: float = 0.8,
        baseline_decay: float = 0.999,
        ctrl_lr: float = 3.5e-4,
        ctrl_steps_aggregate: int = 20,
        ctrl_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(user, gradient_clip_val, "strategy.ENAS")
        self.controller = ReinforceController(
            [ReinforceField.of(s) for s in self.switches], **(ctrl_kwargs or {})
        )
        self.reward_function = reward_function
        self.entropy_weight = entropy_weight
        self.skip_weight = skip_weight
        self.baseline_decay = baseline_decay
        self.baseline: float | None = None
        self.ctrl_lr = ctrl_lr
        self.ctrl_steps_aggregate = ctrl_steps_aggregate
        self._ctrl_step = 0

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.controller.parameters())

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        if not self.switches:
            return []
        return [torch.optim.Adam(self.controller.parameters(), lr=self.ctrl_lr)]

    def _reward(self, batch: Any, batch_idx: int) -> float:
        was_training = self.user.training
        self.user.eval()
        with torch.no_grad():
            if self.reward_function is None:
                reward = -float(self.user_loss(batch, batch_idx))
            else:
                x, y = batch
                reward = float(self.reward_function(self.user(x), y))
        self.user.train(was_training)
        return reward

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        with torch.no_grad():
            set_path(self.switches, self.controller.resample())
        loss = self.weight_step(batch["train"], batch_idx)
        if not self.switches:
            return loss
        set_path(self.switches, self.controller.resample())
        reward = self._reward(batch["val"], batch_idx)
        if self.entropy_weight:
            reward += self.entropy_weight * float(self.controller.sample_entropy)
        if self.baseline is None:
            self.baseline = reward
        self.baseline = self.baseline * self.baseline_decay + reward * (1 - self.baseline_decay)
        ctrl_loss = -self.controller.sample_log_prob * (reward - self.baseline)
        if self.skip_weight:
            ctrl_loss = ctrl_loss + self.skip_weight * self.controller.sample_skip_penalty
        self.manual_backward(ctrl_loss / self.ctrl_steps_aggregate)
        self._ctrl_step += 1
        if self._ctrl_step % self.ctrl_steps_aggregate == 0:
            optimizer = self._optimizers()[-1]
            self.sync_gradients(self.controller.parameters())
            if self.gradient_clip_val:
                self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val)
            optimizer.step()
            optimizer.zero_grad()
        self.log("reward", reward)
        return loss

    @torch.no_grad()
    def prepare_eval(self) -> None:
        set_path(self.switches, self.controller.resample(greedy=True))

    @torch.no_grad()
    def export(self) -> dict[str, Any]:
        self.prepare_eval()
        return self.supernet.sample()

    def export_probs(self) -> dict[str, dict[str, float]]:
        return greedy_probs(self.controller, self.switches)


class RandomOneShotModule(_SamplingModule):
    """Uniform single-path training (SPOS); after fitting, an evolutionary search of subnets
    (BatchNorm recalibrated) scored by minus the user's loss on validation batches."""

    needs_validation_batches = False

    def __init__(
        self,
        user: LightningModule,
        gradient_clip_val: float | None = None,
        population_size: int = 20,
        evolution_cycles: int = 10,
        mutation_prob: float = 0.1,
        bn_recalibration_batches: int = 10,
        eval_batches: int | None = 10,
        seed: int | None = None,
    ) -> None:
        super().__init__(user, gradient_clip_val, "strategy.RandomOneShot")
        self.rng = random.Random(int(torch.randint(2**31 - 1, ())) if seed is None else seed)
        self.population_size = population_size
        self.evolution_cycles = evolution_cycles
        self.mutation_prob = mutation_prob
        self.bn_recalibration_batches = bn_recalibration_batches
        self.eval_batches = eval_batches
        self.search_result: EvolutionResult | None = None

    def on_fit_start(self) -> None:
        broadcast_random_state(self.rng)  # every rank trains the same path at every step

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.supernet.random(self.rng)
        return self.weight_step(batch, batch_idx)

    def prepare_eval(self) -> None:
        if self.search_result is not None:
            self.supernet.set_sample(self.search_result.best)
        else:
            self.supernet.random(self.rng)

    def after_fit(self, train: Any, valid: Any) -> None:
        self.search(train, valid)
        if self.distributed:  # every rank searched alike; rank 0's result is the one reported
            assert self.search_result is not None
            self.search_result = broadcast_object(self.search_result)
            self.supernet.set_sample(self.search_result.best)

    @torch.no_grad()
    def search(self, train: Iterable[Any], valid: Iterable[Any]) -> dict[str, Any]:
        """Evolutionary search of the trained supernet; returns (and activates) the best path."""
        device = next(self.user.parameters()).device
        calibration = [
            to_device(batch[0], device)
            for batch, _ in zip(train, range(self.bn_recalibration_batches))
        ]
        validation = [
            to_device(b, device) for b, _ in zip(valid, range(self.eval_batches or 1 << 30))
        ]
        if not validation:
            raise ValueError("strategy.RandomOneShot: the validation dataloader is empty")

        def fitness(sample: dict[str, Any]) -> float:
            self.supernet.set_sample(sample)
            recalibrate_batchnorm(self.user.model, calibration)
            self.user.eval()
            losses = []
            for index, batch in enumerate(validation):
                out: Any = self.user.training_step(batch, index)
                losses.append(float(out["loss"] if isinstance(out, Mapping) else out))
            return -sum(losses) / len(losses)

        # The fit is over: the user's self.log() calls have no loop to log into.
        trainer, self.user._trainer = self.user._trainer, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.search_result = evolution_search(
                    SearchSpace(
                        (s.decision for s in self.switches), self.supernet.board.constraints
                    ),
                    fitness,
                    population_size=self.population_size,
                    cycles=self.evolution_cycles,
                    mutation_prob=self.mutation_prob,
                    seed=self.rng,
                )
                fitness(self.search_result.best)
        finally:
            self.user._trainer = trainer
        return dict(self.search_result.best)

    def export(self) -> dict[str, Any]:
        if self.search_result is None:
            raise RuntimeError("strategy.RandomOneShot: fit (and search) first")
        return dict(self.search_result.best)
