"""Cost penalties of the one-shot algorithms (NNI 3.0's ``ExpectationProfilerPenalty``).

A penalty turns a profiler (:mod:`retiarii.profiler`) into a term of the architecture loss:

* DARTS, GumbelDARTS and Proxyless add it to the loss of their architecture step, as a
  differentiable function of the architecture probabilities ``softmax(alpha)`` per label (the
  *expected* cost of an architecture drawn from them, labels independent);
* ENAS subtracts it from the REINFORCE reward, on the *sampled* architecture's cost.

With ``c`` the cost, ``b`` the baseline (target) and ``s`` the scale, the normalised penalty is
``p = f((c - b) / b)``, ``f`` the identity (``'linear'``), ``max(., 0)`` (``'positive'``: only
costs above the target are penalised), ``min(., 0)`` (``'negative'``: only a bonus below it) or ``abs`` (``'absolute'``: pulled towards the target), and
the loss becomes ``loss + s * p`` (``aggregate='add'``) or ``loss * (1 + p) ** s``
(``aggregate='mul'``).

**How the expected cost is computed.** For a :class:`~retiarii.profiler.NumParamsProfiler` it is
exact (:func:`retiarii.profiler.expectation.expected_params`: the expected count is a sum of each
module's expected count). For any other profiler (``FlopsProfiler``, ``LatencyProfiler``) it is the
*additive approximation* around the most probable architecture ``a`` (the one ``export()`` gives):
``E[c] ~= c(a) + sum_label sum_v p_label(v) * (c(a with label=v) - c(a))``, exact when the
labels' costs add up (independent layers), first order otherwise (e.g. a width that is the input
of the next layer). It costs ``1 + sum_label (n_values - 1)`` profiles per step, cached by the
profiler after the first time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["ExpectationProfilerPenalty"]

_NONLINEAR = ("linear", "positive", "negative", "absolute")
_AGGREGATE = ("add", "mul")


class ExpectationProfilerPenalty:
    """A cost penalty of the architecture loss (NNI 3.0's name and arguments).

    Args:
        profiler: a :class:`~retiarii.profiler.NumParamsProfiler` (exact expectation),
            ``FlopsProfiler`` or any profiler with ``search_space`` and ``profile(sample)``
            (additive approximation; see the module's documentation), built on the model space.
        baseline: the target cost ``b`` (e.g. a number of parameters); must be positive.
        scale: the weight ``s`` of the penalty.
        nonlinear: ``'linear'``, ``'positive'``, ``'negative'`` or ``'absolute'``.
        aggregate: ``'add'`` (``loss + s * p``) or ``'mul'`` (``loss * (1 + p) ** s``).

    .. code-block:: python

        penalty = ExpectationProfilerPenalty(NumParamsProfiler(space), baseline=1e5, scale=1.0)
        strategy.DARTS(penalty=penalty)
    """

    def __init__(
        self,
        profiler: Any,
        baseline: float,
        scale: float = 1.0,
        *,
        nonlinear: str = "linear",
        aggregate: str = "add",
    ) -> None:
        if nonlinear not in _NONLINEAR:
            raise ValueError(f"nonlinear must be one of {_NONLINEAR}, got {nonlinear!r}")
        if aggregate not in _AGGREGATE:
            raise ValueError(f"aggregate must be one of {_AGGREGATE}, got {aggregate!r}")
        if not baseline > 0:
            raise ValueError(f"baseline must be positive, got {baseline!r}")
        if not callable(getattr(profiler, "profile", None)) or not hasattr(
            profiler, "search_space"
        ):
            raise TypeError(f"ExpectationProfilerPenalty takes a profiler, got {profiler!r}")
        self.profiler = profiler
        self.baseline = float(baseline)
        self.scale = float(scale)
        self.nonlinear = nonlinear
        self.aggregate = aggregate

    # -- cost ------------------------------------------------------------------------------------
    def _values(self) -> dict[str, list[Any]]:
        return {label: list(c.values()) for label, c in self.profiler.search_space.items()}

    def _usable(self, probabilities: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The probabilities of the labels the profiler knows with as many values (others, e.g.
        input choices picking several inputs, are left uniform)."""
        values = self._values()
        out = {}
        for label, p in probabilities.items():
            if label not in values:
                continue
            if isinstance(p, Mapping):  # NNI's form: {value: probability}
                p = torch.stack([torch.as_tensor(p.get(v, 0.0)) for v in values[label]])
            p = torch.as_tensor(p)
            if p.dim() == 1 and p.numel() == len(values[label]):
                out[label] = p
        return out

    def expected_cost(self, probabilities: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``E[cost]`` under ``{label: probabilities}`` (differentiable), each a 1-D tensor
        aligned with the label's values or a dict ``{value: probability}`` (NNI's form)."""
        from ...profiler import NumParamsProfiler
        from ...profiler.expectation import expected_params

        probs = self._usable(probabilities)
        if isinstance(self.profiler, NumParamsProfiler) and self.profiler.counter.exact:
            found = expected_params(self.profiler, probs)
            return found if isinstance(found, torch.Tensor) else torch.tensor(float(found))
        values = self._values()
        reference: dict[str, Any] = {}
        for label, options in values.items():
            p = probs.get(label)
            reference[label] = (
                options[int(torch.argmax(p.detach()))] if p is not None else options[0]
            )
        base = float(self.profiler.profile(reference))
        total: Any = torch.tensor(base)
        for label, p in probs.items():
            deltas = []
            for v in values[label]:
                cost = self.profiler.profile({**reference, label: v})
                deltas.append(float(cost) - base)
            total = total + (p * torch.tensor(deltas, dtype=p.dtype, device=p.device)).sum()
        return total

    def cost(self, sample: Mapping[str, Any]) -> float:
        """The cost of one architecture (``profiler.profile(sample)``)."""
        return float(self.profiler.profile(sample))

    # -- penalty ---------------------------------------------------------------------------------
    def normalized(self, cost: Any) -> Any:
        """``f((cost - baseline) / baseline)`` (a tensor for a tensor, else a float)."""
        p = (cost - self.baseline) / self.baseline
        if self.nonlinear == "positive":
            return torch.relu(p) if isinstance(p, torch.Tensor) else max(p, 0.0)
        if self.nonlinear == "negative":
            return -torch.relu(-p) if isinstance(p, torch.Tensor) else min(p, 0.0)
        if self.nonlinear == "absolute":
            return p.abs() if isinstance(p, torch.Tensor) else abs(p)
        return p

    def apply(self, loss: Any, cost: Any) -> Any:
        """The loss with the penalty of ``cost`` aggregated."""
        p = self.normalized(cost)
        if self.aggregate == "add":
            return loss + self.scale * p
        return loss * (1 + p) ** self.scale

    def __call__(
        self, loss: torch.Tensor, probabilities: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``(penalised loss, {'expected_cost': ..., 'penalty': ...})``."""
        cost = self.expected_cost(probabilities)
        if isinstance(cost, torch.Tensor):
            cost = cost.to(loss.device)
        out = self.apply(loss, cost)
        value = float(cost.detach()) if isinstance(cost, torch.Tensor) else float(cost)
        return out, {"expected_cost": value, "penalty": float(self.normalized(value))}

    def reward(self, reward: float, sample: Mapping[str, Any]) -> float:
        """ENAS: the reward minus the penalty of the sampled architecture (``aggregate='add'``:
        ``reward - s * p``; ``'mul'``: ``reward / (1 + p) ** s``)."""
        p = float(self.normalized(self.cost(sample)))
        if self.aggregate == "add":
            return reward - self.scale * p
        return reward / (1 + p) ** self.scale

    def __repr__(self) -> str:
        return (
            f"ExpectationProfilerPenalty({type(self.profiler).__name__}, baseline={self.baseline:g}, "
            f"scale={self.scale:g}, nonlinear={self.nonlinear!r}, aggregate={self.aggregate!r})"
        )
