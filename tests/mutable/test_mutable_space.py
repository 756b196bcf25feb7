"""SearchSpace: exact size, random samples, grid, validation with clear errors, canonical samples,
the NNI JSON format, and samples read from files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from retiarii.mutable import Categorical, InputSubset, SampleError, SearchSpace, load_sample


def _key(sample: dict) -> str:
    return json.dumps(sample, sort_keys=True)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(
        [
            Categorical([16, 32, 64], label="width"),
            Categorical([0.1, 0.5, 1.0], label="dropout"),
            Categorical(["relu", "gelu"], label="act"),
            Categorical([(3, 3), (5, 5)], label="kernel"),
            Categorical([True, False], label="bias"),
            InputSubset(4, 2, label="skip"),
        ]
    )


SPACE_SIZE = 3 * 3 * 2 * 2 * 2 * 6


def _valid(**override: object) -> dict:
    sample = {
        "width": 32,
        "dropout": 0.5,
        "act": "gelu",
        "kernel": [5, 5],
        "bias": False,
        "skip": [0, 3],
    }
    sample.update(override)
    return sample


# -- size, random, grid --------------------------------------------------------------------------


def test_size_is_the_product_of_domains(space: SearchSpace) -> None:
    assert space.size == SPACE_SIZE
    assert len(space) == 6
    assert list(space) == ["width", "dropout", "act", "kernel", "bias", "skip"]


def test_size_of_a_huge_space_is_exact_without_enumerating() -> None:
    space = SearchSpace(Categorical(list(range(7)), label=f"op{i}") for i in range(40))
    assert space.size == 7**40
    assert isinstance(space.size, int)
    # Random sampling works on it too, without enumerating.
    assert space.validate(space.random(0)) == space.random(0)


def test_input_subset_sizes() -> None:
    assert InputSubset(5, 2, label="x").size == 10
    assert InputSubset(5, None, label="y").size == 31
    assert InputSubset(1, 1, label="z").size == 1
    assert list(InputSubset(3, None, label="w").values()) == [
        [0],
        [1],
        [2],
        [0, 1],
        [0, 2],
        [1, 2],
        [0, 1, 2],
    ]


@pytest.mark.parametrize(("n", "k"), [(0, 1), (3, 0), (3, 4), (2.0, 1)])
def test_input_subset_rejects_bad_counts(n: object, k: object) -> None:
    with pytest.raises(ValueError, match="n_c"):
        InputSubset(n, k, label="bad")  # type: ignore[arg-type]


def test_empty_space() -> None:
    space = SearchSpace()
    assert space.size == 1
    assert list(space.grid()) == [{}]
    assert space.random(0) == {}
    assert space.validate({}) == {}


def test_random_is_reproducible_per_seed(space: SearchSpace) -> None:
    assert space.random(7) == space.random(7)
    assert space.random(random.Random(3)) == space.random(3)
    draws = {_key(space.random(seed)) for seed in range(40)}
    assert len(draws) > 20  # not stuck on one sample


def test_random_samples_are_valid_and_canonical(space: SearchSpace) -> None:
    for seed in range(30):
        sample = space.random(seed)
        assert space.validate(sample) == sample
        assert space.contains(sample)


def test_random_covers_every_candidate() -> None:
    space = SearchSpace([Categorical(["a", "b", "c"], label="x"), InputSubset(3, None, label="i")])
    rng = random.Random(0)
    seen_x, seen_i = set(), set()
    for _ in range(300):
        sample = space.random(rng)
        seen_x.add(sample["x"])
        seen_i.add(tuple(sample["i"]))
    assert seen_x == {"a", "b", "c"}
    assert len(seen_i) == 7


def test_grid_yields_every_sample_exactly_once(space: SearchSpace) -> None:
    samples = list(space.grid())
    assert len(samples) == space.size
    assert len({_key(s) for s in samples}) == space.size
    for sample in samples[:: max(1, len(samples) // 25)]:
        assert space.validate(sample) == sample


def test_grid_is_lazy_on_a_huge_space() -> None:
    space = SearchSpace(Categorical([0, 1], label=f"b{i}") for i in range(64))
    first = next(iter(space.grid()))
    assert first == {f"b{i}": 0 for i in range(64)}


# -- validation -----------------------------------------------------------------------------------


def test_validate_returns_the_canonical_sample(space: SearchSpace) -> None:
    canonical = space.validate(_valid())
    assert canonical["kernel"] == [5, 5]  # JSON form: what survives a round trip
    assert canonical["skip"] == [0, 3]


def test_validate_rejects_a_non_dict(space: SearchSpace) -> None:
    with pytest.raises(SampleError, match="dict"):
        space.validate([("width", 32)])


def test_validate_unknown_label_names_it(space: SearchSpace) -> None:
    with pytest.raises(SampleError, match=r"unknown label.*'depth'"):
        space.validate(_valid(depth=3))


def test_validate_missing_label_names_it_and_its_values(space: SearchSpace) -> None:
    sample = _valid()
    del sample["act"]
    with pytest.raises(SampleError, match=r"'act'.*'relu', 'gelu'"):
        space.validate(sample)


def test_validate_value_not_a_candidate(space: SearchSpace) -> None:
    with pytest.raises(SampleError) as info:
        space.validate(_valid(width=48))
    message = str(info.value)
    assert "'width'" in message
    assert "[16, 32, 64]" in message


@pytest.mark.parametrize(
    "skip",
    [[0], [0, 1, 2], [1, 1], [0, 4], [-1, 0], "0,1", [0.0, 1.0], [True, False], None],
    ids=[
        "too-few",
        "too-many",
        "duplicate",
        "out-of-range",
        "negative",
        "string",
        "floats",
        "bools",
        "none",
    ],
)
def test_validate_input_subset_errors(space: SearchSpace, skip: object) -> None:
    with pytest.raises(SampleError, match=r"'skip'.*2 distinct indices in 0\.\.3"):
        space.validate(_valid(skip=skip))


def test_input_subset_is_sorted_and_accepts_a_tuple(space: SearchSpace) -> None:
    assert space.validate(_valid(skip=(3, 1)))["skip"] == [1, 3]


def test_single_input_may_be_given_as_an_int() -> None:
    space = SearchSpace([InputSubset(3, 1, label="i")])
    assert space.validate({"i": 2}) == {"i": [2]}


def test_any_subset_input_choice() -> None:
    space = SearchSpace([InputSubset(3, None, label="i")])
    assert space.validate({"i": [2, 0, 1]}) == {"i": [0, 1, 2]}
    with pytest.raises(SampleError, match="one or more"):
        space.validate({"i": []})


# -- canonicalisation -------------------------------------------------------------------------


def test_int_is_accepted_for_a_float_candidate(space: SearchSpace) -> None:
    canonical = space.validate(_valid(dropout=1))
    assert canonical["dropout"] == 1.0
    assert isinstance(canonical["dropout"], float)


def test_float_is_accepted_for_an_int_candidate(space: SearchSpace) -> None:
    canonical = space.validate(_valid(width=64.0))
    assert canonical["width"] == 64
    assert isinstance(canonical["width"], int)


def test_true_is_not_one_and_one_is_not_true() -> None:
    space = SearchSpace([Categorical([0, 1], label="n"), Categorical([True, False], label="flag")])
    with pytest.raises(SampleError, match="'n'"):
        space.validate({"n": True, "flag": True})
    with pytest.raises(SampleError, match="'flag'"):
        space.validate({"n": 1, "flag": 1})
    assert space.validate({"n": 1, "flag": True}) == {"n": 1, "flag": True}


def test_tuples_and_lists_are_the_same_value(space: SearchSpace) -> None:
    from_list = space.validate(_valid(kernel=[3, 3]))
    from_tuple = space.validate(_valid(kernel=(3, 3)))
    assert from_list == from_tuple
    with pytest.raises(SampleError, match="'kernel'"):
        space.validate(_valid(kernel=[3, 3, 3]))


def test_string_is_not_a_number() -> None:
    space = SearchSpace([Categorical([1, 2], label="n")])
    with pytest.raises(SampleError, match="'n'"):
        space.validate({"n": "1"})


def test_index_chosen_candidates() -> None:
    # Non-JSON candidates are chosen by index; the sample holds the index.
    objects = [object(), object(), object()]
    choice = Categorical(objects, label="obj")
    space = SearchSpace([choice])
    assert list(space.grid()) == [{"obj": 0}, {"obj": 1}, {"obj": 2}]
    assert choice.freeze({"obj": 2}) is objects[2]
    with pytest.raises(SampleError, match=r"'obj'.*\[0, 1, 2\]"):
        space.validate({"obj": 3})
    with pytest.raises(SampleError, match="'obj'"):
        space.validate({"obj": True})


def test_nested_choice_candidates_are_chosen_by_index() -> None:
    inner = Categorical([1, 2], label="inner")
    outer = Categorical([inner, 10], label="outer")
    space = SearchSpace(outer.leaves())
    assert list(space) == ["outer", "inner"]
    assert space.size == 4
    assert sorted(outer.freeze(s) for s in space.grid()) == [1, 2, 10, 10]


# -- JSON ------------------------------------------------------------------------------------------


def test_to_json_is_the_nni_format(space: SearchSpace) -> None:
    spec = space.to_json()
    assert spec["width"] == {"_type": "choice", "_value": [16, 32, 64]}
    assert spec["kernel"] == {"_type": "choice", "_value": [[3, 3], [5, 5]]}
    assert spec["skip"] == {
        "_type": "input_choice",
        "_value": {"candidates": [0, 1, 2, 3], "n_chosen": 2},
    }
    assert json.loads(json.dumps(spec)) == spec


def test_samples_survive_a_json_round_trip(space: SearchSpace) -> None:
    for seed in range(20):
        sample = space.random(seed)
        decoded = json.loads(json.dumps(sample))
        assert space.validate(decoded) == space.validate(sample)


def test_every_grid_sample_survives_a_json_round_trip(space: SearchSpace) -> None:
    for sample in space.grid():
        assert space.validate(json.loads(json.dumps(sample))) == sample


def test_load_sample_passes_a_dict_through() -> None:
    sample = {"a": 1}
    loaded = load_sample(sample)
    assert loaded == sample
    loaded["b"] = 2
    assert "b" not in sample  # a copy


def test_load_sample_from_a_json_file(tmp_path: Path, space: SearchSpace) -> None:
    sample = space.random(1)
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(sample))
    assert space.validate(load_sample(path)) == sample
    assert space.validate(load_sample(str(path))) == sample


@pytest.mark.parametrize("content", ["[1, 2]", '"width"', "3", "null"])
def test_load_sample_rejects_a_file_that_is_not_an_object(tmp_path: Path, content: str) -> None:
    path = tmp_path / "not_a_sample.json"
    path.write_text(content)
    with pytest.raises(SampleError, match=r"not_a_sample\.json"):
        load_sample(path)


def test_load_sample_rejects_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{'width': 3")
    with pytest.raises(SampleError, match=r"broken\.json"):
        load_sample(path)


def test_load_sample_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        load_sample(tmp_path / "missing.json")
