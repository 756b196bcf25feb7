"""ENAS (Pham et al., 2018): an LSTM controller samples paths of a weight-sharing supernet.

The controller; the update rule (:class:`~.algorithms.Enas`) trains the shared weights on a path the
controller samples, then the controller by REINFORCE on a validation batch, at every step: the reward (e.g. accuracy of the sampled path)
plus ``entropy_weight`` times the sample's entropy, minus an exponential-moving-average baseline;
for any-subset input choices a KL penalty pulls the probability of choosing each input towards
``skip_target``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

from ...mutable import InputSubset
from .supernet import Switch

__all__ = ["ReinforceController", "ReinforceField"]


class ReinforceField:
    """A decision the controller makes: ``name``, ``total`` candidates, and whether exactly one
    is chosen (``choose_one``), ``n_chosen`` of them, or any non-empty subset."""

    def __init__(
        self, name: str, total: int, choose_one: bool, n_chosen: int | None = None
    ) -> None:
        self.name = name
        self.total = total
        self.choose_one = choose_one
        self.n_chosen = 1 if choose_one else n_chosen

    @classmethod
    def of(cls, switch: Switch) -> ReinforceField:
        """The field of a sampling switch."""
        decision = switch.decision
        if isinstance(decision, InputSubset):
            return cls(
                switch.label, decision.n_candidates, decision.n_chosen == 1, decision.n_chosen
            )
        return cls(switch.label, switch.size, True)

    def __repr__(self) -> str:
        return f"ReinforceField({self.name!r}, total={self.total}, n_chosen={self.n_chosen})"


class ReinforceController(tnn.Module):
    """The ENAS controller: an LSTM visits the fields in order and samples each decision.

    Args:
        fields: the decisions, in order.
        lstm_size: hidden units of the LSTM.
        lstm_num_layers: stacked LSTM layers.
        tanh_constant: logits become ``tanh_constant * tanh(logits)`` (None: unchanged).
        skip_target: target probability of choosing each input of an any-subset choice.
        temperature: logits are divided by it (None: unchanged).
        entropy_reduction: ``'sum'`` or ``'mean'`` of the per-candidate entropies of a
            subset choice.

    After :meth:`resample`, ``sample_log_prob`` (log-probability of the sample, differentiable),
    ``sample_entropy`` and ``sample_skip_penalty`` describe the last sample.
    """

    _skip_targets: torch.Tensor

    def __init__(
        self,
        fields: Sequence[ReinforceField],
        lstm_size: int = 64,
        lstm_num_layers: int = 1,
        tanh_constant: float | None = 1.5,
        skip_target: float = 0.4,
        temperature: float | None = None,
        entropy_reduction: str = "sum",
    ) -> None:
        super().__init__()
        if entropy_reduction not in ("sum", "mean"):
            raise ValueError(
                f"entropy_reduction must be 'sum' or 'mean', got {entropy_reduction!r}"
            )
        self.fields = list(fields)
        self.lstm_size = lstm_size
        self.tanh_constant = tanh_constant
        self.temperature = temperature
        self.skip_target = skip_target
        self.entropy_reduction = entropy_reduction
        self.lstm = tnn.ModuleList(
            tnn.LSTMCell(lstm_size, lstm_size, bias=False) for _ in range(lstm_num_layers)
        )
        self.g_emb = tnn.Parameter(torch.randn(1, lstm_size) * 0.1)
        self.soft = tnn.ModuleList(tnn.Linear(lstm_size, f.total, bias=False) for f in self.fields)
        self.embedding = tnn.ModuleList(tnn.Embedding(f.total, lstm_size) for f in self.fields)
        self.register_buffer("_skip_targets", torch.tensor([1.0 - skip_target, skip_target]))
        self.sample_log_prob = torch.zeros(())
        self.sample_entropy = torch.zeros(())
        self.sample_skip_penalty = torch.zeros(())
        self._last_logits: dict[str, torch.Tensor] = {}

    def _logits(self, index: int, h: torch.Tensor) -> torch.Tensor:
        logit = self.soft[index](h).view(-1)
        if self.temperature is not None:
            logit = logit / self.temperature
        if self.tanh_constant is not None:
            logit = self.tanh_constant * torch.tanh(logit)
        return logit

    def resample(self, greedy: bool = False) -> dict[str, list[int] | int]:
        """A decision per field: an index for choose-one fields, a sorted list of indices
        otherwise. ``greedy`` takes the most likely decision at every step."""
        inputs: torch.Tensor = self.g_emb
        zeros = torch.zeros(1, self.lstm_size, device=inputs.device, dtype=inputs.dtype)
        hidden = [(zeros, zeros) for _ in self.lstm]
        log_prob = torch.zeros((), device=inputs.device)
        entropy = torch.zeros((), device=inputs.device)
        skip_penalty = torch.zeros((), device=inputs.device)
        result: dict[str, list[int] | int] = {}
        self._last_logits = {}
        for index, field in enumerate(self.fields):
            x = inputs
            for layer_index, cell in enumerate(self.lstm):
                hidden[layer_index] = cell(x, hidden[layer_index])
                x = hidden[layer_index][0]
            logit = self._logits(index, x)
            self._last_logits[field.name] = logit.detach()
            embedding = self.embedding[index]
            assert isinstance(embedding, tnn.Embedding)
            if field.n_chosen is not None:  # choose n_chosen, one after the other
                chosen: list[int] = []
                for _ in range(field.n_chosen):
                    masked = (
                        logit
                        if not chosen
                        else logit.index_fill(0, torch.tensor(chosen, device=logit.device), -1e9)
                    )
                    logp = F.log_softmax(masked, -1)
                    pick = int(logp.argmax()) if greedy else int(torch.multinomial(logp.exp(), 1))
                    log_prob = log_prob + logp[pick]
                    entropy = entropy - (logp.exp() * logp).sum().detach()
                    chosen.append(pick)
                first = chosen[0]
                inputs = (
                    embedding.weight[first : first + 1]
                    if len(chosen) == 1
                    else embedding.weight[chosen].mean(0, keepdim=True)
                )
                result[field.name] = chosen[0] if field.choose_one else sorted(chosen)
            else:  # any non-empty subset: one Bernoulli per input
                prob = torch.sigmoid(logit)
                picks = prob > 0.5 if greedy else torch.rand_like(prob) < prob
                for _ in range(10):
                    if greedy or bool(picks.any()):
                        break
                    picks = torch.rand_like(prob) < prob
                if not bool(picks.any()):
                    picks = F.one_hot(logit.argmax(), field.total).bool()
                on, off = F.logsigmoid(logit), F.logsigmoid(-logit)
                log_prob = log_prob + torch.where(picks, on, off).sum()
                ent = -(prob * on + (1 - prob) * off).detach()
                entropy = entropy + (ent.sum() if self.entropy_reduction == "sum" else ent.mean())
                skip_prob = torch.stack([1 - prob, prob], 1)
                kl = skip_prob * torch.log(skip_prob / self._skip_targets)
                skip_penalty = skip_penalty + kl.sum()
                chosen = picks.nonzero().view(-1).tolist()
                inputs = embedding.weight[chosen].sum(0, keepdim=True) / (1.0 + len(chosen))
                result[field.name] = chosen
        self.sample_log_prob = log_prob
        self.sample_entropy = entropy
        self.sample_skip_penalty = skip_penalty
        return result

    def last_probs(self) -> dict[str, list[float]]:
        """Of the last :meth:`resample`, per field: the probability of each candidate (of the
        first pick, for several), or of choosing each input (any-subset fields)."""
        out: dict[str, list[float]] = {}
        for field in self.fields:
            logit = self._last_logits[field.name]
            probs = F.softmax(logit, -1) if field.n_chosen is not None else torch.sigmoid(logit)
            out[field.name] = probs.tolist()
        return out


def set_path(switches: list[Switch], decisions: dict[str, Any]) -> None:
    """Make the controller's ``decisions`` (indices) the active path of ``switches``."""
    for switch in switches:
        decision = decisions[switch.label]
        if switch.categorical:
            switch.active = decision
        else:
            switch.active = tuple(decision) if isinstance(decision, list) else (decision,)


@torch.no_grad()
def greedy_probs(
    controller: ReinforceController, switches: list[Switch]
) -> dict[str, dict[str, float]]:
    """Along the controller's greedy path: ``{label: {candidate: probability}}`` (for any-subset
    input choices, the probability of choosing each input)."""
    controller.resample(greedy=True)
    last = controller.last_probs()
    out: dict[str, dict[str, float]] = {}
    for switch in switches:
        probs = last[switch.label]
        names = (
            [switch.value_at(i) for i in range(len(probs))]
            if switch.categorical
            else list(range(len(probs)))
        )
        out[switch.label] = {str(n): p for n, p in zip(names, probs)}
    return out
