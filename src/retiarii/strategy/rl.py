"""``PolicyBasedRL``: a policy-gradient controller (PPO-style clipped updates) in PyTorch.

PyTorch is imported when the strategy is attached, so ``import retiarii.strategy`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._encoding import Index, check_positive_int
from ._indexed import IndexedStrategy
from .base import Sample, TrialResult

__all__ = ["PolicyBasedRL"]


@dataclass
class _Step:
    """One decision of the current collection: its sample, log-probability, reward."""

    index: Index
    log_prob: float
    reward: float | None = None
    done: bool = False
    known: bool = False  # a repeat that was not run: its reward is the earlier result


class PolicyBasedRL(IndexedStrategy):
    """Reinforcement learning over the flattened space: a policy proposes samples, and after
    every ``trial_per_collect`` results it is updated by a policy gradient.

    The policy (``policy_fn(sizes)``, default :class:`~retiarii.strategy.policy.FactorizedPolicy`:
    one softmax per label) is a ``torch.nn.Module`` over the categorical encoding; see
    :mod:`retiarii.strategy.policy` for the interface. An update normalises the rewards of the
    collection (mean 0, std 1: the metric's scale does not matter) and takes ``update_epochs`` Adam
    steps on the PPO clipped objective plus an entropy bonus. Sampling from the default policy
    needs no torch call; an update is a handful of ops on a few dozen numbers, which torch's
    thread pool only slows down on a busy machine (``torch.set_num_threads(1)`` in the driver
    process helps; ``benchmarks/nb201_strategies.py`` does so).

    Args:
        max_collect: number of collections (policy updates); the strategy is exhausted after them.
        trial_per_collect: samples per collection.
        policy_fn: ``fn(sizes) -> policy`` (``sizes``: number of values of each label).
        optimize_mode: ``'maximize'`` or ``'minimize'``; None (default) follows the experiment.
        learning_rate: Adam's learning rate.
        update_epochs: gradient steps per collection.
        clip: PPO's ratio clipping.
        entropy_coef: weight of the entropy bonus.
        dedup: never run a sample twice. A repeat proposed by the policy is not run: it joins the
            collection with the result it already has (at most ``trial_per_collect`` such repeats
            per collection), and the policy samples again; after 20 repeats in a row (the policy
            has converged) a new sample one label away from the last one is proposed instead.
        on_failure: failed trials leave the collection (``'ignore'``) or get the worst reward of
            the collection (``'worst'``).
        model_filter: ``fn(sample) -> bool``; rejected samples are not run and count as failures.
        seed: seed of the sampling and of the policy's initialisation.
    """

    #: Policy samples per proposal before a repeat is replaced by a neighbour.
    max_repeats = 20

    def __init__(
        self,
        max_collect: int = 100,
        trial_per_collect: int = 20,
        policy_fn: Callable[[list[int]], Any] | None = None,
        optimize_mode: str | None = None,
        learning_rate: float = 0.1,
        update_epochs: int = 4,
        clip: float = 0.2,
        entropy_coef: float = 0.0,
        dedup: bool = True,
        on_failure: str = "ignore",
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            optimize_mode=optimize_mode,
            dedup=dedup,
            on_failure=on_failure,
            model_filter=model_filter,
            seed=seed,
        )
        owner = type(self).__name__
        self.max_collect = check_positive_int(max_collect, "max_collect", owner)
        self.trial_per_collect = check_positive_int(trial_per_collect, "trial_per_collect", owner)
        self.update_epochs = check_positive_int(update_epochs, "update_epochs", owner)
        if not learning_rate > 0:
            raise ValueError(f"{owner}: learning_rate must be positive, got {learning_rate!r}")
        self.policy_fn = policy_fn
        self.learning_rate = float(learning_rate)
        self.clip = float(clip)
        self.entropy_coef = float(entropy_coef)
        self.init_seed = seed if seed is not None else self.rng.randrange(2**31)
        self.policy: Any = None
        self.optimizer: Any = None
        self.collects = 0
        self.batch: list[_Step] = []
        self.values: dict[Index, float | None] = {}
        #: results told per sample: (how many, the last score)
        self.told: dict[Index, tuple[int, float | None]] = {}

    def reset(self) -> None:
        import torch

        from .policy import FactorizedPolicy

        continuous = [self.encoding.labels[pos] for pos in self.encoding.continuous]
        if continuous:
            # The policy is a softmax per label: it has no way to put a density on a real line.
            raise ValueError(
                f"PolicyBasedRL needs a finite search space, but label(s) {continuous} are "
                "continuous distributions; quantize them (quniform/qloguniform), list the values "
                "(ValueChoice), or use a strategy that handles them: TPE, RegularizedEvolution, "
                "LocalSearch or Random"
            )

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.init_seed)
            factory = self.policy_fn or FactorizedPolicy
            self.policy = factory(list(self.encoding.sizes))
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.learning_rate)
        self.collects = 0
        self.batch = []
        self.values = {}
        self.told = {}

    # -- proposing ----------------------------------------------------------------------------
    def _trials_in_batch(self) -> int:
        return sum(1 for step in self.batch if not step.known)

    def propose_index(self) -> Index | None:
        if self.collects >= self.max_collect:
            self._exhaust(f"max_collect={self.max_collect} collections (policy updates) are done")
            return None
        if self._trials_in_batch() >= self.trial_per_collect:
            return None  # wait for the collection's results
        index: Index = ()
        for _ in range(self.max_repeats):
            actions, log_prob = self._sample()
            index = tuple(actions)
            if self.is_new(index):
                self.batch.append(_Step(index, log_prob))
                return index
            known = self.values.get(index)
            repeats = len(self.batch) - self._trials_in_batch()
            if known is not None and repeats < self.trial_per_collect:
                # a repeat with a result: learn from it again without running it
                self.batch.append(_Step(index, log_prob, known, done=True, known=True))
        # The policy keeps proposing samples already run (it has converged): take a new sample
        # one label away from its proposal, else a random new one.
        candidate: Index | None = None
        for _ in range(50):
            candidate = self.encoding.mutate(index, self.rng)
            if self.is_new(candidate):
                break
        else:
            candidate = self.random_unseen()
        if candidate is not None:
            self.batch.append(_Step(candidate, self._log_prob(candidate)))
        return candidate

    def _sample(self) -> tuple[list[int], float]:
        import torch

        with torch.no_grad():
            actions, log_prob = self.policy.sample(self.rng)
        return [int(i) for i in actions], float(log_prob)

    def _log_prob(self, index: Index) -> float:
        import torch

        with torch.no_grad():
            log_prob, _ = self.policy.log_prob(torch.tensor([index]))
        return float(log_prob[0])

    # -- learning -----------------------------------------------------------------------------
    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        self.values[index] = score if score is not None and math.isfinite(score) else None
        count, _ = self.told.get(index, (0, None))
        self.told[index] = (count + 1, score)
        self._finish(index, score)

    def learn_filtered(self, index: Index) -> None:
        self._finish(index, -math.inf if self.on_failure == "worst" else None)

    def _finish(self, index: Index, score: float | None) -> None:
        for step in self.batch:
            if step.index == index and not step.done and not step.known:
                step.reward, step.done = score, True
                break
        self._maybe_update()

    def _maybe_update(self) -> None:
        if self._trials_in_batch() < self.trial_per_collect or not all(s.done for s in self.batch):
            return
        steps = [(s, s.reward) for s in self.batch if s.reward is not None]
        finite = [r for _, r in steps if math.isfinite(r)]
        if finite:
            worst = min(finite)  # a failure counts as the worst reward of its collection
            rewards = [r if math.isfinite(r) else worst for _, r in steps]
            self._update([s.index for s, _ in steps], [s.log_prob for s, _ in steps], rewards)
        self.batch = []
        self.collects += 1

    def _update(
        self, actions: list[Index], old_log_probs: list[float], rewards: list[float]
    ) -> None:
        import torch

        reward = torch.tensor(rewards, dtype=torch.float32)
        if len(rewards) < 2 or float(reward.std()) == 0.0:
            return
        advantage = (reward - reward.mean()) / (reward.std() + 1e-8)
        action = torch.tensor(actions, dtype=torch.long)
        old = torch.tensor(old_log_probs, dtype=torch.float32)
        for _ in range(self.update_epochs):
            log_prob, entropy = self.policy.log_prob(action)
            ratio = torch.exp(log_prob - old)
            clipped = torch.clamp(ratio, 1 - self.clip, 1 + self.clip)
            loss = -torch.min(ratio * advantage, clipped * advantage).mean()
            loss = loss - self.entropy_coef * entropy.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    # -- resume ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        optim_state = self.optimizer.state_dict()["state"] if self.optimizer is not None else {}
        return {
            **super().state_dict(),
            "collects": self.collects,
            "batch": [
                [
                    list(s.index),
                    s.log_prob,
                    _finite_or_none(s.reward),
                    s.done,
                    s.reward == -math.inf,
                    s.known,
                    self.told.get(s.index, (0, None))[0],
                ]
                for s in self.batch
            ],
            "policy": {k: _tensor_to_json(v) for k, v in self.policy.state_dict().items()}
            if self.policy is not None
            else {},
            "optimizer": [
                [key, {name: _tensor_to_json(value) for name, value in entry.items()}]
                for key, entry in optim_state.items()
            ],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.collects = int(state.get("collects", self.collects))
        if "batch" in state:
            self.batch = [
                _Step(
                    tuple(int(i) for i in index),
                    float(log_prob),
                    -math.inf if worst else (None if reward is None else float(reward)),
                    bool(done),
                    bool(known),
                )
                for index, log_prob, reward, done, worst, known, _ in state["batch"]
            ]
        if state.get("policy"):
            self.policy.load_state_dict(
                {k: _tensor_from_json(v) for k, v in state["policy"].items()}
            )
        if "optimizer" in state:
            groups = self.optimizer.state_dict()["param_groups"]
            self.optimizer.load_state_dict(
                {
                    "state": {
                        int(key): {name: _tensor_from_json(v) for name, v in entry.items()}
                        for key, entry in state["optimizer"]
                    },
                    "param_groups": groups,
                }
            )
        # A trial of the collection that ended after this state was saved (e.g. canceled when
        # max_experiment_duration ran out) was told during the replay, before this load: apply it.
        for step, saved in zip(self.batch, state.get("batch", [])):
            count, score = self.told.get(step.index, (0, None))
            if not step.done and not step.known and count > int(saved[6]):
                step.reward, step.done = score, True
        self._maybe_update()

    def __getstate__(self) -> dict[str, Any]:
        # The policy is rebuilt on attach (a pickled strategy starts over; an experiment restores
        # the weights from state_dict() on resume).
        state = dict(self.__dict__)
        state["policy"] = state["optimizer"] = None
        state["_encoding"] = None
        return state


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _tensor_to_json(tensor: Any) -> dict[str, Any]:
    return {"dtype": str(tensor.dtype).removeprefix("torch."), "data": tensor.tolist()}


def _tensor_from_json(data: Mapping[str, Any]) -> Any:
    import torch

    return torch.tensor(data["data"], dtype=getattr(torch, data["dtype"]))
