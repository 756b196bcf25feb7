"""The evaluator interface: user code that trains/tests one frozen model and reports metrics."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from ..mutable import SearchSpace
from .choices import choices_in, resolve

__all__ = ["Evaluator"]

_logger = logging.getLogger("retiarii.evaluator")
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

    def check_ready(self) -> None:
        """Hook: raise an error saying what is missing if the evaluator cannot run yet.

        Called when an experiment starts, so that a missing argument fails once, not in every
        trial (Lightning evaluators check their dataloaders here).
        """

    def _execute(self, model_cls: Any) -> Any:
        """NNI's debugging entry point (seed 002's note): ``evaluator._execute(Net)``.

        ``Net`` is the model class, not an instance. It is built with no arguments; a model
        space (one that still holds choices) is built on the first value of every label, which
        is what NNI 2.x's python engine ran. Returns what :meth:`evaluate` returns; to evaluate a
        model you have built, call ``evaluate(model)``.
        """
        if not isinstance(model_cls, type):
            raise TypeError(
                f"_execute takes the model class, as in NNI (evaluator._execute(Net), not "
                f"Net()), got a {type(model_cls).__name__} instance; to evaluate a model you have "
                "built, call evaluator.evaluate(model)"
            )
        from ..nn.pytorch.space import ModelSpace

        model = model_cls()
        space = ModelSpace(model)
        if len(space.search_space):
            first = {label: next(iter(c.values())) for label, c in space.search_space.items()}
            _logger.info("_execute(%s): a model space; evaluating %s", model_cls.__name__, first)
            model = space.build(first)
        return self.evaluate(model)

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
