"""The strategy interface: ask for samples, tell results. A strategy never runs anything.

A strategy sees the flattened search space (``{label: choice}``) and the trials that finished; it
proposes samples. Everything is seeded, and ``state_dict()`` / ``load_state_dict()`` capture what
is needed to continue after a restart (the experiment also replays finished trials through
:meth:`BaseStrategy.tell` on resume, so history-derived state need not be saved).

Writing one: subclass :class:`BaseStrategy`, implement :meth:`propose`; override :meth:`tell` to
learn from results. ``model_filter`` and ``dedup`` are handled here for every strategy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._repr import short_repr
from ..mutable import SearchSpace

__all__ = ["BaseStrategy", "TrialResult", "sample_key"]

_logger = logging.getLogger(__name__)

Sample = dict[str, Any]


def describe_call(obj: Any, overrides: Mapping[str, Any] | None = None) -> str:
    """``Name(arg=value, ...)`` from ``obj``'s constructor signature and same-named attributes
    (or ``overrides``), leaving out arguments at their defaults; long values are shortened."""
    import inspect

    parts = []
    try:
        parameters = inspect.signature(type(obj).__init__).parameters.values()
    except (TypeError, ValueError):
        parameters = []  # type: ignore[assignment]
    for param in parameters:
        if param.name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if overrides and param.name in overrides:
            value = overrides[param.name]
        elif hasattr(obj, param.name):
            value = getattr(obj, param.name)
        else:
            continue
        if param.default is not param.empty and _same(value, param.default):
            continue
        text = getattr(value, "__qualname__", None) if callable(value) else None
        parts.append(f"{param.name}={text or short_repr(value)}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value is default or (type(value) is type(default) and value == default))
    except Exception:  # an object whose == raises or is not a bool (tensors)
        return False


def sample_key(sample: Mapping[str, Any]) -> str:
    """A canonical string for a sample, for deduplication."""
    return json.dumps(sample, sort_keys=True, separators=(",", ":"))


def check_optimize_mode(optimize_mode: Any) -> str:
    """``optimize_mode`` if it is ``'maximize'`` or ``'minimize'``; a ``ValueError`` otherwise."""
    if optimize_mode not in ("maximize", "minimize"):
        raise ValueError(f"optimize_mode must be 'maximize' or 'minimize', got {optimize_mode!r}")
    return str(optimize_mode)


@dataclass(frozen=True)
class TrialResult:
    """What a strategy learns about a finished trial."""

    trial_id: int
    sample: Sample
    status: str  # SUCCEEDED, FAILED, TIMEOUT, CANCELED, EARLY_STOPPED
    value: float | None  # the metric to optimise (None if the trial did not report one)
    #: the final metric as reported (a number or a dict), for strategies with several objectives
    metrics: Any = None

    @property
    def succeeded(self) -> bool:
        """Whether the trial ended cleanly with a metric.

        An ``EARLY_STOPPED`` trial (stopped by the experiment's pruner) counts: its value is its
        last intermediate result, a low-fidelity score that is usually below what a full run
        would reach — which is exactly why it was stopped, so strategies learn from it as is.
        """
        return self.status in ("SUCCEEDED", "EARLY_STOPPED") and self.value is not None


class BaseStrategy:
    """Base class of search strategies (ask/tell).

    Args:
        dedup: never propose the same sample twice (also across a resume).
        model_filter: ``fn(sample) -> bool``; samples for which it returns False are skipped
            without being run.
        seed: seed of the strategy's random generator.
    """

    #: Give up on finding a new sample after this many consecutive rejected proposals.
    max_rejections = 10_000

    def __init__(
        self,
        *,
        dedup: bool = False,
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        self.dedup = dedup
        self.model_filter = model_filter
        self.seed = seed
        self.space: SearchSpace | None = None
        self.optimize_mode = "maximize"
        self.exhausted = False
        self.exhausted_reason = ""
        self._seen: set[str] = set()

    #: The ``optimize_mode`` given to the strategy's constructor, if it takes one (None: follow
    #: the experiment's).
    requested_optimize_mode: str | None = None

    def __repr__(self) -> str:
        """``Name(arg=value, ...)``: the constructor arguments that differ from their defaults
        (what the store, ``retiarii list`` and the dashboard show)."""
        # optimize_mode holds the experiment's once attached; show what was asked for
        return describe_call(self, {"optimize_mode": self.requested_optimize_mode})

    # -- lifecycle ----------------------------------------------------------------------------
    def attach(self, space: SearchSpace, optimize_mode: str | None = None) -> None:
        """Called once by the experiment before the first :meth:`ask`.

        ``optimize_mode`` is the experiment's (None when the strategy is used on its own: then the
        strategy's own ``optimize_mode``, or ``'maximize'``). A strategy constructed with an
        ``optimize_mode`` that contradicts the experiment's raises, naming both.
        """
        requested = self.requested_optimize_mode
        if optimize_mode is None:
            optimize_mode = requested or "maximize"
        check_optimize_mode(optimize_mode)
        if requested is not None and requested != optimize_mode:
            raise ValueError(
                f"{type(self).__name__} was given optimize_mode={requested!r} but the "
                f"experiment's optimize_mode is {optimize_mode!r}; set the experiment's "
                f"config.optimize_mode = {requested!r} (it also ranks export_top_models), or "
                "leave the strategy's optimize_mode unset"
            )
        self.space = space
        self.optimize_mode = optimize_mode
        self.on_attach()

    def on_attach(self) -> None:
        """Hook: the search space is known (``self.space``)."""

    # -- ask / tell ---------------------------------------------------------------------------
    def propose(self) -> Sample | None:
        """Return the next sample to try, or None when there is nothing to propose (now).

        Set ``self.exhausted`` (and ``exhausted_reason``) when nothing will ever be proposed again.
        """
        raise NotImplementedError

    def ask(self) -> Sample | None:
        """The next sample to run, with dedup and ``model_filter`` applied; None if none now."""
        if self.space is None:
            raise RuntimeError(f"{type(self).__name__}.attach(space) must be called before ask()")
        rejections = 0
        while not self.exhausted:
            sample = self.propose()
            if sample is None:
                return None
            key = sample_key(sample)
            duplicate = self.dedup and key in self._seen
            filtered = not duplicate and (
                (self.model_filter is not None and not self.model_filter(sample))
                # a rule of the space: a module's Constraint or the experiment's constraint=
                or self.space.violation(sample) is not None
            )
            if not duplicate and not filtered:
                if self.dedup:
                    self._seen.add(key)
                return sample
            if filtered:
                self.on_filtered(sample)
                if self.dedup:  # a rejected sample is used up too: the space can still run out
                    self._seen.add(key)
            rejections += 1
            if self.dedup and len(self._seen) >= self.space.size:
                rejected = " or rejected by model_filter" if self.model_filter is not None else ""
                self._exhaust(
                    f"all {self.space.size} samples of the search space have been tried{rejected}"
                )
            elif rejections >= self.max_rejections:
                self._exhaust(
                    f"{rejections} consecutive proposals were duplicates or rejected by model_filter"
                )
        return None

    def _exhaust(self, reason: str) -> None:
        self.exhausted = True
        self.exhausted_reason = reason
        _logger.info("%s: no more samples: %s", type(self).__name__, reason)

    def tell(self, result: TrialResult) -> None:
        """Hook: a trial finished (successfully or not)."""

    def on_filtered(self, sample: Sample) -> None:
        """Hook: ``model_filter`` rejected ``sample``."""

    def mark_seen(self, sample: Sample) -> None:
        """Record a sample as already proposed (used when resuming)."""
        if self.dedup:
            self._seen.add(sample_key(sample))

    # -- resume ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state needed to continue (the RNG state, counters)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    # helpers for subclasses
    def better(self, a: float, b: float) -> bool:
        """Whether metric ``a`` is better than ``b`` under ``optimize_mode``."""
        return a > b if self.optimize_mode == "maximize" else a < b
