"""RetiariiExeConfig validation and the constructor's argument checks (no processes)."""

from __future__ import annotations

import sys

import pytest
import torch

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.config import parse_duration
from retiarii.experiment.pytorch import ConfigError, RetiariiExeConfig, RetiariiExperiment

from .helpers import make_config
from .spaces import TinyNet, score_tiny


def _experiment() -> RetiariiExperiment:
    return RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny), None, strategy.Random())


def test_misspelled_field_names_it_and_suggests_the_right_one() -> None:
    config = RetiariiExeConfig("local")
    with pytest.raises(ConfigError) as info:
        config.max_trial_numbr = 3  # type: ignore[attr-defined]
    message = str(info.value)
    assert "'max_trial_numbr'" in message
    assert "'max_trial_number'" in message
    assert config.max_trial_number is None


def test_misspelled_keyword_and_training_service_field() -> None:
    with pytest.raises(ConfigError, match="trial_concurrency"):
        RetiariiExeConfig("local", trial_concurency=2)
    config = RetiariiExeConfig("local")
    with pytest.raises(ConfigError, match="use_active_gpu"):
        config.training_service.use_activ_gpu = False  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="fields are"):
        config.zzzzzz = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("trial_concurrency", 0, "trial_concurrency"),
        ("trial_concurrency", -1, "trial_concurrency"),
        ("trial_concurrency", True, "trial_concurrency"),
        ("trial_concurrency", 1.5, "trial_concurrency"),
        ("max_trial_number", 0, "max_trial_number"),
        ("trial_gpu_number", -1, "trial_gpu_number"),
        ("max_experiment_duration", "10 minutes", "max_experiment_duration"),
        ("max_experiment_duration", "-5m", "max_experiment_duration"),
        ("max_experiment_duration", 0, "max_experiment_duration"),
        ("trial_timeout", "soon", "trial_timeout"),
        ("execution", "thread", "execution"),
        ("optimize_mode", "max", "optimize_mode"),
        ("experiment_name", 42, "experiment_name"),
        ("trial_cpu_number", 0, "trial_cpu_number"),
        ("trial_cpu_number", "2", "trial_cpu_number"),
        ("max_trial_retries", -1, "max_trial_retries"),
        ("max_trial_retries", 0.5, "max_trial_retries"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(
    tmp_path, field: str, value: object, named: str
) -> None:
    config = make_config(tmp_path, **{field: value})
    with pytest.raises(ConfigError, match=named):
        config.validate()
    # run() validates before it creates anything
    with pytest.raises(ConfigError, match=named):
        _experiment().run(config)
    assert list(tmp_path.iterdir()) == []


def test_bad_duration_message_shows_the_accepted_forms() -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration("10 minutes", "max_experiment_duration")
    assert "'10 minutes'" in str(info.value)
    assert "10m" in str(info.value)


@pytest.mark.parametrize("field", ["max_experiment_duration", "trial_timeout"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinite_durations_are_refused(field: str, value: float, tmp_path) -> None:
    config = RetiariiExeConfig("local", experiment_working_directory=str(tmp_path))
    setattr(config, field, value)
    with pytest.raises(ConfigError, match=f"{field}: must be a finite duration.*None"):
        config.validate()
    with pytest.raises(ConfigError, match=field):
        _experiment().run(config)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("2h", 7200), ("1.5d", 129600), ("45", 45), (7, 7), (0.5, 0.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds  # type: ignore[arg-type]
    assert parse_duration(None) is None


def test_wrong_platform_is_refused(tmp_path) -> None:
    config = RetiariiExeConfig("remote")
    config.experiment_working_directory = str(tmp_path)
    with pytest.raises(ConfigError, match=r"platform.*'remote'.*'local', 'ray'"):
        config.validate()
    with pytest.raises(ConfigError, match="platform"):
        _experiment().run(config)


def test_ray_config_takes_its_fields_as_keywords_and_round_trips() -> None:
    config = RetiariiExeConfig(
        "ray", ray_address="auto", ray_init_args={"num_cpus": 4}, trial_cpu_number=2
    )
    config.validate()
    assert config.training_service.platform == "ray"
    assert config.training_service.ray_address == "auto"
    assert config.training_service.ray_init_args == {"num_cpus": 4}
    assert RetiariiExeConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (RetiariiExeConfig("local", ray_address="auto"), r"ray_address is only used with.*'ray'"),
        (RetiariiExeConfig("ray", ray_address=""), "ray_address"),
        (RetiariiExeConfig("ray", ray_init_args=["num_cpus"]), "ray_init_args"),
        (RetiariiExeConfig("ray", gpu_indices=[0]), r"gpu_indices.*trial_gpu_number"),
        (RetiariiExeConfig("ray", execution="inprocess"), r"inprocess.*'ray'"),
    ],
)
def test_bad_ray_settings_are_refused_naming_the_field(
    tmp_path, config: RetiariiExeConfig, named: str
) -> None:
    config.experiment_working_directory = str(tmp_path)
    with pytest.raises(ConfigError, match=named):
        config.validate()
    with pytest.raises(ConfigError, match=named):
        _experiment().run(config)
    assert list(tmp_path.iterdir()) == []


def test_platform_set_after_construction_is_followed(tmp_path) -> None:
    config = make_config(tmp_path)
    config.training_service_platform = "ray"
    config.validate()
    assert config.training_service.platform == "ray"


def test_bad_training_service_values(tmp_path) -> None:
    config = make_config(tmp_path)
    config.training_service.use_active_gpu = "yes"
    with pytest.raises(ConfigError, match="use_active_gpu"):
        config.validate()
    config = make_config(tmp_path)
    config.training_service.gpu_indices = [0, -1]
    with pytest.raises(ConfigError, match="gpu_indices"):
        config.validate()


def test_config_round_trips_through_a_dict() -> None:
    config = RetiariiExeConfig(
        "local", experiment_name="x", trial_concurrency=3, max_experiment_duration="2h"
    )
    config.training_service.use_active_gpu = True
    config.training_service.gpu_indices = [1, 2]
    again = RetiariiExeConfig.from_dict(config.to_dict())
    assert again == config
    assert again.duration_seconds == 7200
    with pytest.raises(ConfigError, match="max_trial_number"):
        RetiariiExeConfig.from_dict({**config.to_dict(), "max_trial_numbr": 1})


def test_run_refuses_something_that_is_not_a_config(tmp_path) -> None:
    with pytest.raises(ConfigError, match="RetiariiExeConfig"):
        _experiment().run({"trial_concurrency": 2})  # type: ignore[arg-type]


def test_base_model_class_instead_of_instance_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="instance"):
        RetiariiExperiment(TinyNet, FunctionalEvaluator(score_tiny), None, strategy.Random())


def test_other_constructor_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="evaluator"):
        RetiariiExperiment(TinyNet())
    with pytest.raises(TypeError, match="strategy"):
        RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny), None, "random")
    exp = RetiariiExperiment(TinyNet(), FunctionalEvaluator(score_tiny))
    assert isinstance(exp.strategy, strategy.Random) and exp.strategy.dedup


