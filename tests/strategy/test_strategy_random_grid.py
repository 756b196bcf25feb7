"""Random and GridSearch as plain ask/tell objects: no experiment, no processes."""

from __future__ import annotations

import json

import pytest

import retiarii.strategy as strategy
from retiarii.mutable import Categorical, SearchSpace
from retiarii.strategy import BaseStrategy, TrialResult, sample_key


def space(*sizes: int) -> SearchSpace:
    """Labels a, b, c, ... with ``sizes`` integer candidates each."""
    return SearchSpace(
        Categorical(list(range(n)), label=chr(ord("a") + i)) for i, n in enumerate(sizes)
    )


def attached(search: BaseStrategy, *sizes: int) -> BaseStrategy:
    search.attach(space(*sizes))
    return search


def asks(search: BaseStrategy, n: int) -> list[dict | None]:
    return [search.ask() for _ in range(n)]


# -- Random ------------------------------------------------------------------------------------------


def test_random_is_deterministic_for_a_seed() -> None:
    one = asks(attached(strategy.Random(seed=42), 5, 7, 11), 20)
    two = asks(attached(strategy.Random(seed=42), 5, 7, 11), 20)
    other = asks(attached(strategy.Random(seed=43), 5, 7, 11), 20)
    assert one == two
    assert one != other
    assert all(space(5, 7, 11).contains(sample) for sample in one)


def test_random_without_dedup_repeats() -> None:
    samples = asks(attached(strategy.Random(dedup=False, seed=0), 2), 10)
    assert len({sample_key(s) for s in samples}) == 2


def test_random_dedup_never_repeats_and_then_is_exhausted() -> None:
    search = attached(strategy.Random(dedup=True, seed=0), 2, 3)
    samples = asks(search, 6)
    assert len({sample_key(s) for s in samples}) == 6
    assert not search.exhausted
    assert search.ask() is None
    assert search.exhausted
    assert search.exhausted_reason == "all 6 samples of the search space have been tried"
    assert search.ask() is None  # stays exhausted


def test_model_filter_skips_samples() -> None:
    filtered: list[dict] = []

    class Recording(strategy.Random):
        def on_filtered(self, sample: dict) -> None:
            filtered.append(sample)

    search = attached(Recording(dedup=False, seed=0, model_filter=lambda s: s["a"] != 0), 3, 2)
    samples = asks(search, 50)
    assert all(s["a"] != 0 for s in samples)
    assert filtered and all(s["a"] == 0 for s in filtered)


def test_model_filter_with_dedup_exhausts_the_allowed_samples() -> None:
    search = attached(strategy.Random(dedup=True, seed=0, model_filter=lambda s: s["a"] > 0), 3, 2)
    search.max_rejections = 200
    samples = asks(search, 4)
    assert sorted((s["a"], s["b"]) for s in samples) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert search.ask() is None
    assert search.exhausted
    assert "rejected by model_filter" in search.exhausted_reason


def test_model_filter_rejecting_everything_ends() -> None:
    search = attached(strategy.Random(dedup=False, model_filter=lambda s: False), 4)
    search.max_rejections = 50
    assert search.ask() is None
    assert search.exhausted and "50 consecutive" in search.exhausted_reason


def test_random_state_dict_continues_the_same_sequence() -> None:
    first = attached(strategy.Random(dedup=False, seed=5), 10, 10, 10)
    asks(first, 7)
    state = json.loads(json.dumps(first.state_dict()))  # it is JSON
    expected = asks(first, 10)

    second = attached(strategy.Random(dedup=False, seed=999), 10, 10, 10)
    second.load_state_dict(state)
    assert asks(second, 10) == expected


def test_random_dedup_resume_with_seen_samples() -> None:
    first = attached(strategy.Random(dedup=True, seed=1), 3, 3)
    done = asks(first, 4)
    state = first.state_dict()
    expected = asks(first, 5)

    second = attached(strategy.Random(dedup=True, seed=1), 3, 3)
    for sample in done:  # what the experiment replays from the store
        second.mark_seen(sample)
    second.load_state_dict(state)
    assert asks(second, 5) == expected
    assert second.ask() is None and second.exhausted


def test_load_state_dict_ignores_an_empty_state() -> None:
    search = attached(strategy.Random(seed=3), 10)
    expected = asks(attached(strategy.Random(seed=3), 10), 3)
    search.load_state_dict({})
    assert asks(search, 3) == expected


# -- GridSearch ----------------------------------------------------------------------------------


def test_grid_in_order_then_exhausted() -> None:
    search = attached(strategy.GridSearch(shuffle=False), 2, 3)
    samples = asks(search, 6)
    assert samples == list(space(2, 3).grid())
    assert search.state_dict()["position"] == 6
    assert search.ask() is None
    assert search.exhausted
    assert search.exhausted_reason == "the whole grid (6 samples) has been proposed"


