"""Every model-based strategy as a plain ask/tell object: the behaviour the experiment relies on."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from retiarii.strategy import BaseStrategy, TrialResult, sample_key

from .helpers import (
    FACTORIES,
    WITH_ON_FAILURE,
    drive,
    json_round_trip,
    keys,
    medium_space,
    resumed,
    score,
    small_space,
)

NAMES = list(FACTORIES)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_runs_are_deterministic(name: str) -> None:
    make = FACTORIES[name]
    one = keys(drive(make(seed=3), medium_space(), 25))
    two = keys(drive(make(seed=3), medium_space(), 25))
    other = keys(drive(make(seed=4), medium_space(), 25))
    assert one == two
    assert one != other


@pytest.mark.parametrize("name", NAMES)
def test_dedup_never_repeats_and_exhausts_the_space(name: str) -> None:
    search = FACTORIES[name](seed=0)
    history = drive(search, small_space(), 100)
    assert len(history) == 18
    assert len(set(keys(history))) == 18
    assert search.exhausted
    assert "18" in search.exhausted_reason
    assert search.ask() is None


@pytest.mark.parametrize("name", NAMES)
def test_model_filter_skips_samples_and_the_space_still_runs_out(name: str) -> None:
    rejected: list[str] = []

    def keep(sample: dict) -> bool:
        if sample["a"] == 0:
            rejected.append(sample_key(sample))
            return False
        return True

    search = FACTORIES[name](seed=1, model_filter=keep)
    history = drive(search, small_space(), 100)
    assert all(r.sample["a"] != 0 for r in history)
    assert len(history) == 12 and len(set(keys(history))) == 12
    assert len(set(rejected)) == 6  # every filtered sample was looked at once
    assert search.exhausted


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("failure", ["FAILED", "no metric"])
def test_failed_trials_are_survived(name: str, failure: str) -> None:
    search = FACTORIES[name](seed=2)
    search.attach(small_space())
    seen = []
    for trial_id in range(100):
        sample = search.ask()
        if sample is None:
            break
        seen.append(sample_key(sample))
        if sample["a"] == 1:  # these always fail
            status = "FAILED" if failure == "FAILED" else "SUCCEEDED"
            search.tell(TrialResult(trial_id, sample, status, None))
        else:
            search.tell(TrialResult(trial_id, sample, "SUCCEEDED", score(sample)))
    assert len(seen) == 18 == len(set(seen))


@pytest.mark.parametrize("name", NAMES)
def test_minimize_mirrors_maximize(name: str) -> None:
    make = FACTORIES[name]
    maximize = keys(drive(make(seed=5), medium_space(), 30, score, mode="maximize"))
    minimize = keys(drive(make(seed=5), medium_space(), 30, lambda s: -score(s), mode="minimize"))
    assert minimize == maximize


@pytest.mark.parametrize("name", NAMES)
def test_optimize_mode_given_to_the_strategy(name: str) -> None:
    make = FACTORIES[name]
    own = keys(
        drive(make(seed=5, optimize_mode="minimize"), medium_space(), 20, lambda s: -score(s))
    )
    assert own == keys(drive(make(seed=5), medium_space(), 20, score, mode="maximize"))
    with pytest.raises(ValueError, match=r"optimize_mode='minimize'.*config.optimize_mode"):
        make(optimize_mode="minimize").attach(medium_space(), "maximize")
    with pytest.raises(ValueError, match="optimize_mode"):
        make(optimize_mode="smallest")


@pytest.mark.parametrize("name", NAMES)
def test_searches_better_than_random(name: str) -> None:
    import retiarii.strategy as strategy

    def best_found(make: Callable[..., BaseStrategy]) -> list[float]:
        return [max(r.value for r in drive(make(seed=s), medium_space(), 45)) for s in range(6)]

    found = best_found(FACTORIES[name])
    random = best_found(lambda seed: strategy.Random(dedup=True, seed=seed))
    assert sum(found) > sum(random)
    assert max(found) == max(score(s) for s in medium_space().grid())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("interrupted", [False, True], ids=["between", "mid-trial"])
def test_resume_continues_identically(name: str, interrupted: bool) -> None:
    make = FACTORIES[name]
    space = medium_space()
    full = drive(make(seed=7), space, 40)

    search = make(seed=7)
    before = drive(search, space, 17)
    running = []
    if interrupted:  # the loop saved the state after asking, then the driver died
        running.append(search.ask())
        assert sample_key(running[0]) == sample_key(full[17].sample)
    state = search.state_dict()

    again = resumed(lambda: make(seed=7), space, before, running, state)
    if interrupted:  # the interrupted trial runs again first
        sample = running[0]
        again.tell(TrialResult(100, sample, "SUCCEEDED", score(sample)))
    after = drive(again, space, 40 - 17 - len(running), attach=False)
    assert keys(before) + [sample_key(s) for s in running] + keys(after) == keys(full)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_json(name: str) -> None:
    search = FACTORIES[name](seed=0)
    drive(search, medium_space(), 12, fails=lambda s: s["a"] == 2)
    state = search.state_dict()
    assert json_round_trip(state) == state


@pytest.mark.parametrize("name", WITH_ON_FAILURE)
def test_on_failure_is_checked(name: str) -> None:
    with pytest.raises(ValueError, match="on_failure"):
        FACTORIES[name](on_failure="skip")


@pytest.mark.parametrize("name", WITH_ON_FAILURE)
def test_without_dedup_repeats_are_allowed(name: str) -> None:
    search = FACTORIES[name](seed=0, dedup=False)
    history = drive(search, small_space(), 60)
    assert len(history) == 60
    assert len(set(keys(history))) < 60


def test_evolution_learns_failures_as_worst_or_ignores_them() -> None:
    import retiarii.strategy as strategy

    for on_failure in ("ignore", "worst"):
        search = strategy.RegularizedEvolution(
            population_size=3, sample_size=2, on_failure=on_failure, seed=0
        )
        search.attach(medium_space())
        sample = search.ask()
        search.tell(TrialResult(0, sample, "FAILED", None))
        if on_failure == "ignore":
            assert list(search.population) == []
        else:
            assert list(search.population) == [(search.encoding.encode(sample), -math.inf)]
            assert json_round_trip(search.state_dict())["population"] == [
                [list(search.encoding.encode(sample)), None]
            ]
