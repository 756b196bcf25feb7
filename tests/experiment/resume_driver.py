"""``python -m experiment.resume_driver WORKDIR``: the experiment that the resume test kills.

Run with the tests directory as the working directory (or on PYTHONPATH).
"""

from __future__ import annotations

import sys

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExeConfig, RetiariiExperiment

from .spaces import WideNet, sleepy_width

MAX_TRIALS = 8


def main(working_dir: str) -> None:
    exp = RetiariiExperiment(
        WideNet(),
        FunctionalEvaluator(sleepy_width, seconds=0.3),
        None,
        strategy.Random(dedup=True, seed=0),
    )
    config = RetiariiExeConfig("local")
    config.experiment_name = "resume-me"
    config.trial_concurrency = 2
    config.max_trial_number = MAX_TRIALS
    config.experiment_working_directory = working_dir
    exp.run(config)


if __name__ == "__main__":
    main(sys.argv[1])
