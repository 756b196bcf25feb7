"""The one-shot algorithms, one class each: update rule, architecture parameters and their
optimizer, ``export()``.

An algorithm is configured by its strategy object (:mod:`retiarii.strategy.oneshot`, where every
argument is declared and documented once) and run by a *driver*, which owns the data, the weights'
optimizers and the loop. Two drivers exist: the plain PyTorch loop behind the seed-004 trainers
(:class:`~.trainer.SupernetTrainer`: ``DartsTrainer(...)`` ...) and the Lightning module behind
``strategy.DARTS()`` etc. (:class:`~.lightning.OneShotModule`). The algorithm reaches the
driver only through :class:`Driver`, so one update rule serves both (the parity tests check it).

What an algorithm does not do: load data, build optimizers of the weights, log, checkpoint, or
talk to the experiment; those belong to the drivers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import torch
import torch.nn as tnn

from ...mutable import SearchSpace
from ..base import BaseOneShotTrainer
from .differentiable import DifferentiableSupernet
from .distributed import broadcast_object, broadcast_random_state
from .enas import ReinforceController, ReinforceField, greedy_probs, set_path
from .latency import LatencyProfiler
from .proxyless import ProxylessSupernet, check_latency_loss, latency_regularized
from .sampling import PathSamplingSupernet
from .spos import recalibrate_batchnorm
from .utils import set_random_state, to_device

_logger = logging.getLogger("retiarii.oneshot")

__all__ = [
    "Algorithm",
    "AlgorithmTrainer",
    "Darts",
    "Driver",
    "Enas",
    "GumbelDarts",
    "Proxyless",
    "RandomOneShot",
]


class Driver(Protocol):
    """What an algorithm may ask of the loop that runs it."""

    @property
    def current_epoch(self) -> int:
        """The epoch being trained, from 0."""

    @property
    def max_epochs(self) -> int:
        """The number of epochs of the fit."""

    @property
    def device(self) -> torch.device:
        """Where the model is."""

    @property
    def distributed(self) -> bool:
        """Whether several processes search together."""

    def loss(self, batch: Any) -> torch.Tensor:
        """The user's loss of ``batch`` (a differentiable scalar), model in training mode."""

    def weight_step(self, batch: Any) -> torch.Tensor:
        """One step of the weights' optimizers on ``batch`` (backward into the weights only,
        clipped); returns the loss."""

    def backward_to(self, loss: torch.Tensor, inputs: Sequence[torch.Tensor]) -> None:
        """``loss.backward(inputs=inputs)``, the driver's way."""

    def sync(self, params: Iterable[torch.Tensor]) -> None:
        """Average the gradients of ``params`` over the processes (no-op in one process)."""

    def clip(self, params: Iterable[torch.Tensor]) -> None:
        """Clip the gradient norm of ``params`` to the driver's clip value (if any)."""

    def arch_optimizers(self) -> list[Any]:
        """The optimizers :meth:`Algorithm.configure_arch_optimizers` made, as the driver steps
        them."""

    def weight_optimizers(self) -> list[torch.optim.Optimizer]:
        """The weights' optimizers (plain torch optimizers)."""

    def weights(self) -> list[tnn.Parameter]:
        """The trainable weights (no architecture parameter)."""

    def reward(self, batch: Any, metric: str | None, function: Any) -> float:
        """``function(output, target)``, the logged ``metric``, or minus the loss, of ``batch``
        (no gradient, evaluation mode)."""

    def score(self, batches: Sequence[Any]) -> float:
        """How good the active subnet is on ``batches`` (higher is better)."""

    def log(self, name: str, value: float) -> None:
        """Record a number of this step (averaged over the epoch)."""


