"""Plain modules that frozen choices turn into. They hold no decisions and no parameters of their
own, so a frozen model's ``state_dict`` keys are those of the same network written by hand."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as tnn

__all__ = ["ChosenInputs", "reduce_tensors"]

REDUCTIONS = ("sum", "mean", "concat", "none")


def reduce_tensors(tensors: list[Any], reduction: str, dim: int = 1) -> Any:
    """Combine the chosen tensors as an ``InputChoice`` with ``reduction`` does."""
    if reduction == "none":
        return tensors
    if not tensors:
        raise ValueError("cannot reduce an empty list of tensors")
    if len(tensors) == 1:
        return tensors[0]
    if reduction == "sum":
        return torch.stack(tensors).sum(0)
    if reduction == "mean":
        return torch.stack(tensors).mean(0)
    if reduction == "concat":
        return torch.cat(tensors, dim=dim)
    raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS}")


def check_inputs(label: str, inputs: Any, n_candidates: int) -> list[Any]:
    """The candidate tensors of an InputChoice call, or a clear error about their number."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(
            f"InputChoice {label!r} must be called with a list of {n_candidates} tensors, "
            f"got {type(inputs).__name__}"
        )
    if len(inputs) != n_candidates:
        raise ValueError(
            f"InputChoice {label!r} was declared with n_candidates={n_candidates} but called "
            f"with {len(inputs)} tensors"
        )
    return list(inputs)


class ChosenInputs(tnn.Module):
    """A decided ``InputChoice``: picks ``chosen`` from the input list and reduces them."""

    def __init__(self, label: str, chosen: list[int], n_candidates: int, reduction: str) -> None:
        super().__init__()
        self.label = label
        self.chosen = list(chosen)
        self.n_candidates = n_candidates
        self.reduction = reduction

    def forward(self, inputs: list[Any]) -> Any:
        inputs = check_inputs(self.label, inputs, self.n_candidates)
        return reduce_tensors([inputs[i] for i in self.chosen], self.reduction)

    def extra_repr(self) -> str:
        return f"label={self.label!r}, chosen={self.chosen}, reduction={self.reduction!r}"
