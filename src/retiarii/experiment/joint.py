"""Joint search: the model space's choices and the evaluator's hyperparameters as one space.

Where evaluator choices are collected and resolved: :func:`joint_space` is called by the
experiment when it builds its search space; it merges ``evaluator.search_space()`` into the
model space's, so strategies, the store and the dashboard see one flat sample per trial
(``{"hidden": 64, "lr": 0.003}``). In the worker, :class:`ModelSpaceTrialRunner` builds the model
from the model's labels (:meth:`JointSpace.build`) and evaluates it with
``evaluator.freeze(sample)`` (:meth:`JointSpace.evaluator_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..mutable import LabelConflictError, SearchSpace
from ..mutable.space import SearchSpaceView

__all__ = ["JointSpace", "joint_space"]


class JointSpace(SearchSpaceView):
    """A model space (``ModelSpace`` or a mutated space) plus its evaluator's choices.

    It has the model space's interface (``search_space``, ``labels``, ``size``, ``random``,
    ``validate``, ``to_json``, ``build``); a label in both the model and the evaluator is one
    decision.
    """

    def __init__(self, model_space: Any, evaluator: Any) -> None:
        self.model_space = model_space
        self.evaluator = evaluator
        self.search_space = SearchSpace(model_space.search_space.values())
        for choice in evaluator.search_space().values():
            try:
                self.search_space.add(choice)
            except LabelConflictError as exc:
                raise LabelConflictError(
                    f"label {choice.label!r} is used by the model as {self.search_space[choice.label]!r} "
                    f"and by the evaluator as {choice!r}; one label is one decision, so give them "
                    "the same candidates, or different labels"
                ) from exc
        self.model_labels = list(model_space.search_space)
        self.evaluator_labels = list(evaluator.search_space())
        #: labels only the evaluator uses (``fixed_arch`` must not be given them)
        self.hyperparameter_labels = [
            label for label in self.evaluator_labels if label not in self.model_labels
        ]

    def model_sample(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The part of ``sample`` that the model uses."""
        return {label: sample[label] for label in self.model_labels}

    def build(self, sample: Mapping[str, Any]) -> Any:
        """The model of ``sample`` (freshly initialised, as for a trial)."""
        return self.model_space.build(self.model_sample(self.validate(sample)))

    freeze = build

    def evaluator_for(self, sample: Mapping[str, Any]) -> Any:
        """The evaluator of ``sample``: its choices replaced by the sample's values."""
        return self.evaluator.freeze(self.validate(sample))

    def __repr__(self) -> str:
        return (
            f"JointSpace({self.model_space!r}, evaluator labels {self.evaluator_labels}, "
            f"size={self.size})"
        )


def joint_space(model_space: Any, evaluator: Any) -> Any:
    """``model_space`` itself when the evaluator searches nothing, else a :class:`JointSpace`."""
    search_space = getattr(evaluator, "search_space", None)
    if not callable(search_space) or not len(search_space()):
        return model_space
    return JointSpace(model_space, evaluator)