class Algorithm:
    """Base of the algorithms: do-nothing hooks a driver calls in this order:
    :meth:`attach` (the model space becomes a supernet), :meth:`configure_arch_optimizers`,
    :meth:`on_fit_start`, per epoch :meth:`on_epoch_start` and :meth:`training_step` per batch,
    :meth:`after_fit`; :meth:`prepare_eval` before validating; :meth:`export` at any time.
    """

    #: Whether :meth:`training_step` needs a validation batch along with each training batch.
    needs_validation_batches = True
    #: The model space made a supernet by :meth:`attach`.
    model: tnn.Module

    def __init__(self, config: Any) -> None:
        self.config = config
        self.name = type(config).__name__

    def attach(self, model: tnn.Module) -> None:
        """Replace the choices of ``model`` in place by this algorithm's supernet modules."""
        raise NotImplementedError

    def modules(self) -> dict[str, tnn.Module]:
        """Modules the algorithm owns besides the model (moved and saved with it)."""
        return {}

    def arch_parameters(self) -> list[torch.Tensor]:
        """Parameters the algorithm optimises (kept out of the weights' optimizers)."""
        return []

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        """The algorithm's optimizers."""
        return []

    def on_fit_start(self, driver: Driver) -> None:
        """Before the first step."""

    def on_epoch_start(self, driver: Driver) -> None:
        """Before each epoch."""

    def training_step(self, driver: Driver, batch: Any, val_batch: Any) -> torch.Tensor:
        """One search step; returns the weight step's loss."""
        raise NotImplementedError

    def epoch_metrics(self) -> dict[str, float]:
        """Numbers to report at the end of an epoch besides the driver's."""
        return {}

    def prepare_eval(self) -> None:
        """Activate the architecture to validate."""

    def after_fit(self, driver: Driver, train: Iterable[Any], valid: Iterable[Any]) -> None:
        """A search phase after training (nothing by default)."""

    def export(self) -> dict[str, Any]:
        """The architecture found, as a sample."""
        raise NotImplementedError

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: probability}}`` of the search state."""
        return {}

    def sub_state_dict(self, sample: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of the subnet ``sample`` (default: :meth:`export`) with the weights
        the supernet trained; it loads into the model ``fixed_arch(sample)`` builds.

        Raises ``ValueError`` for a space whose frozen network is rebuilt from its arguments
        (the NDS hub spaces): its layers are new, so no trained weight could be carried over, and
        fresh weights presented as trained ones would be worse than no answer."""
        from ...nn.pytorch.space import ModelSpace

        space = ModelSpace(self.model)
        if space.rebuilds_on_freeze:
            raise ValueError(
                f"sub_state_dict(): {type(self.model).__name__} builds a new network for each "
                "architecture (its cells' channels depend on the decisions), so the supernet's "
                "trained weights cannot be carried into it; retrain the exported architecture from "
                "scratch "
                "(NNI's NDS spaces do the same)"
            )
        chosen = self.export() if sample is None else sample
        frozen = space.freeze(chosen)
        return {k: v.detach().clone() for k, v in frozen.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """Plain state besides tensors of :meth:`modules` and the model (for resume)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


class AlgorithmTrainer(BaseOneShotTrainer):
    """A one-shot trainer that runs :attr:`algorithm` (what both drivers' trainers share)."""

    algorithm: Algorithm

    def export(self) -> dict[str, Any]:
        return self.algorithm.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        """``{label: {candidate: probability}}`` of the search state."""
        return self.algorithm.export_probs()

    def sub_state_dict(self, sample: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
        """The trained weights of the subnet ``sample`` (default: :meth:`export`), as a
        ``state_dict`` that loads into ``fixed_arch(sample)``'s model."""
        return self.algorithm.sub_state_dict(sample)


def _random_generator(seed: int | None = None) -> random.Random:
    return random.Random(int(torch.randint(2**31 - 1, ())) if seed is None else seed)


class _Alphas(Algorithm):
    """What the algorithms with an architecture parameter ``alpha`` per label share (their
    supernet is an :class:`~.differentiable.AlphaSupernet`)."""

    supernet: DifferentiableSupernet | ProxylessSupernet

    def modules(self) -> dict[str, tnn.Module]:
        # Every alpha, also those of value choices and Repeat depths, which no module holds.
        return {"alphas": tnn.ParameterList(self.supernet.arch_parameters())}

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.supernet.arch_parameters())

    def probabilities(self) -> dict[str, torch.Tensor]:
        """``{label: softmax(alpha)}``: the architecture distribution (no Gumbel noise)."""
        return {label: torch.softmax(a, -1) for label, a in self.supernet.alphas.items()}

    def penalized(self, driver: Driver, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` with the configured cost penalty (an ``ExpectationProfilerPenalty``, if any)
        of the expected cost, logged."""
        penalty = getattr(self.config, "penalty", None)
        if penalty is None:
            return loss
        out, details = penalty(loss, self.probabilities())
        for name, value in details.items():
            driver.log(name, value)
        return out

    def export(self) -> dict[str, Any]:
        return self.supernet.export()

    def export_probs(self) -> dict[str, dict[str, float]]:
        return self.supernet.export_probs()


# -- DARTS ----------------------------------------------------------------------------------------
class Darts(_Alphas):
    """DARTS, first or second order (``config.unrolled``); see :class:`retiarii.strategy.DARTS`.

    The second-order gradient is eq. 7-8 of the paper: ``grad_alpha L_val(w', alpha) - xi H v``
    with ``w' = w - xi (mu m + grad_w L_train + lambda w)`` (``xi``, momentum ``mu`` and weight
    decay ``lambda`` per parameter from the weights' optimizer) and the Hessian-vector product
    by central finite differences, ``eps = 0.01 / ||v||``.
    """

    gumbel = False
    #: ``xi`` of the virtual step for optimizers without ``'lr'``.
    fallback_lr = 2.5e-3

    supernet: DifferentiableSupernet

    def attach(self, model: tnn.Module) -> None:
        self.model = model
        self.supernet = DifferentiableSupernet(model, gumbel=self.gumbel, trainer=self.name)

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        alphas = self.arch_parameters()
        if not alphas:
            return []
        lr = self.config.arc_learning_rate
        return [torch.optim.Adam(alphas, lr, betas=(0.5, 0.999), weight_decay=1e-3)]

    def resample(self) -> None:
        """Fresh noise before a forward pass (GumbelDARTS)."""

    def training_step(self, driver: Driver, batch: Any, val_batch: Any) -> torch.Tensor:
        alphas = self.arch_parameters()
        if alphas:
            [optimizer] = driver.arch_optimizers()
            optimizer.zero_grad()
            if self.config.unrolled:
                self._unrolled_backward(driver, batch, val_batch)
            else:
                self.resample()
                driver.backward_to(self.penalized(driver, driver.loss(val_batch)), alphas)
            driver.sync(alphas)
            optimizer.step()
        self.resample()
        return driver.weight_step(batch)

    # -- second order ------------------------------------------------------------------------------
    def _virtual_lrs(self, driver: Driver, weights: list[tnn.Parameter]) -> list[Any]:
        found: dict[int, tuple[float, float, float, Any]] = {}
        for optimizer in driver.weight_optimizers():
            for group in optimizer.param_groups:
                lr = float(group.get("lr", self.fallback_lr))
                mu = float(group.get("momentum", 0.0))
                decay = float(group.get("weight_decay", 0.0))
                for p in group["params"]:
                    buf = optimizer.state.get(p, {}).get("momentum_buffer") if mu else None
                    found[id(p)] = (lr, mu, decay, buf)
        return [found.get(id(w), (0.0, 0.0, 0.0, None)) for w in weights]

    def _unrolled_backward(self, driver: Driver, batch: Any, val_batch: Any) -> None:
        weights, alphas = driver.weights(), self.arch_parameters()
        hparams = self._virtual_lrs(driver, weights)
        backup = [w.detach().clone() for w in weights]
        self.resample()
        grads = torch.autograd.grad(driver.loss(batch), weights, allow_unused=True)
        with torch.no_grad():  # the virtual step w' = w - xi (mu m + g + lambda w)
            for w, g, (xi, mu, decay, buf) in zip(weights, grads, hparams):
                if g is None or xi == 0.0:
                    continue
                d = g + decay * w if decay else g
                if buf is not None:
                    d = d + mu * buf
                w.sub_(xi * d)
        self.resample()
        grads = torch.autograd.grad(driver.loss(val_batch), [*weights, *alphas], allow_unused=True)
        dw, dalpha = grads[: len(weights)], grads[len(weights) :]
        vector = [None if g is None or h[0] == 0.0 else h[0] * g for g, h in zip(dw, hparams)]
        hessian = self._hessian_vector(driver, weights, alphas, vector, backup, batch)
        for a, da, h in zip(alphas, dalpha, hessian):
            grad = -h if da is None else da - h
            a.grad = grad if a.grad is None else a.grad + grad
        if getattr(self.config, "penalty", None) is not None:  # 'add': its gradient adds up
            zero = torch.zeros((), device=driver.device)
            driver.backward_to(self.penalized(driver, zero), alphas)

    def _hessian_vector(
        self,
        driver: Driver,
        weights: list[tnn.Parameter],
        alphas: list[torch.Tensor],
        vector: list[torch.Tensor | None],
        backup: list[torch.Tensor],
        batch: Any,
    ) -> list[torch.Tensor]:
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        present = [v.reshape(-1) for v in vector if v is not None]
        norm = float(torch.cat(present).norm()) if present else 0.0
        if norm < 1e-12:
            return [torch.zeros_like(a) for a in alphas]
        eps = 0.01 / norm
        sides: list[tuple[torch.Tensor | None, ...]] = []
        for coef in (eps, -2.0 * eps):  # w + eps v, then w - eps v
            with torch.no_grad():
                for w, v in zip(weights, vector):
                    if v is not None:
                        w.add_(v, alpha=coef)
            self.resample()
            sides.append(torch.autograd.grad(driver.loss(batch), alphas, allow_unused=True))
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        return [
            torch.zeros_like(a) if p is None or n is None else (p - n) / (2.0 * eps)
            for a, p, n in zip(alphas, *sides)
        ]


class GumbelDarts(Darts):
    """GumbelDARTS; see :class:`retiarii.strategy.GumbelDARTS`."""

    gumbel = True

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.temperature = float(config.gumbel_temperature)

    def on_epoch_start(self, driver: Driver) -> None:
        c = self.config
        if c.use_temp_anneal:
            progress = driver.current_epoch / max(driver.max_epochs, 1)
            self.temperature = (1 - progress) * (c.gumbel_temperature - c.min_temp) + c.min_temp

    def resample(self) -> None:
        self.supernet.resample(self.temperature)

    def prepare_eval(self) -> None:  # validate the mixture without noise
        for label, noise in self.supernet.noises.items():
            noise.noise = torch.zeros_like(self.supernet.alphas[label].detach())

    def state_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.temperature = float(state["temperature"])


# -- ProxylessNAS -----------------------------------------------------------------------------------
class Proxyless(_Alphas):
    """ProxylessNAS with binary gates; see :class:`retiarii.strategy.Proxyless`.

    An architecture step samples two candidates per label on the validation batch (the loss
    latency-regularised if configured) and rescales their logits; a weight step trains one
    sampled path. ``example_input`` (set by the driver) is what latency is measured on.
    """

    example_input: Any = None
    supernet: ProxylessSupernet

    def attach(self, model: tnn.Module) -> None:
        check_latency_loss(self.config.grad_reg_loss_type, self.config.ref_latency)
        self.model = model
        self.supernet = ProxylessSupernet(model, trainer=self.name)
        if self.config.grad_reg_loss_type is not None and self.supernet.board:
            raise ValueError(
                f"{self.name}: grad_reg_loss_type measures the latency of LayerChoice candidates, "
                f"not of value choices or Repeat depths ({list(self.supernet.board)}); use "
                "penalty=ExpectationProfilerPenalty(...) with a latency or FLOPs profiler instead"
            )
        self.rng = _random_generator()
        self.latency_table: dict[str, list[float]] = {}

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        alphas = self.arch_parameters()
        if not alphas:
            return []
        lr = self.config.arc_learning_rate
        return [torch.optim.Adam(alphas, lr=lr, betas=(0.0, 0.999), eps=1e-8)]

    def on_fit_start(self, driver: Driver) -> None:
        if driver.distributed:  # every rank samples the same pairs (for rescale())
            broadcast_random_state(self.rng)
        if self.config.grad_reg_loss_type is None or self.supernet.latencies:
            return
        if self.example_input is None:
            raise ValueError(f"{self.name}: no input to measure latency on")
        rank0 = not driver.distributed or torch.distributed.get_rank() == 0
        if rank0:  # rank 0 measures, the others use its table
            profiler = self.config.latency_profiler or LatencyProfiler(driver.device)
            example = to_device(self.example_input, driver.device)
            self.latency_table = self.supernet.measure_latency(self.model, example, profiler)
        if driver.distributed:
            table = broadcast_object((self.latency_table, self.supernet.base_latency))
            self.latency_table = table[0]
            self.supernet.set_latencies(*table)
        check_latency_loss(self.config.grad_reg_loss_type, self.config.ref_latency, self.supernet)

    def training_step(self, driver: Driver, batch: Any, val_batch: Any) -> torch.Tensor:
        alphas = self.arch_parameters()
        c = self.config
        if alphas and driver.current_epoch >= c.warmup_epochs:
            [optimizer] = driver.arch_optimizers()
            self.supernet.sample_two(self.rng)
            optimizer.zero_grad()
            loss = driver.loss(val_batch)
            params = dict(c.grad_reg_loss_params or {})
            loss = latency_regularized(
                loss, self.supernet, c.grad_reg_loss_type, params, c.ref_latency
            )
            driver.backward_to(self.penalized(driver, loss), alphas)
            driver.sync(alphas)
            before = self.supernet.pair_logits()
            optimizer.step()
            self.supernet.rescale(before)
        self.supernet.sample_one(self.rng)
        return driver.weight_step(batch)

    def expected_latency(self) -> float:
        """The expected latency (ms) under the current ``softmax(alpha)``."""
        with torch.no_grad():
            return float(self.supernet.expected_latency())

    def epoch_metrics(self) -> dict[str, float]:
        return {"expected_latency_ms": self.expected_latency()} if self.supernet.latencies else {}

    def prepare_eval(self) -> None:
        self.supernet.activate_best()

    def state_dict(self) -> dict[str, Any]:
        latencies = {k: v.tolist() for k, v in self.supernet.latencies.items()}
        return {"rng": self.rng.getstate(), "latency": (latencies, self.supernet.base_latency)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_random_state(self.rng, state["rng"])
        latencies, base = state["latency"]
        if latencies:  # the table measured before, not a new (noisy) measurement
            self.supernet.set_latencies(latencies, base)


# -- path sampling: ENAS and SPOS ---------------------------------------------------------------------
class _Sampling(Algorithm):
    def attach(self, model: tnn.Module) -> None:
        self.model = model
        self.supernet = PathSamplingSupernet(model, trainer=self.name)
        self.switches = list(self.supernet.board.values())

    @property
    def search_space(self) -> SearchSpace:
        """The decisions of the supernet, with the space's constraints (e.g. NAS-Bench-101's
        edge limit), so the search proposes only valid subnets."""
        return SearchSpace((s.decision for s in self.switches), self.supernet.board.constraints)


class Enas(_Sampling):
    """ENAS; see :class:`retiarii.strategy.ENAS`. Per batch: a weight step on a path the
    controller samples, then a controller sample rewarded on the validation batch (REINFORCE
    with an exponential-moving-average baseline, updated every ``ctrl_steps_aggregate`` samples).
    """

    def attach(self, model: tnn.Module) -> None:
        super().attach(model)
        fields = [ReinforceField.of(s) for s in self.switches]
        self.controller = ReinforceController(fields, **(self.config.ctrl_kwargs or {}))
        self.baseline: float | None = None
        self.ctrl_step = 0

    def modules(self) -> dict[str, tnn.Module]:
        return {"controller": self.controller}

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.controller.parameters())

    def configure_arch_optimizers(self) -> list[torch.optim.Optimizer]:
        if not self.switches:
            return []
        return [torch.optim.Adam(self.controller.parameters(), lr=self.config.ctrl_lr)]

    def on_fit_start(self, driver: Driver) -> None:
        # A space no path satisfies fails here, after uniform draws (3 us each on a small space),
        # not after as many controller draws (1.6 ms each: 17 s). Its own generator: the
        # search's random state is left as it was.
        if self.supernet.board.constraints:
            self.supernet.board.random(random.Random(0))

    #: valid paths drawn when the greedy path breaks a constraint; the likeliest is exported
    greedy_fallback_paths = 100

    def _sample_valid(self, greedy: bool = False) -> None:
        """Set a path of the controller that satisfies the space's constraints (e.g.
        NAS-Bench-101's edge limit), by the board's rejection (as ``RandomOneShot``): the
        controller's last sample (its ``sample_log_prob``, which REINFORCE uses) is the path that
        runs. Greedy, an invalid most likely path gives way to the likeliest of
        :attr:`greedy_fallback_paths` valid sampled ones."""
        board, drawn = self.supernet.board, "path sampled by the ENAS controller"
        if not greedy:
            board.draw_valid(lambda: set_path(self.switches, self.controller.resample()), drawn)
            return
        set_path(self.switches, self.controller.resample(greedy=True))
        if not board.violations():
            return

        def draw() -> tuple[float, dict[str, Any]]:
            decisions = self.controller.resample()
            set_path(self.switches, decisions)
            return float(self.controller.sample_log_prob), decisions

        paths = [board.draw_valid(draw, drawn) for _ in range(self.greedy_fallback_paths)]
        set_path(self.switches, max(paths, key=lambda path: path[0])[1])

    def training_step(self, driver: Driver, batch: Any, val_batch: Any) -> torch.Tensor:
        c = self.config
        with torch.no_grad():
            self._sample_valid()
        loss = driver.weight_step(batch)
        if not self.switches:
            return loss
        self._sample_valid()  # its sample_log_prob is of the path rewarded below
        reward = driver.reward(val_batch, c.reward_metric_name, c.reward_function)
        penalty = getattr(c, "penalty", None)
        if penalty is not None:  # the sampled architecture's cost, out of the reward
            with torch.no_grad():
                sample = self.supernet.sample()
            driver.log("sampled_cost", penalty.cost(sample))
            reward = penalty.reward(reward, sample)
        if c.entropy_weight:
            reward += c.entropy_weight * float(self.controller.sample_entropy)
        if self.baseline is None:  # start from the first reward, not from 0
            self.baseline = reward
        self.baseline = self.baseline * c.baseline_decay + reward * (1 - c.baseline_decay)
        ctrl_loss = -self.controller.sample_log_prob * (reward - self.baseline)
        if c.skip_weight:
            ctrl_loss = ctrl_loss + c.skip_weight * self.controller.sample_skip_penalty
        params = self.arch_parameters()
        driver.backward_to(ctrl_loss / c.ctrl_steps_aggregate, params)
        self.ctrl_step += 1
        if self.ctrl_step % c.ctrl_steps_aggregate == 0:
            [optimizer] = driver.arch_optimizers()
            driver.sync(params)
            if getattr(c, "ctrl_grad_clip", None) is None:  # (configs pickled before it: None)
                driver.clip(params)
            elif c.ctrl_grad_clip:
                tnn.utils.clip_grad_norm_(params, c.ctrl_grad_clip)
            optimizer.step()
            optimizer.zero_grad()
        driver.log("reward", reward)
        return loss

    @torch.no_grad()
    def prepare_eval(self) -> None:
        self._sample_valid(greedy=True)

    @torch.no_grad()
    def export(self) -> dict[str, Any]:
        self.prepare_eval()
        return self.supernet.sample()

    def export_probs(self) -> dict[str, dict[str, float]]:
        return greedy_probs(self.controller, self.switches)

    def state_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "ctrl_step": self.ctrl_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline, self.ctrl_step = state["baseline"], int(state["ctrl_step"])


class RandomOneShot(_Sampling):
    """SPOS; see :class:`retiarii.strategy.RandomOneShot`. Training activates a uniformly random
    path per batch; :meth:`after_fit` searches the trained supernet with an ask/tell strategy
    (default ``RegularizedEvolution``), scoring each subnet with the driver after BatchNorm
    recalibration. ``history`` holds ``(sample, score)`` of every evaluated subnet."""

    needs_validation_batches = False
    #: ``fn(sample) -> bool``; subnets failing it are not evaluated (the strategy's model_filter).
    constraint: Callable[[dict[str, Any]], bool] | None = None
    #: seconds between the search phase's progress lines (``retiarii.oneshot`` logger, INFO)
    progress_interval = 10.0

    def attach(self, model: tnn.Module) -> None:
        super().attach(model)
        self.rng = _random_generator(self.config.seed)
        self.best: dict[str, Any] | None = None
        self.history: list[tuple[dict[str, Any], float]] = []

    def on_fit_start(self, driver: Driver) -> None:
        if driver.distributed:  # every rank trains the same path at every step
            broadcast_random_state(self.rng)

    def training_step(self, driver: Driver, batch: Any, val_batch: Any) -> torch.Tensor:
        self.supernet.random(self.rng)
        return driver.weight_step(batch)

    def prepare_eval(self) -> None:
        if self.best is not None:
            self.supernet.set_sample(self.best)
        else:
            self.supernet.random(self.rng)

    def make_search_strategy(self) -> Any:
        """The ask/tell strategy of the search (the configured one, or a seeded evolution)."""
        from ...strategy import RegularizedEvolution

        c = self.config
        if c.search_strategy is not None:
            return c.search_strategy
        constraint = self.constraint or getattr(c, "constraint", None)
        size = max(1, c.population_size)
        return RegularizedEvolution(
            population_size=size,
            sample_size=max(1, size // 2),
            mutation_prob=c.mutation_prob,
            model_filter=constraint,
            seed=self.rng.randrange(2**31),
        )

    @torch.no_grad()
    def search(self, driver: Driver, train: Iterable[Any], valid: Iterable[Any]) -> dict[str, Any]:
        """Search the trained supernet; return (and activate) the best subnet."""
        from ...strategy import TrialResult

        c = self.config
        calibration = [b[0] for b, _ in zip(train, range(c.bn_recalibration_batches))]
        validation = [b for b, _ in zip(valid, range(c.eval_batches or 1 << 30))]
        if not validation:
            raise ValueError(f"{self.name}: the validation data is empty")
        calibration = [to_device(x, driver.device) for x in calibration]
        validation = [to_device(b, driver.device) for b in validation]

        def score(sample: dict[str, Any]) -> float:
            self.supernet.set_sample(sample)
            recalibrate_batchnorm(self.model, calibration)
            return driver.score(validation)

        strategy = self.make_search_strategy()
        strategy.attach(self.search_space, "maximize")
        constraint = self.constraint or getattr(c, "constraint", None)
        # the trainer whose callbacks may end the search early (the experiment's time limit or
        # stop); never on some ranks only
        owner = None if driver.distributed else getattr(driver, "owner", driver)
        self.history = []
        budget = max(1, c.population_size) * (1 + c.evolution_cycles)
        _logger.info(
            "%s: searching the trained supernet: up to %d subnets, each scored on %d validation "
            "batches after recalibrating BatchNorm on %d training batches",
            self.name,
            budget,
            len(validation),
            len(calibration),
        )
        logged = time.monotonic()
        for trial_id in range(budget):
            if self.history and callable(stop := getattr(owner, "should_stop", None)) and stop():
                break
            if time.monotonic() - logged > self.progress_interval and self.history:
                best_value = max(value for _, value in self.history)
                done = len(self.history)
                _logger.info(
                    "%s: %d/%d subnets scored, best score %.4g", self.name, done, budget, best_value
                )
                logged = time.monotonic()
            sample = strategy.ask()
            if sample is None:
                break
            if constraint is not None and not constraint(sample):  # not evaluated
                strategy.tell(TrialResult(trial_id, sample, "FAILED", None))
                continue
            value = score(sample)
            self.history.append((dict(sample), value))
            strategy.tell(TrialResult(trial_id, sample, "SUCCEEDED", value))
        if not self.history:
            raise RuntimeError(f"{self.name}: the search evaluated no subnet (all filtered out?)")
        best = max(self.history, key=lambda item: item[1])[0]
        if driver.distributed:  # every rank searched alike; rank 0's result is the one reported
            best = broadcast_object(best)
        self.best = best
        score(best)
        return dict(best)

    def after_fit(self, driver: Driver, train: Iterable[Any], valid: Iterable[Any]) -> None:
        self.search(driver, train, valid)

    def export(self) -> dict[str, Any]:
        if self.best is None:
            raise RuntimeError(f"{self.name}: fit (and search) first")
        return dict(self.best)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_random_state(self.rng, state["rng"])
