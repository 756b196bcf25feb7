"""The evaluator interface: user code that trains/tests one frozen model and reports metrics."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

from ..mutable import SearchSpace
from .choices import choices_in, resolve

__all__ = ["Evaluator"]

E = TypeVar("E", bound="Evaluator")


class Evaluator:
    """Base class of evaluators.

    ``evaluate(model)`` trains and/or tests ``model`` (an ordinary ``torch.nn.Module``) and reports
    through ``retiarii.report_intermediate_result`` / ``report_final_result``. Called directly, it
    runs in the current process (handy for debugging: the reports are logged). Inside an
    experiment it runs in a worker process, with the reports going to the experiment's store.

    **Hyperparameters.** Value choices and distributions (``loguniform('lr', 1e-4, 1e-1)``) in an
    evaluator's arguments join the experiment's search space, next to the model's choices; a label
    used in both is one decision. Each trial runs :meth:`freeze` of the evaluator — a copy with
    plain values — so user code never sees a choice. To retrain the best trial exactly::

        with fixed_arch(sample, strict=False):   # the evaluator's labels are not the model's
            model = Net()
        evaluator.freeze(sample).evaluate(model)

    Subclasses say where their arguments live by overriding :meth:`search_space` and
    :meth:`freeze`; the default walks the evaluator's public attributes.
    """

    def evaluate(self, model: Any) -> Any:
        """Evaluate one model; may return the final metric instead of reporting it."""
        raise NotImplementedError

    def _execute(self, model_cls: Any) -> Any:
        """NNI's debugging entry point (seed 002): build ``model_cls()`` and evaluate it."""
        return self.evaluate(model_cls())

    def _arguments(self) -> dict[str, Any]:
        """The attributes that may hold choices (default: the public ones)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def search_space(self) -> SearchSpace:
        """The choices in this evaluator's arguments, by label (empty if it searches nothing).

        Raises :class:`~retiarii.mutable.LabelConflictError` if one label is given to two
        different choices.
        """
        return SearchSpace(choices_in(self._arguments()))

    def freeze(self: E, sample: Mapping[str, Any]) -> E:
        """This evaluator for one trial: every choice in its arguments replaced by its value in
        ``sample`` (which may hold the model's labels too). ``self`` is returned unchanged when it
        has no choices; otherwise a shallow copy (objects without choices are shared)."""
        if not len(self.search_space()):
            return self
        twin = copy.copy(self)
        twin.__dict__.update(
            {key: resolve(value, sample) for key, value in self._arguments().items()}
        )
        return twin

    def check_frozen(self) -> None:
        """Raise ``TypeError`` if a choice is left in the arguments: it would reach user code."""
        labels = list(self.search_space())
        if labels:
            raise TypeError(
                f"{type(self).__name__} has value choices in its arguments (labels {labels}); "
                "they are decided per trial. Run it in an experiment, or evaluate one trial's "
                "setting with evaluator.freeze(sample).evaluate(model)"
            )
