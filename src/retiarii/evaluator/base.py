"""The evaluator interface: user code that trains/tests one frozen model and reports metrics."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["Evaluator"]

_logger = logging.getLogger("retiarii.evaluator")


class Evaluator:
    """Base class of evaluators.

    ``evaluate(model)`` trains and/or tests ``model`` (an ordinary ``torch.nn.Module``) and reports
    through ``retiarii.report_intermediate_result`` / ``report_final_result``. Called directly, it
    runs in the current process (handy for debugging: the reports are logged). Inside an
    experiment it runs in a worker process, with the reports going to the experiment's store.
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
