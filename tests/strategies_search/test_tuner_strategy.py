"""TunerStrategy with a user tuner written against NNI's Tuner API (the seed 003 format)."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.mutable import Categorical, InputSubset, SampleError, SearchSpace
from retiarii.nn.pytorch import ModelSpace
from retiarii.strategy import TrialResult, sample_key
from retiarii.tuner import NoMoreTrialError, Tuner, parameters_to_sample, sample_to_parameters

from .helpers import json_round_trip, score, small_space
from .spaces import ScoredNet, report_score


class RandomTuner(Tuner):
    """A user tuner: draws each label from the search-space JSON; records every call."""

    def __init__(self, seed: int = 0, limit: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.limit = limit
        self.calls: list[tuple[Any, ...]] = []
        self.search_space: dict[str, Any] = {}

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        self.calls.append(("update_search_space", search_space))
        self.search_space = search_space

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        if self.limit is not None and parameter_id >= self.limit:
            raise NoMoreTrialError("budget of the tuner used up")
        self.calls.append(("generate_parameters", parameter_id))
        out: dict[str, Any] = {}
        for label, spec in self.search_space.items():
            if spec["_type"] == "input_choice":
                candidates = spec["_value"]["candidates"]
                n = spec["_value"]["n_chosen"] or self.rng.randint(1, len(candidates))
                idx = sorted(self.rng.sample(range(len(candidates)), n))
                out[label] = {"_value": [candidates[i] for i in idx], "_idx": idx}
            else:
                i = self.rng.randrange(len(spec["_value"]))
                out[label] = {"_value": spec["_value"][i], "_idx": i}
        return out

    def receive_trial_result(
        self, parameter_id: int, parameters: dict[str, Any], value: Any, **kwargs: Any
    ) -> None:
        self.calls.append(("receive_trial_result", parameter_id, parameters, value))

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        self.calls.append(("trial_end", parameter_id, success))

    def import_data(self, data: list[dict[str, Any]]) -> None:
        self.calls.append(("import_data", data))

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss]}

    def load_state_dict(self, state: Any) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


def calls(tuner: RandomTuner, name: str) -> list[tuple[Any, ...]]:
    return [c for c in tuner.calls if c[0] == name]


def model_space() -> SearchSpace:
    return ModelSpace(ScoredNet()).search_space


# -- the format ------------------------------------------------------------------------------------


def test_the_tuner_receives_the_seed_003_search_space() -> None:
    tuner = RandomTuner()
    search = strategy.TunerStrategy(tuner)
    search.attach(model_space())
    (_, received), *_ = calls(tuner, "update_search_space")
    assert received == {
        "width": {"_type": "choice", "_value": [1, 2, 3, 4]},
        "act": {"_type": "layer_choice", "_value": ["relu", "tanh", "id"]},
        "hidden": {"_type": "choice", "_value": [8, 16]},
        "pick": {"_type": "input_choice", "_value": {"candidates": [0, 1], "n_chosen": None}},
    }
    assert tuner.optimize_mode == "maximize"


def test_parameters_round_trip_for_every_sample() -> None:
    space = model_space()
    for sample in space.grid():
        parameters = sample_to_parameters(space, sample)
        assert parameters_to_sample(space, parameters) == sample
        assert parameters["act"] == {
            "_value": sample["act"],
            "_idx": ["relu", "tanh", "id"].index(sample["act"]),
        }
        assert parameters["pick"] == {"_value": sample["pick"], "_idx": sample["pick"]}


def test_parameters_accept_the_guide_spellings_and_plain_values() -> None:
    space = model_space()
    params = {
        "width": {"_idx": 2},  # the value follows from the index
        "act": {"_value": "tanh"},  # the index follows from the value
        "hidden": 16,  # a plain value, as HPO tuners return
        "pick": {"_value": [1], "_idex": [1]},  # the guide's "_idex"
    }
    assert parameters_to_sample(space, params) == {
        "width": 3,
        "act": "tanh",
        "hidden": 16,
        "pick": [1],
    }


GOOD = {
    "width": {"_value": 2, "_idx": 1},
    "act": {"_value": "relu", "_idx": 0},
    "hidden": {"_value": 8, "_idx": 0},
    "pick": {"_value": [0, 1], "_idx": [0, 1]},
}


@pytest.mark.parametrize(
    ("label", "entry", "message"),
    [
        ("width", {"_value": 3, "_idx": 1}, "does not match"),
        ("width", {"_idx": 7}, r"0\.\.3"),
        ("width", {"_idx": "1"}, "_idx"),
        ("act", {"_value": "gelu"}, "not a candidate"),
        ("act", {"nothing": 1}, "malformed"),
        ("hidden", 12, "not a candidate"),
        ("pick", {"_idx": [0, 0]}, "not valid"),
        ("pick", {"_idx": [0], "_value": [1]}, "does not match"),
        ("pick", {"_value": "both"}, "not valid"),
    ],
)
def test_malformed_parameters_name_the_label(label: str, entry: Any, message: str) -> None:
    params = {**GOOD, label: entry}
    with pytest.raises(SampleError, match=message) as info:
        parameters_to_sample(model_space(), params)
    assert repr(label) in str(info.value)


def test_missing_and_unknown_labels_are_named() -> None:
    space = model_space()
    with pytest.raises(SampleError, match="'hidden'"):
        parameters_to_sample(space, {k: v for k, v in GOOD.items() if k != "hidden"})
    with pytest.raises(SampleError, match="'depth'"):
        parameters_to_sample(space, {**GOOD, "depth": {"_idx": 0}})
    with pytest.raises(SampleError, match="dict"):
        parameters_to_sample(space, [1, 2])


def test_a_malformed_tuner_fails_the_ask_naming_the_label() -> None:
    class Broken(RandomTuner):
        def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
            params = super().generate_parameters(parameter_id)
            params["act"] = {"_value": "relu", "_idx": 2}
            return params

    search = strategy.TunerStrategy(Broken())
    search.attach(model_space())
    with pytest.raises(SampleError, match="'act'"):
        search.ask()


# -- the calls --------------------------------------------------------------------------------------


def test_results_and_trial_ends_reach_the_tuner() -> None:
    tuner = RandomTuner(seed=1)
    search = strategy.TunerStrategy(tuner)
    space = small_space()
    search.attach(space)
    for trial_id in range(6):
        sample = search.ask()
        assert sample is not None
        if trial_id == 2:
            search.tell(TrialResult(trial_id, sample, "FAILED", None))
        else:
            search.tell(TrialResult(trial_id, sample, "SUCCEEDED", score(sample)))
    generated = [c[1] for c in calls(tuner, "generate_parameters")]
    assert generated == [0, 1, 2, 3, 4, 5]
    received = calls(tuner, "receive_trial_result")
    assert [c[1] for c in received] == [0, 1, 3, 4, 5]
    for _, _, parameters, value in received:
        assert value == score(parameters_to_sample(space, parameters))
    assert [c[1:] for c in calls(tuner, "trial_end")] == [
        (0, True),
        (1, True),
        (2, False),
        (3, True),
        (4, True),
        (5, True),
    ]
    order = [c[0] for c in tuner.calls if c[0] != "generate_parameters"]
    assert order[1:3] == ["receive_trial_result", "trial_end"]


def test_no_more_trial_error_ends_the_search() -> None:
    search = strategy.TunerStrategy(RandomTuner(limit=3))
    search.attach(small_space())
    asked = [search.ask() for _ in range(4)]
    assert asked[3] is None and all(asked[:3])
    assert search.exhausted and "no more parameters" in search.exhausted_reason


def test_dedup_answers_repeats_without_running_them() -> None:
    tuner = RandomTuner(seed=2)
    search = strategy.TunerStrategy(tuner, dedup=True)
    space = small_space()
    search.attach(space)
    seen = []
    for trial_id in range(100):
        sample = search.ask()
        if sample is None:
            break
        seen.append(sample_key(sample))
        search.tell(TrialResult(trial_id, sample, "SUCCEEDED", score(sample)))
    assert len(seen) == 18 == len(set(seen))
    assert search.exhausted
    # every generated parameter id got exactly one trial_end, repeats included
    ends = [c[1] for c in calls(tuner, "trial_end")]
    assert sorted(ends) == sorted(set(ends))
    assert len(calls(tuner, "generate_parameters")) > 18
    assert len(ends) >= len(calls(tuner, "generate_parameters")) - 1


def test_model_filter_ends_rejected_parameters() -> None:
    tuner = RandomTuner(seed=3)
    search = strategy.TunerStrategy(tuner, model_filter=lambda s: s["a"] != 0)
    search.attach(small_space())
    for trial_id in range(10):
        sample = search.ask()
        assert sample is not None and sample["a"] != 0
        search.tell(TrialResult(trial_id, sample, "SUCCEEDED", score(sample)))
    ended = {c[1]: c[2] for c in calls(tuner, "trial_end")}
    generated = [c[1] for c in calls(tuner, "generate_parameters")]
    assert set(ended) == set(generated)
    assert list(ended.values()).count(False) == len(generated) - 10


def test_resume_imports_the_past_and_restores_the_tuner() -> None:
    space = small_space()

    def drive(search: strategy.TunerStrategy, start: int, n: int) -> list[TrialResult]:
        out = []
        for trial_id in range(start, start + n):
            sample = search.ask()
            assert sample is not None
            result = TrialResult(trial_id, sample, "SUCCEEDED", score(sample))
            search.tell(result)
            out.append(result)
        return out

    full_search = strategy.TunerStrategy(RandomTuner(seed=4))
    full_search.attach(space)
    full = drive(full_search, 0, 12)

    first = strategy.TunerStrategy(RandomTuner(seed=4))
    first.attach(space)
    before = drive(first, 0, 5)
    state = json_round_trip(first.state_dict())

    tuner = RandomTuner(seed=99)  # a fresh process: the saved state decides, not the seed
    again = strategy.TunerStrategy(tuner)
    again.attach(space)
    for result in before:
        again.mark_seen(result.sample)
        again.tell(result)
    again.load_state_dict(state)
    after = drive(again, 5, 7)
    assert [sample_key(r.sample) for r in before + after] == [sample_key(r.sample) for r in full]
    imported = calls(tuner, "import_data")
    assert len(imported) == 5
    assert imported[0][1] == [
        {"parameter": sample_to_parameters(space, before[0].sample), "value": before[0].value}
    ]
    assert [c[1] for c in calls(tuner, "generate_parameters")] == list(range(5, 12))


def test_resume_ends_a_trial_that_ended_after_the_save() -> None:
    space = small_space()
    first = strategy.TunerStrategy(RandomTuner(seed=6))
    first.attach(space)
    sample = first.ask()
    assert sample is not None
    state = json_round_trip(first.state_dict())  # saved at submit; then canceled (time ran out)

    tuner = RandomTuner(seed=6)
    again = strategy.TunerStrategy(tuner)
    again.attach(space)
    again.mark_seen(sample)
    again.tell(TrialResult(1, sample, "CANCELED", None))
    again.load_state_dict(state)
    assert calls(tuner, "trial_end") == [("trial_end", 0, False)]
    assert again.pending == {}


def test_a_tuner_needs_the_three_methods() -> None:
    with pytest.raises(TypeError, match="update_search_space"):
        strategy.TunerStrategy(object())


# -- end to end --------------------------------------------------------------------------------------


def test_tuner_strategy_in_an_experiment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="retiarii")
    tuner = RandomTuner(seed=5)
    config = RetiariiExeConfig("local")
    config.execution = "inprocess"
    config.max_trial_number = 12
    config.experiment_working_directory = str(tmp_path)
    exp = RetiariiExperiment(
        ScoredNet(),
        FunctionalEvaluator(report_score, fail_width=1),
        None,
        strategy.TunerStrategy(tuner, dedup=True),
    )
    exp.run(config)
    trials = exp.list_trial_jobs()
    assert len(trials) == 12 == len({sample_key(t.sample) for t in trials})
    space = model_space()
    received = {c[1]: c[3] for c in calls(tuner, "receive_trial_result")}
    for trial in trials:
        if trial.sample["width"] == 1:
            assert trial.status == "FAILED"
        else:
            assert trial.final_value in received.values()
    for _, _, parameters, value in calls(tuner, "receive_trial_result"):
        assert space.contains(parameters_to_sample(space, parameters))
        assert isinstance(value, float)


def test_input_choice_with_fixed_count() -> None:
    space = SearchSpace([Categorical(["a", "b"], label="op"), InputSubset(3, 2, label="in")])
    params = sample_to_parameters(space, {"op": "b", "in": [0, 2]})
    assert params == {"op": {"_value": "b", "_idx": 1}, "in": {"_value": [0, 2], "_idx": [0, 2]}}
    with pytest.raises(SampleError, match="'in'"):
        parameters_to_sample(space, {"op": {"_idx": 0}, "in": {"_idx": [1]}})
