"""Several objectives and constraints through a real experiment (in-process trials)."""

from __future__ import annotations

import json

import pytest

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.config import ConfigError
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.mutable.constraint import InfeasibleConstraintError
from retiarii.profiler import NumParamsProfiler, RangeProfilerFilter
from retiarii.store.pareto import pareto_trials

from .helpers import make_config
from .mo_spaces import MoNet, accuracy

OBJECTIVES = {"default": "maximize", "params": "minimize"}


def _experiment(search, constraint=None):
    model = MoNet()
    profiler = NumParamsProfiler(model)
    exp = RetiariiExperiment(
        model,
        FunctionalEvaluator(accuracy),
        strategy=search,
        profilers={"params": profiler},
        constraint=constraint(profiler) if constraint else None,
    )
    return exp, profiler


def test_profiler_objective_front_export_and_store_mark(tmp_path) -> None:
    exp, profiler = _experiment(strategy.GridSearch())
    exp.run(make_config(tmp_path, execution="inprocess", objectives=OBJECTIVES))
    trials = exp.list_trial_jobs()
    assert len(trials) == 8
    for t in trials:  # the profiler's value is in every final metric, the evaluator's kept
        assert t.final["params"] == profiler.profile(t.sample) == 5 * t.sample["width"]
        assert t.final["width"] == t.sample["width"]
    front = exp.export_top_models()
    # Tanh dominates ReLU at equal width (same params, better accuracy): the front is the Tanhs
    assert sorted((s["width"], s["act"]) for s in front) == [(w, "tanh") for w in (1, 2, 4, 8)]
    assert front[0]["width"] == 8  # ordered by the first objective, best first
    assert len(exp.export_top_models(formatter="instance")) == 4
    assert exp.export_top_models(pareto=False) == [{"width": 8, "act": "tanh"}]
    info = exp.store.experiment().info
    assert sorted(info["pareto_front"]) == sorted(t.id for t in pareto_trials(exp.store))
    assert info["objectives"] == OBJECTIVES
    # the overview's summary of the profiled cost over the space
    assert info["profiled_ranges"]["params"] == {"min": 5.0, "max": 40.0, "samples": 200}


@pytest.mark.parametrize(
    "make",
    [
        lambda: strategy.MultiObjectiveEvolution(population_size=3, sample_size=2, seed=0),
        lambda: strategy.NSGAII(population_size=3, seed=0),
        lambda: strategy.MultiObjectiveTPE(n_startup_trials=3, seed=0),
    ],
    ids=["MultiObjectiveEvolution", "NSGAII", "MultiObjectiveTPE"],
)
def test_multi_objective_strategy_takes_config_objectives(tmp_path, make) -> None:
    search = make()
    exp, _ = _experiment(search)
    exp.run(make_config(tmp_path, execution="inprocess", objectives=OBJECTIVES, max_trial_number=6))
    assert search.objectives is not None and search.objectives.directions == OBJECTIVES
    assert len(exp.list_trial_jobs()) == 6


def test_contradicting_objectives_raise(tmp_path) -> None:
    exp, _ = _experiment(strategy.NSGAII(objectives={"default": "maximize"}))
    with pytest.raises(ValueError, match=r"config\.objectives"):
        exp.run(make_config(tmp_path, execution="inprocess", objectives=OBJECTIVES))


def test_bad_objectives_are_a_config_error(tmp_path) -> None:
    exp, _ = _experiment(strategy.Random())
    with pytest.raises(ConfigError, match="objective 'params'"):
        exp.run(make_config(tmp_path, execution="inprocess", objectives={"params": "smallest"}))


def test_constraint_keeps_every_trial_inside(tmp_path) -> None:
    exp, _ = _experiment(
        strategy.Random(dedup=True, seed=0), lambda p: RangeProfilerFilter(p, max=20)
    )
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=20))
    trials = exp.list_trial_jobs()
    assert {t.sample["width"] for t in trials} == {1, 2, 4}  # width 8 has 40 parameters
    assert all(t.status == "SUCCEEDED" for t in trials)
    assert len(trials) == 6


def test_empty_constraint_fails_before_any_trial(tmp_path) -> None:
    exp, _ = _experiment(strategy.Random(seed=0), lambda p: RangeProfilerFilter(p, max=3))
    with pytest.raises(InfeasibleConstraintError, match=r"no architecture.*5 to 40"):
        exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=5))
    assert exp.list_trial_jobs() == []


def test_bad_profilers_and_constraint_are_refused() -> None:
    with pytest.raises(TypeError, match="profile"):
        RetiariiExperiment(MoNet(), FunctionalEvaluator(accuracy), profilers={"params": 3})
    with pytest.raises(TypeError, match="'default'"):
        RetiariiExperiment(
            MoNet(),
            FunctionalEvaluator(accuracy),
            profilers={"default": NumParamsProfiler(MoNet())},
        )
    with pytest.raises(TypeError, match="constraint"):
        RetiariiExperiment(MoNet(), FunctionalEvaluator(accuracy), constraint=5)


def test_cli_export_pareto(tmp_path, capsys) -> None:
    from retiarii.cli import main

    exp, _ = _experiment(strategy.GridSearch())
    exp.run(make_config(tmp_path, execution="inprocess", objectives=OBJECTIVES))
    directory = str(exp.experiment_dir)
    exp.close()
    assert main(["export", directory, "--pareto"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["objectives"] == OBJECTIVES
    assert [e["objectives"]["params"] for e in data["top"]] == [40, 20, 10, 5]


def test_resume_keeps_profilers_constraint_and_objectives(tmp_path) -> None:
    search = strategy.MultiObjectiveEvolution(population_size=2, sample_size=1, seed=0)
    exp, _ = _experiment(search, lambda p: RangeProfilerFilter(p, max=20))
    exp.run(make_config(tmp_path, execution="inprocess", objectives=OBJECTIVES, max_trial_number=3))
    directory = exp.experiment_dir
    exp.close()
    config = make_config(tmp_path, execution="inprocess", objectives=OBJECTIVES, max_trial_number=6)
    resumed = RetiariiExperiment.resume(directory, config=config)
    trials = resumed.list_trial_jobs()
    assert len(trials) == 6
    assert all(t.final["params"] <= 20 for t in trials)  # profiled, and inside the constraint
    assert len({json.dumps(t.sample, sort_keys=True) for t in trials}) == 6
    assert sorted(resumed.store.experiment().info["pareto_front"]) == sorted(
        t.id for t in pareto_trials(resumed.store)
    )
    resumed.close()
