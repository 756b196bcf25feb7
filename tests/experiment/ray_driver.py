"""``python -m experiment.ray_driver WHAT WORKDIR``: experiments on Ray, run as a subprocess.

Run from the tests directory (or with it on PYTHONPATH), with the environment of
``raytools.subprocess_env`` so that the Ray instance the experiment starts keeps its files in a
temporary folder and every process of it carries the test's marker.

* ``quickstart``: seed 002's quick start, with ``RetiariiExeConfig('ray')`` as the only change;
  prints the exported models as the last line (JSON).
* ``resume-me``: eight trials of a second each, to be interrupted with Ctrl-C.
* ``resume``: ``RetiariiExperiment.resume(WORKDIR)``, which continues on Ray.
* ``kill-me``: trials of a minute each, for the driver to be SIGKILLed while they run.
"""

from __future__ import annotations

import json
import sys

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

from .spaces import DigitsNet, WideNet, fit_digits, sleepy_width

MAX_TRIALS = 8


def quickstart(working_dir: str) -> None:
    base_model = DigitsNet()
    trainer = FunctionalEvaluator(fit_digits, epochs=5)
    simple_strategy = strategy.Random(dedup=True)
    # -- the seed's code from here, with 'ray' for 'local' --
    exp = RetiariiExperiment(base_model, trainer, None, simple_strategy)
    exp_config = RetiariiExeConfig("ray")
    exp_config.experiment_name = "mnasnet_search"
    exp_config.trial_concurrency = 2
    exp_config.max_trial_number = 4
    exp_config.training_service.use_active_gpu = False
    exp_config.experiment_working_directory = working_dir  # keep the test's files in its folder
    exp.run(exp_config, 0)
    print(json.dumps(list(exp.export_top_models(top_k=2, formatter="dict"))))
    exp.close()


def resume_me(working_dir: str, seconds: float = 1.0) -> None:
    exp = RetiariiExperiment(
        WideNet(),
        FunctionalEvaluator(sleepy_width, seconds=seconds),
        None,
        strategy.Random(dedup=True, seed=0),
    )
    config = RetiariiExeConfig("ray", trial_concurrency=2, max_trial_number=MAX_TRIALS)
    config.experiment_working_directory = working_dir
    exp.run(config)
    exp.close()


def kill_me(working_dir: str) -> None:
    resume_me(working_dir, seconds=60.0)


def resume(directory: str) -> None:
    RetiariiExperiment.resume(directory).close()


if __name__ == "__main__":
    modes = {"quickstart": quickstart, "resume-me": resume_me, "kill-me": kill_me, "resume": resume}
    modes[sys.argv[1]](sys.argv[2])