def test_non_mutator_in_applied_mutators_is_refused(tmp_path) -> None:
    exp = RetiariiExperiment(
        torch.nn.Linear(2, 2), FunctionalEvaluator(score_tiny), [lambda m: m], strategy.Random()
    )
    with pytest.raises(TypeError, match="Mutator"):
        exp.run(make_config(tmp_path, execution="inprocess"))


def test_results_before_run() -> None:
    exp = _experiment()
    assert exp.get_status() == "INITIALIZED"
    with pytest.raises(RuntimeError, match="run"):
        exp.export_top_models()
    with pytest.raises(RuntimeError, match="run"):
        exp.list_trial_jobs()


def test_ray_platform_without_ray_installed_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    config = make_config(tmp_path)
    config.training_service_platform = "ray"
    with pytest.raises(ConfigError, match=r"-m pip install -e .*\[ray\]"):
        _experiment().run(config)
    assert list(tmp_path.iterdir()) == []


def test_install_hints_work_as_written_from_a_clone() -> None:
    # retiarii is not on a package index: a hint must name this interpreter and the clone
    import shlex
    from pathlib import Path

    import tomllib

    from retiarii._install import install_command

    argv = shlex.split(install_command("dashboard"))
    assert argv[:5] == [sys.executable, "-m", "pip", "install", "-e"]
    source, extra = argv[5].rsplit("[", 1)
    pyproject = tomllib.loads((Path(source) / "pyproject.toml").read_text())
    assert extra == "dashboard]"
    assert "dashboard" in pyproject["project"]["optional-dependencies"]


def test_absurd_concurrency_warns() -> None:
    config = RetiariiExeConfig("local", trial_concurrency=10_000)
    with pytest.warns(UserWarning, match="trial_concurrency=10000 starts that many worker"):
        config.validate()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RetiariiExeConfig("local", trial_concurrency=2).validate()  # a sensible one is quiet


@pytest.mark.parametrize(
    ("text", "size"),
    [("100MB", 100 * 2**20), ("4GB", 4 * 2**30), ("512k", 512 * 1024), (2048, 2048), (None, None)],
)
def test_sizes(text: object, size: int | None) -> None:
    from retiarii.experiment.config import parse_size

    assert parse_size(text, "trial_log_limit") == size  # type: ignore[arg-type]


def test_bad_log_limits_are_refused() -> None:
    for bad in ("100 parsecs", "-1", 0, "lots"):
        config = RetiariiExeConfig("local", trial_log_limit=bad)
        with pytest.raises(ConfigError, match="trial_log_limit"):
            config.validate()
    assert RetiariiExeConfig("local").log_limit_bytes == 100 * 2**20
    assert RetiariiExeConfig("local", trial_log_limit=None).log_limit_bytes == 0


def test_worker_isolation_settings_are_validated() -> None:
    for name, bad in (("max_trials_per_worker", 0), ("trial_memory_limit", "lots")):
        config = RetiariiExeConfig("local", **{name: bad})
        with pytest.raises(ConfigError, match=name):
            config.validate()
    config = RetiariiExeConfig("local", trial_memory_limit="4GB", max_trials_per_worker=1)
    config.validate()
    assert config.memory_limit_bytes == 4 * 2**30


def test_a_fresh_worker_per_trial(tmp_path) -> None:
    from .spaces import TinyNet, report_pid

    exp = RetiariiExperiment(TinyNet(), FunctionalEvaluator(report_pid), None, strategy.Random())
    exp.run(make_config(tmp_path, max_trial_number=3, max_trials_per_worker=1))
    pids = [t.final for t in exp.store.trials()]
    assert len(set(pids)) == 3  # NNI's isolation: every trial in its own process