@pytest.mark.parametrize("shuffle", [False, True])
def test_grid_resumes_from_its_position(shuffle: bool) -> None:
    first = attached(strategy.GridSearch(shuffle=shuffle, seed=4), 3, 4)
    head = asks(first, 5)
    state = json.loads(json.dumps(first.state_dict()))
    tail = asks(first, 7)

    second = attached(strategy.GridSearch(shuffle=shuffle, seed=4), 3, 4)
    second.load_state_dict(state)
    assert asks(second, 7) == tail
    assert second.ask() is None
    assert sorted(map(sample_key, head + tail)) == sorted(map(sample_key, space(3, 4).grid()))


def test_grid_shuffle_is_a_seeded_permutation() -> None:
    grid = list(space(3, 4).grid())
    one = asks(attached(strategy.GridSearch(shuffle=True, seed=1), 3, 4), 12)
    two = asks(attached(strategy.GridSearch(shuffle=True, seed=1), 3, 4), 12)
    other = asks(attached(strategy.GridSearch(shuffle=True, seed=2), 3, 4), 12)
    assert one == two
    assert one != grid and one != other
    assert sorted(map(sample_key, one)) == sorted(map(sample_key, grid))


def test_nni_defaults_random_dedups_and_grid_shuffles() -> None:
    # NNI 2.10: ``strategy.Random()`` deduplicates, ``strategy.GridSearch()`` shuffles.
    random_search = attached(strategy.Random(), 2, 3)
    assert random_search.dedup
    assert len({sample_key(s) for s in asks(random_search, 6)}) == 6
    assert random_search.ask() is None and random_search.exhausted
    grid = list(space(5, 5).grid())
    shuffled = asks(attached(strategy.GridSearch(), 5, 5), 25)
    assert shuffled != grid and sorted(map(sample_key, shuffled)) == sorted(map(sample_key, grid))


def test_grid_shuffle_without_seed_resumes_in_the_same_order() -> None:
    first = attached(strategy.GridSearch(), 4, 4)
    asks(first, 3)
    state = json.loads(json.dumps(first.state_dict()))
    tail = asks(first, 13)
    second = attached(strategy.GridSearch(), 4, 4)
    second.load_state_dict(state)
    assert asks(second, 13) == tail


def test_grid_shuffle_walks_a_huge_space_lazily() -> None:
    search = attached(strategy.GridSearch(seed=0), *[10] * 12)  # 10**12 samples
    assert len(asks(search, 3)) == 3


# -- the base class ----------------------------------------------------------------------------------


def test_ask_before_attach() -> None:
    with pytest.raises(RuntimeError, match="attach"):
        strategy.Random().ask()


def test_attach_checks_optimize_mode_and_better_follows_it() -> None:
    search = strategy.Random()
    with pytest.raises(ValueError, match="optimize_mode"):
        search.attach(space(2), "maximise")
    search.attach(space(2), "minimize")
    assert search.better(1.0, 2.0) and not search.better(2.0, 1.0)
    search.attach(space(2))
    assert search.better(2.0, 1.0)


def test_propose_is_abstract() -> None:
    search = BaseStrategy()
    search.attach(space(2))
    with pytest.raises(NotImplementedError):
        search.ask()


def test_a_custom_strategy_learns_from_tell() -> None:
    class Greedy(BaseStrategy):
        """Propose a=0, a=1, ... until a result is worse than the best, then stop."""

        def on_attach(self) -> None:
            self.next, self.best = 0, None

        def propose(self):
            if self.next >= 5:
                self._exhaust("tried all")
                return None
            self.next += 1
            return {"a": self.next - 1}

        def tell(self, result: TrialResult) -> None:
            if result.succeeded and (self.best is None or self.better(result.value, self.best)):
                self.best = result.value

    search = attached(Greedy(dedup=True), 5)
    first = search.ask()
    search.tell(TrialResult(1, first, "SUCCEEDED", 0.3))
    search.tell(TrialResult(2, search.ask(), "FAILED", None))
    assert search.best == 0.3
    assert not TrialResult(2, {}, "FAILED", None).succeeded
    assert not TrialResult(3, {}, "SUCCEEDED", None).succeeded
    assert asks(search, 4) == [{"a": 2}, {"a": 3}, {"a": 4}, None]
    assert search.exhausted_reason == "tried all"


def test_sample_key_is_canonical() -> None:
    assert sample_key({"b": 1, "a": [1, 2]}) == sample_key({"a": [1, 2], "b": 1})
    assert sample_key({"a": 1}) != sample_key({"a": "1"})
