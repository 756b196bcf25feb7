"""NAS-Bench-201 as a benchmark: the table, the sample <-> arch_str mapping, the evaluator."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import retiarii
import retiarii.strategy as strategy
from retiarii.benchmark import (
    NB201_LABELS,
    NB201_OPS,
    NasBench201Benchmark,
    arch_str_to_sample,
    column_name,
    config_id,
    load_nasbench201,
    sample_to_arch_str,
)
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment
from retiarii.hub.pytorch import NasBench201
from retiarii.mutable import SampleError


@pytest.fixture(scope="module")
def space() -> retiarii.ModelSpace:
    return retiarii.ModelSpace(NasBench201())


def test_mapping_round_trips_for_every_cell_and_matches_the_table(
    space: retiarii.ModelSpace, nb201_path: Path
) -> None:
    table = load_nasbench201(nb201_path)
    assert len(table) == 15625
    assert [row.index for row in table] == list(range(15625))  # rows in NAS-Bench-201 order
    arch_strs = set()
    for sample in space.grid():
        arch = sample_to_arch_str(sample)
        assert arch_str_to_sample(arch) == sample
        row = table.row(arch)
        assert row.arch_str == arch
        assert row.config_id == config_id(sample)  # the table's digits: none=0 ... avg_pool=4
        arch_strs.add(arch)
    assert arch_strs == {row.arch_str for row in table}
    assert tuple(space.labels) == NB201_LABELS


def test_arch_str_convention() -> None:
    sample = dict(zip(NB201_LABELS, (*NB201_OPS, "none")))
    assert sample_to_arch_str(sample) == (
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    )
    assert config_id(sample) == "012340"


@pytest.mark.parametrize(
    "bad",
    [
        "|none~0|+|none~0|none~1|",
        "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "none~0+none~0|none~1+none~0|none~1|none~2",
    ],
)
def test_bad_arch_strs_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a NAS-Bench-201 arch_str"):
        arch_str_to_sample(bad)


def test_bad_samples_name_the_label() -> None:
    good = dict.fromkeys(NB201_LABELS, "none")
    with pytest.raises(SampleError, match="'cell/1_2'"):
        sample_to_arch_str({**good, "cell/1_2": "conv_3x3"})
    with pytest.raises(SampleError, match="'cell/2_3'"):
        sample_to_arch_str({k: v for k, v in good.items() if k != "cell/2_3"})
    with pytest.raises(SampleError, match="unknown"):
        sample_to_arch_str({**good, "depth": 3})


def test_table_values_and_published_optima(nb201_path: Path) -> None:
    table = load_nasbench201(nb201_path)
    assert load_nasbench201(nb201_path) is table  # loaded once per process
    best = max(table, key=lambda row: row["test200_cifar10"])
    assert (best.index, best["test200_cifar10"]) == (6111, pytest.approx(94.373333))
    assert max(r["test200_cifar100"] for r in table) == pytest.approx(73.513333)
    assert max(r["test200_imagenet16"] for r in table) == pytest.approx(47.311111)
    with pytest.raises(KeyError, match="no column"):
        table.rows[0]["accuracy"]


def test_column_names() -> None:
    assert column_name("cifar10") == "val200_cifar10valid"
    assert column_name("cifar100", "test") == "test200_cifar100"
    assert column_name("imagenet16", "valid", 12) == "imagenet16_val_12ep"
    with pytest.raises(ValueError, match="dataset"):
        column_name("mnist")
    with pytest.raises(ValueError, match="epochs"):
        column_name("cifar10", "valid", 100)


def test_evaluator_looks_up_samples_and_frozen_networks(
    space: retiarii.ModelSpace, nb201_path: Path
) -> None:
    table = load_nasbench201(nb201_path)
    row = table.rows[6111]
    sample = arch_str_to_sample(row.arch_str)
    for dataset in ("cifar10", "cifar100", "imagenet16"):
        for metric in ("valid", "test"):
            for epochs in (200, 12):
                evaluator = NasBench201Benchmark(dataset, metric, epochs, path=nb201_path)
                expected = row[column_name(dataset, metric, epochs)]
                assert evaluator.evaluate_sample(sample) == expected
    evaluator = NasBench201Benchmark("cifar100", path=nb201_path)
    small = retiarii.ModelSpace(NasBench201(stem_out_channels=2, num_modules_per_stack=1))
    assert evaluator.evaluate(small.freeze(sample)) == row["val200_cifar100"]
    assert evaluator.query(row.arch_str, "test200_cifar100") == row["test200_cifar100"]
    with pytest.raises(TypeError, match="NasBench201"):
        evaluator.evaluate(object())


def test_missing_table_says_where_to_put_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nb201_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "nb201.csv.gz"
    with pytest.raises(FileNotFoundError) as info:
        NasBench201Benchmark("cifar10", path=missing)
    message = str(info.value)
    assert str(missing) in message and "RETIARII_NB201" in message and "path=" in message
    monkeypatch.setenv("RETIARII_NB201", str(missing))
    with pytest.raises(FileNotFoundError, match=r"\$RETIARII_NB201"):
        load_nasbench201()
    monkeypatch.setenv("RETIARII_NB201", str(nb201_path))
    assert len(NasBench201Benchmark("cifar10").table) == 15625
    monkeypatch.delenv("RETIARII_NB201")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"\.cache/retiarii/nb201\.csv\.gz"):
        load_nasbench201()


def test_experiment_looks_up_without_building_networks(
    tmp_path: Path,
    nb201_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="retiarii")

    def no_build(self: object, sample: object) -> None:
        raise AssertionError("a lookup evaluator needs no network")

    monkeypatch.setattr(retiarii.ModelSpace, "build", no_build)
    config = RetiariiExeConfig("local")
    config.execution = "inprocess"
    config.max_trial_number = 40
    config.experiment_working_directory = str(tmp_path)
    evaluator = NasBench201Benchmark("cifar10", path=nb201_path)
    exp = RetiariiExperiment(NasBench201(), evaluator, None, strategy.LocalSearch(seed=0))
    exp.run(config)
    trials = exp.list_trial_jobs()
    assert len(trials) == 40 and all(t.status == "SUCCEEDED" for t in trials)
    table = load_nasbench201(nb201_path)
    for trial in trials:
        assert trial.final_value == table.query(trial.sample, "val200_cifar10valid")
    best = exp.export_top_models(1)[0]
    assert table.query(best, "val200_cifar10valid") == max(t.final_value for t in trials)


def test_two_fidelities_and_simulated_cost_under_a_pruner(tmp_path: Path, nb201_path: Path) -> None:
    from retiarii.experiment import SuccessiveHalving

    config = RetiariiExeConfig("local")
    config.execution = "inprocess"
    config.max_trial_number = 30
    config.experiment_working_directory = str(tmp_path)
    evaluator = NasBench201Benchmark("cifar100", path=nb201_path)
    pruner = SuccessiveHalving(min_resource=1, reduction_factor=3, max_resource=2)
    exp = RetiariiExperiment(NasBench201(), evaluator, None, strategy.Random(seed=0), pruner=pruner)
    exp.run(config)
    table = load_nasbench201(nb201_path)
    trials = exp.list_trial_jobs()
    statuses = {t.status for t in trials}
    assert statuses == {"SUCCEEDED", "EARLY_STOPPED"} and len(trials) == 30
    for trial in trials:
        row = table.row(trial.sample)
        [low] = exp.store.intermediates(trial.id)
        assert low.value == {
            "default": row["cifar100_val_12ep"],
            "epochs": 12,
            "cost_s": row["traintime200_cifar100"] * (12 / 200),
        }
        if trial.status == "EARLY_STOPPED":
            assert trial.final == low.value  # pruned after 12 epochs: 12 epochs of cost
        else:
            assert trial.final == {
                "default": row["val200_cifar100"],
                "epochs": 200,
                "cost_s": row["traintime200_cifar100"],
            }
