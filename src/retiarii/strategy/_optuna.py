"""Optuna plumbing shared by :class:`~retiarii.strategy.TPE`, :class:`~retiarii.strategy.NSGAII`
and :class:`~retiarii.strategy.MultiObjectiveTPE`.

An in-memory study is driven by ask/tell over the index encoding. Each proposal uses a sampler
seeded from ``base_seed`` and the proposal's number, so a resumed experiment (whose finished
trials are replayed into a new study) continues with the same seeds. A proposal that repeats a
sample is failed in the study and replaced by a new sample one label away. Results the study did
not ask for (replayed on resume, or of a replacement) are added with ``study.add_trial``.

Optuna is an optional dependency (the ``tpe`` extra); it is imported when the strategy is
attached, not when ``retiarii.strategy`` is.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._install import install_command
from ._encoding import Index, check_positive_int
from ._indexed import IndexedStrategy

#: The range of a normal label's cumulative probability as Optuna sees it (its quantile is
#: infinite at 0 and 1).
_UNIT_LOW = 1e-9


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(
            f"strategy.TPE needs Optuna, an optional dependency: {install_command('tpe')}"
        ) from exc
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Silence Optuna's per-trial log lines and experimental warnings inside the block."""
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


class TPEOptions:
    """The ``TPESampler`` arguments that :class:`~retiarii.strategy.TPE` and
    :class:`~retiarii.strategy.MultiObjectiveTPE` share: checked once, kept as attributes (which
    the strategies' ``repr`` shows)."""

    n_startup_trials: int
    n_ei_candidates: int
    multivariate: bool

    def _init_tpe(self, n_startup_trials: int, n_ei_candidates: int, multivariate: bool) -> None:
        owner = type(self).__name__
        self.n_startup_trials = check_positive_int(n_startup_trials, "n_startup_trials", owner)
        self.n_ei_candidates = check_positive_int(n_ei_candidates, "n_ei_candidates", owner)
        self.multivariate = bool(multivariate)

    def tpe_sampler(self, optuna: Any, seed: int, **options: Any) -> Any:
        """Optuna's ``TPESampler`` with these options (and ``options``), seeded with ``seed``."""
        return optuna.samplers.TPESampler(
            n_startup_trials=self.n_startup_trials,
            n_ei_candidates=self.n_ei_candidates,
            multivariate=self.multivariate,
            seed=seed,
            **options,
        )


class OptunaStrategy(IndexedStrategy):
    """An :class:`IndexedStrategy` backed by an Optuna study (see the module docstring).

    Subclasses give :meth:`create_study` and :meth:`make_sampler`, call :meth:`_init_optuna`
    after the base constructor, and tell results with :meth:`_record`. A label is an Optuna
    ``CategoricalDistribution`` over the indices of its values, except continuous distributions,
    which Optuna models natively: ``uniform``/``loguniform`` as a ``FloatDistribution`` over the
    value (``log=True`` for ``loguniform``), ``normal`` as a ``FloatDistribution`` over its
    cumulative probability (Optuna has no normal prior).
    """

    #: proposals per sample before a repeat is replaced by a neighbour.
    max_repeats = 1

    def _init_optuna(self, seed: int | None) -> None:
        self.asks = 0
        self.base_seed = seed if seed is not None else self.rng.randrange(2**31)
        self._study: Any = None
        self._pending: dict[Index, list[int]] = {}

    def create_study(self, optuna: Any) -> Any:
        """A new, empty study with this strategy's direction(s)."""
        raise NotImplementedError

    def make_sampler(self, optuna: Any, seed: int) -> Any:
        """The sampler of one proposal, seeded with ``seed``."""
        raise NotImplementedError

    def reset(self) -> None:
        self.reset_study()
        self.asks = 0

    def reset_study(self) -> None:
        """A new, empty study over the encoding."""
        optuna = _import_optuna()
        with _quiet(optuna):
            self._study = self.create_study(optuna)
        self._distributions = {
            label: self._distribution(optuna, pos, size)
            for pos, (label, size) in enumerate(zip(self.encoding.labels, self.encoding.sizes))
        }
        self._pending = {}

    def _distribution(self, optuna: Any, pos: int, size: Any) -> Any:
        choice = self.encoding.continuous.get(pos)
        if choice is None:
            return optuna.distributions.CategoricalDistribution(list(range(size)))
        if choice.low is None or choice.high is None:  # normal: its cumulative probability
            return optuna.distributions.FloatDistribution(_UNIT_LOW, 1 - _UNIT_LOW)
        return optuna.distributions.FloatDistribution(choice.low, choice.high, log=choice.log)

    def _to_param(self, pos: int, x: Any) -> Any:
        choice = self.encoding.continuous.get(pos)
        if choice is None:
            return x
        if choice.low is None:
            return min(max(choice.to_unit(x), _UNIT_LOW), 1 - _UNIT_LOW)
        return x

    def _from_param(self, pos: int, param: Any) -> Any:
        choice = self.encoding.continuous.get(pos)
        if choice is None:
            return int(param)
        if choice.low is None:
            return choice.from_unit(float(param))
        return choice.normalize(float(param))

    # -- proposing ----------------------------------------------------------------------------
    def propose_index(self) -> Index | None:
        optuna = _import_optuna()
        labels = self.encoding.labels
        index: Index = ()
        for _ in range(self.max_repeats):
            self.asks += 1
            with _quiet(optuna):
                self._study.sampler = self.make_sampler(
                    optuna, (self.base_seed * 1_000_003 + self.asks) % (2**32)
                )
                trial = self._study.ask(self._distributions)
            index = tuple(
                self._from_param(pos, trial.params[label]) for pos, label in enumerate(labels)
            )
            if self.is_new(index):
                self._pending.setdefault(index, []).append(trial.number)
                return index
            with _quiet(optuna):  # a repeat: failed in the study
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
        # The sampler concentrates on its best region and keeps proposing samples already tried:
        # take a new sample one label away from its proposal (its result is added later).
        for _ in range(50):
            candidate = self.encoding.mutate(index, self.rng)
            if self.is_new(candidate):
                return candidate
        return self.random_index()

    # -- learning -----------------------------------------------------------------------------
    def _record(self, index: Index, values: Sequence[float] | None) -> None:
        """Tell the study the result of ``index`` (None: failed)."""
        optuna = _import_optuna()
        numbers = self._pending.get(index)
        fail = optuna.trial.TrialState.FAIL
        with _quiet(optuna):
            if numbers:
                number = numbers.pop(0)
                if not numbers:
                    del self._pending[index]
                if values is None:
                    self._study.tell(number, state=fail)
                else:
                    self._study.tell(number, list(values))
                return
            params = {
                label: self._to_param(pos, x)
                for pos, (label, x) in enumerate(zip(self.encoding.labels, index))
            }
            self._study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=self._distributions,
                    values=list(values) if values is not None else None,
                    state=optuna.trial.TrialState.COMPLETE if values is not None else fail,
                )
            )

    # -- resume ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "asks": self.asks, "base_seed": self.base_seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.asks = int(state.get("asks", self.asks))
        self.base_seed = int(state.get("base_seed", self.base_seed))

    def __getstate__(self) -> dict[str, Any]:
        # The study lives in memory: a pickled strategy starts over when attached (an
        # experiment rebuilds it from its store on resume).
        state = dict(self.__dict__)
        state["_study"] = None
        state["_pending"] = {}
        state["_encoding"] = None
        return state
