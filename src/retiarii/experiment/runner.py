"""What runs inside a worker: build the sampled model, hand it to the evaluator."""

from __future__ import annotations

from typing import Any

from .seeding import seed_everything, trial_seed_for

__all__ = ["ModelSpaceTrialRunner"]


class ModelSpaceTrialRunner:
    """The payload shipped once to every worker (cloudpickled): a model space and an evaluator.

    ``space`` is anything with ``build(sample) -> nn.Module`` (a ``ModelSpace``, or a space with
    applied mutators). Per trial only the sample travels; the worker builds a freshly initialised
    model for it and calls ``evaluator.evaluate(model)``. An evaluator that looks architectures up
    instead of training them (e.g. ``retiarii.benchmark.NasBench201Benchmark``) defines
    ``evaluate_sample(sample)``: it is called with the validated sample and no model is built.

    With ``seed`` set, ``random``, NumPy and torch are seeded from ``(seed, sample)`` before the
    model is built (see :mod:`.seeding`), so a sample gives the same result on any worker.

    When the evaluator has value choices, ``space`` is a
    :class:`~retiarii.experiment.joint.JointSpace` and each trial evaluates
    ``evaluator.freeze(sample)``.
    """

    def __init__(self, space: Any, evaluator: Any, seed: int | None = None) -> None:
        if not callable(getattr(evaluator, "evaluate", None)):
            raise TypeError(f"evaluator {evaluator!r} has no evaluate(model) method")
        self.space = space
        self.evaluator = evaluator
        self.seed = seed

    def setup(self) -> None:
        """Nothing to prepare: the space arrived ready."""

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        if self.seed is not None:
            seed_everything(trial_seed_for(self.seed, sample))
        evaluate_sample = getattr(self.evaluator, "evaluate_sample", None)
        if callable(evaluate_sample):
            return evaluate_sample(self.space.validate(sample))
        model = self.space.build(sample)
        # A joint space (retiarii.experiment.joint) resolves the evaluator's choices per trial.
        evaluator_for = getattr(self.space, "evaluator_for", None)
        evaluator = evaluator_for(sample) if callable(evaluator_for) else self.evaluator
        return evaluator.evaluate(model)
