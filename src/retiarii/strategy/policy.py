"""Policies for :class:`~retiarii.strategy.PolicyBasedRL` (PyTorch; imported only by that strategy).

A policy is a ``torch.nn.Module`` over the categorical encoding of the space (label ``i`` takes an
index below ``sizes[i]``) with two methods:

* ``sample(rng) -> (list[int], float)``: one index per label, drawn with the Python
  ``random.Random`` it is given (so the strategy's state stays one JSON-able generator), and the
  log-probability of that draw; called under ``no_grad``.
* ``log_prob(actions) -> (log_prob, entropy)``: for a ``LongTensor`` of shape ``(batch, labels)``,
  the log-probability of each row and the entropy of the policy's distribution for it, both of
  shape ``(batch,)``, differentiable.

``policy_fn(sizes)`` given to the strategy builds one (default: :class:`FactorizedPolicy`).
"""

from __future__ import annotations

import random

import torch
import torch.nn as tnn

__all__ = ["FactorizedPolicy", "LSTMPolicy", "draw_row"]


def draw_row(probs: list[float], rng: random.Random) -> int:
    """An index drawn from the probabilities ``probs`` with ``rng``."""
    u = rng.random()
    cumulative = 0.0
    for i, p in enumerate(probs):
        cumulative += p
        if u < cumulative:
            return i
    return len(probs) - 1


class FactorizedPolicy(tnn.Module):
    """Independent softmax distributions, one per label, starting uniform.

    Args:
        sizes: number of values of each label.
    """

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes = list(sizes)
        width = max(self.sizes, default=1)
        self.logits = tnn.Parameter(torch.zeros(len(self.sizes), width))
        mask = torch.zeros(len(self.sizes), width, dtype=torch.bool)
        for i, n in enumerate(self.sizes):
            mask[i, :n] = True
        self.mask: torch.Tensor
        self.register_buffer("mask", mask, persistent=False)
        self._cache: tuple[int, list[list[float]], list[list[float]]] | None = None

    def _log_p(self) -> torch.Tensor:
        return torch.log_softmax(self.logits.masked_fill(~self.mask, float("-inf")), dim=1)

    def sample(self, rng: random.Random) -> tuple[list[int], float]:
        # Plain Python lists, recomputed only when the logits change (an optimiser step bumps
        # their version): sampling is then free of torch calls, which dominate on tiny tensors.
        version = self.logits._version
        if self._cache is None or self._cache[0] != version:
            log_p = self._log_p()
            self._cache = (version, log_p.exp().tolist(), log_p.tolist())
        _, probs, log_probs = self._cache
        actions = [draw_row(row[:n], rng) for row, n in zip(probs, self.sizes)]
        return actions, sum(log_probs[i][a] for i, a in enumerate(actions))

    def log_prob(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_p = self._log_p()
        rows = torch.arange(len(self.sizes))
        log_prob = log_p[rows, actions].sum(1)
        entropy = -(log_p.exp() * log_p.masked_fill(~self.mask, 0.0)).sum()
        return log_prob, entropy.expand(actions.shape[0])


class LSTMPolicy(tnn.Module):
    """An autoregressive controller in the style of ENAS: an LSTM cell reads the previous
    decision and outputs the logits of the next label.

    Args:
        sizes: number of values of each label.
        hidden_size: size of the LSTM state.
    """

    def __init__(self, sizes: list[int], hidden_size: int = 32) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.hidden_size = hidden_size
        self.start = tnn.Parameter(torch.zeros(hidden_size))
        self.embeddings = tnn.ModuleList(tnn.Embedding(n, hidden_size) for n in self.sizes[:-1])
        self.cell = tnn.LSTMCell(hidden_size, hidden_size)
        self.heads = tnn.ModuleList(tnn.Linear(hidden_size, n) for n in self.sizes)

    def _steps(self, batch: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        inputs = self.start.expand(batch, self.hidden_size)
        zeros = inputs.new_zeros(batch, self.hidden_size)
        return inputs, (zeros, zeros)

    def sample(self, rng: random.Random) -> tuple[list[int], float]:
        inputs, state = self._steps(1)
        out: list[int] = []
        log_prob = 0.0
        for i, head in enumerate(self.heads):
            state = self.cell(inputs, state)
            log_p = torch.log_softmax(head(state[0])[0], 0)
            choice = draw_row(log_p.exp().tolist(), rng)
            out.append(choice)
            log_prob += float(log_p[choice])
            if i < len(self.embeddings):
                inputs = self.embeddings[i](torch.tensor([choice]))
        return out, log_prob

    def log_prob(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, state = self._steps(actions.shape[0])
        log_prob = inputs.new_zeros(actions.shape[0])
        entropy = inputs.new_zeros(actions.shape[0])
        for i, head in enumerate(self.heads):
            state = self.cell(inputs, state)
            log_p = torch.log_softmax(head(state[0]), -1)
            log_prob = log_prob + log_p.gather(1, actions[:, i : i + 1]).squeeze(1)
            entropy = entropy - (log_p.exp() * log_p).sum(-1)
            if i < len(self.embeddings):
                inputs = self.embeddings[i](actions[:, i])
        return log_prob, entropy
