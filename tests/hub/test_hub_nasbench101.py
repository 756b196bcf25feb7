"""The NAS-Bench-101 model space: NNI's labels, invalid graphs rejected everywhere, frozen cells."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

import retiarii
from retiarii.hub.pytorch import NasBench101
from retiarii.hub.pytorch.nasbench101 import (
    NasBench101FrozenCell,
    compute_vertex_channels,
    prune,
)
from retiarii.mutable import ConstraintViolation
from retiarii.oneshot.pytorch.sampling import PathSamplingSupernet
from retiarii.strategy import Random

SMALL = {"stem_out_channels": 8, "num_stacks": 1, "num_modules_per_stack": 2}


@pytest.fixture(scope="module")
def space() -> retiarii.ModelSpace:
    return retiarii.ModelSpace(NasBench101(**SMALL))


def _sample(num_nodes: int, inputs: dict[int, list[int]], **ops: str) -> dict[str, Any]:
    sample: dict[str, Any] = {"cell/num_nodes": num_nodes}
    for i in range(1, 6):
        sample[f"cell/op_{i}"] = ops.get(f"op_{i}", "conv3x3-bn-relu")
    for i in range(1, 7):
        sample[f"cell/input_{i}"] = inputs.get(i, [0])
    return sample


# the 9 edges of a valid 7-vertex graph; one more edge makes it invalid
NINE = {1: [0], 2: [0, 1], 3: [2], 4: [0, 3], 5: [4], 6: [1, 5]}
TEN = {**NINE, 6: [1, 2, 5]}


def test_labels_are_nnis(space: retiarii.ModelSpace) -> None:
    assert space.labels == [
        "cell/num_nodes",
        *(f"cell/op_{i}" for i in range(1, 6)),
        *(f"cell/input_{i}" for i in range(1, 7)),
    ]
    assert space.to_json()["cell/op_1"]["_value"] == [
        "conv3x3-bn-relu",
        "conv1x1-bn-relu",
        "maxpool3x3",
    ]
    assert space.to_json()["cell/num_nodes"]["_value"] == [2, 3, 4, 5, 6, 7]


def test_a_graph_with_too_many_edges_is_rejected_naming_the_problem(
    space: retiarii.ModelSpace,
) -> None:
    space.validate(_sample(7, NINE))
    message = r"'cell'.*10 edges, more than max_num_edges=9"
    with pytest.raises(ConstraintViolation, match=message):
        space.validate(_sample(7, TEN))
    with pytest.raises(ConstraintViolation, match=message):
        space.freeze(_sample(7, TEN))
    with pytest.raises(ConstraintViolation, match=message):
        space.build(_sample(7, TEN))  # what a trial's worker runs: the trial fails with this
    with (
        pytest.raises(ConstraintViolation, match=message),
        retiarii.fixed_arch(_sample(7, TEN), verbose=False),
    ):
        NasBench101(**SMALL)
    assert not space.search_space.contains(_sample(7, TEN))
    # vertices past num_nodes do not count: the same inputs with 5 vertices have 6 edges
    space.validate(_sample(5, TEN))


def test_an_output_not_connected_to_the_input_is_rejected() -> None:
    # InputChoice never yields an empty input list, so every vertex reaches back to the input;
    # the check still guards hand-made matrices
    matrix = [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="not connected"):
        prune(matrix, ["IN", "op", "OUT"])


def test_dead_vertices_are_pruned_and_channels_split_like_the_benchmark(
    space: retiarii.ModelSpace,
) -> None:
    # vertex 2 feeds nothing but vertex 3 (dead-ended): 1 -> out, 0 -> 2 -> 3, 3 not to out
    sample = _sample(5, {1: [0], 2: [0], 3: [2], 4: [1]})
    cell = space.freeze(sample).features[0]
    assert isinstance(cell, NasBench101FrozenCell)
    assert cell.matrix == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    # three vertices feed an 8-channel output: 3 + 3 + 2, and 1 -> 3 takes the larger of its outputs
    matrix = [
        [0, 1, 1, 0, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    assert compute_vertex_channels(8, 8, matrix) == [8, 3, 3, 2, 8]
    frozen = NasBench101FrozenCell(
        [lambda c: torch.nn.Conv2d(c, c, 1)] * 3,
        matrix,
        4,
        8,
        lambda i, o: torch.nn.Conv2d(i, o, 1),
    )
    assert frozen(torch.zeros(1, 4, 5, 5)).shape == (1, 8, 5, 5)


def test_random_samples_and_the_random_strategy_skip_invalid_graphs(
    space: retiarii.ModelSpace,
) -> None:
    samples = [space.random(seed=seed) for seed in range(50)]
    assert any(s["cell/num_nodes"] == 7 for s in samples)
    for sample in samples:
        space.validate(sample)  # never raises: random() rejects graphs over the edge limit
    strategy = Random(seed=0)
    strategy.attach(space.search_space)
    for _ in range(20):
        proposed = strategy.ask()
        assert proposed is not None
        space.validate(proposed)


def test_a_model_filter_skips_what_other_strategies_propose(space: retiarii.ModelSpace) -> None:
    class Proposes(Random):
        def propose(self) -> dict[str, Any]:
            return _sample(7, TEN) if self.rng.random() < 0.5 else _sample(7, NINE)

    strategy = Proposes(seed=0, dedup=False, model_filter=space.search_space.contains)
    strategy.attach(space.search_space)
    assert all(strategy.ask() == _sample(7, NINE) for _ in range(10))


def test_path_sampling_draws_valid_graphs_and_freezes_them() -> None:
    torch.manual_seed(0)
    model = NasBench101(**SMALL)
    supernet = PathSamplingSupernet(model)
    space = retiarii.ModelSpace(model)
    rng = random.Random(0)
    for _ in range(20):
        supernet.random(rng)
        sample = supernet.sample()
        space.validate(sample)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    frozen = space.freeze(supernet.sample())
    assert frozen(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    with pytest.raises(ConstraintViolation, match="max_num_edges"):
        supernet.set_sample(_sample(7, TEN))
        model(torch.randn(1, 3, 8, 8))


def test_spos_evolution_over_the_supernet_explores_only_valid_graphs() -> None:
    # SPOS's search phase is an ordinary RegularizedEvolution over the supernet's space, whose
    # constraints (the edge limit) it must respect when it mutates
    from retiarii.oneshot.pytorch.algorithms import RandomOneShot as SposAlgorithm
    from retiarii.strategy import RandomOneShot, RegularizedEvolution, TrialResult

    algorithm = SposAlgorithm(RandomOneShot())
    algorithm.attach(NasBench101(**SMALL))
    full = retiarii.ModelSpace(NasBench101(**SMALL))
    search = RegularizedEvolution(population_size=10, sample_size=3, cycles=30, mutation_prob=0.5)
    search.attach(algorithm.search_space)
    tried: list[dict[str, Any]] = []
    for trial_id in range(1, 31):
        sample = search.ask()
        if sample is None:
            break
        tried.append(sample)
        fitness = float(sample["cell/num_nodes"])  # pushes towards big graphs, near the limit
        search.tell(TrialResult(trial_id, sample, "SUCCEEDED", fitness))
    assert len(tried) > 20
    for sample in tried:
        full.validate(sample)


def _count_params(model: torch.nn.Module) -> None:
    retiarii.report_final_result(float(sum(p.numel() for p in model.parameters())))


class _InvalidFirst(Random):
    """Proposes a graph over the edge limit first, then random (valid) ones."""

    def propose(self) -> dict[str, Any]:
        if not getattr(self, "_proposed_invalid", False):
            self._proposed_invalid = True
            return _sample(7, TEN)
        return super().propose()


def test_in_an_experiment_an_invalid_graph_is_never_run(tmp_path: Path) -> None:
    # every strategy draws again when a proposal breaks the space's rules (BaseStrategy.ask)
    from retiarii.evaluator import FunctionalEvaluator
    from retiarii.experiment import RetiariiExeConfig, RetiariiExperiment

    exp = RetiariiExperiment(
        NasBench101(stem_out_channels=4, num_stacks=1, num_modules_per_stack=1),
        FunctionalEvaluator(_count_params),
        None,
        _InvalidFirst(seed=0),
    )
    config = RetiariiExeConfig("local", trial_concurrency=1, max_trial_number=3)
    config.experiment_working_directory = str(tmp_path)
    exp.run(config)
    trials = exp.list_trial_jobs()
    assert [t.status for t in trials] == ["SUCCEEDED"] * 3
    assert all(t.sample != _sample(7, TEN) for t in trials)
