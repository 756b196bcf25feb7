"""``IndexedStrategy``: what the model-based strategies share.

They see the space through :class:`~retiarii.strategy._encoding.Encoding` (a sample is a tuple of
value indices), learn from a *score* that is always maximised (the metric, negated when minimising;
a failed trial scores ``-inf`` with ``on_failure='worst'`` and is skipped with ``'ignore'``), and
keep the set of samples they proposed, so that they can avoid repeats and notice when the space is
used up.

Resume contract (see :class:`~retiarii.strategy.base.BaseStrategy`): the experiment replays every
finished trial through :meth:`tell`, *then* calls :meth:`load_state_dict`. So ``tell`` may rebuild
history-derived state, and ``state_dict`` must hold everything else — the random generator, cursors,
and anything whose order matters — and ``load_state_dict`` overwrites what the replay built for it.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from ..mutable import SampleError
from ._encoding import Encoding, Index, check_on_failure
from ._rng import get_rng_state, set_rng_state
from .base import BaseStrategy, Sample, TrialResult, check_optimize_mode

__all__ = ["IndexedStrategy"]


class IndexedStrategy(BaseStrategy):
    """Base class of strategies over the index encoding (see the module docstring).

    Subclasses implement :meth:`propose_index` and :meth:`learn`, and extend :meth:`state_dict` /
    :meth:`load_state_dict` with their own cursors.
    """

    def __init__(
        self,
        *,
        optimize_mode: str | None = None,
        dedup: bool = True,
        on_failure: str = "ignore",
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(dedup=dedup, model_filter=model_filter, seed=seed)
        if optimize_mode is not None:
            self.requested_optimize_mode = check_optimize_mode(optimize_mode)
        self.on_failure = check_on_failure(on_failure)
        self.rng = random.Random(seed)
        self._encoding: Encoding | None = None
        self._attached: tuple[Any, str] | None = None
        #: every sample proposed so far (and, after a resume, every sample in the store)
        self.proposed: set[Index] = set()
        #: proposals that ``model_filter`` rejected
        self.filtered: set[Index] = set()

    # -- helpers for subclasses ------------------------------------------------------------------
    @property
    def encoding(self) -> Encoding:
        """The encoding of the attached space."""
        if self._encoding is None:
            raise RuntimeError(f"{type(self).__name__}.attach(space) must be called first")
        return self._encoding

    def on_attach(self) -> None:
        assert self.space is not None
        attached = (self.space.to_json(), self.optimize_mode)
        if self._encoding is not None and self._attached == attached:
            return  # attached again to the same space (an experiment run again): keep learning
        self._attached = attached
        self._encoding = Encoding(self.space)
        self.proposed = set()
        self.filtered = set()
        self.reset()

    def reset(self) -> None:
        """Hook: (re)initialise the algorithm's state; the encoding is known."""

    def score(self, result: TrialResult) -> float | None:
        """The number to maximise for ``result``; None for a failure to ignore."""
        if result.succeeded:
            assert result.value is not None
            return result.value if self.optimize_mode == "maximize" else -result.value
        return -math.inf if self.on_failure == "worst" else None

    def random_unseen(self) -> Index | None:
        """A random sample not proposed before, or None (and ``exhausted``) when none is left."""
        index = self.encoding.random_unseen(self.rng, self.proposed)
        if index is None:
            self._exhaust(f"all {self.encoding.size} samples of the search space have been tried")
        return index

    def random_index(self) -> Index | None:
        """A uniformly random sample: one not proposed before when deduplicating."""
        return self.random_unseen() if self.dedup else self.encoding.random(self.rng)

    def is_new(self, index: Index) -> bool:
        """Whether proposing ``index`` is allowed (always, without dedup)."""
        return not self.dedup or index not in self.proposed

    # -- BaseStrategy ---------------------------------------------------------------------------
    def propose(self) -> Sample | None:
        index = self.propose_index()
        if index is None:
            return None
        self.proposed.add(index)
        return self.encoding.decode(index)

    def propose_index(self) -> Index | None:
        """The next sample as an index tuple, or None to wait (or when ``exhausted``)."""
        raise NotImplementedError

    def tell(self, result: TrialResult) -> None:
        try:
            index = self.encoding.encode(result.sample)
        except (KeyError, SampleError):  # not a sample of this space (e.g. an older space)
            return
        self.learn(index, self.score(result), result)

    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        """Hook: ``index`` finished with ``score`` (None: a failure to ignore)."""

    def on_filtered(self, sample: Sample) -> None:
        index = self.encoding.encode(sample)
        self.proposed.add(index)
        self.filtered.add(index)
        self.learn_filtered(index)

    def learn_filtered(self, index: Index) -> None:
        """Hook: ``model_filter`` rejected ``index`` (it will not run)."""

    def mark_seen(self, sample: Sample) -> None:
        super().mark_seen(sample)
        with contextlib.suppress(KeyError, SampleError):  # not a sample of this space
            self.proposed.add(self.encoding.encode(sample))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": get_rng_state(self.rng), "filtered": [list(i) for i in self.filtered]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "rng" in state:
            set_rng_state(self.rng, state["rng"])
        for item in state.get("filtered", []):
            index = self.encoding.from_json(item)
            self.filtered.add(index)
            self.proposed.add(index)
