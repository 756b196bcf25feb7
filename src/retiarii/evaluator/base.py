"""The evaluator interface: user code that trains/tests one frozen model and reports metrics."""

from __future__ import annotations

from typing import Any

__all__ = ["Evaluator"]


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

    def _execute(self, model_cls: Any) -> Any:
        """NNI's debugging entry point (seed 002): build ``model_cls()`` and evaluate it."""
        return self.evaluate(model_cls())
