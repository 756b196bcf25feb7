"""Console output: one log line per finished trial, and the live status line on a terminal."""

from __future__ import annotations

import io
import logging

import retiarii.strategy as strategy
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.progress import Progress, format_seconds
from retiarii.experiment.pytorch import RetiariiExperiment

from .helpers import make_config
from .spaces import ModeNet, misbehave


def test_per_trial_log_lines(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="retiarii.experiment")
    exp = RetiariiExperiment(
        ModeNet(),
        FunctionalEvaluator(misbehave, behaviours={2: "raise"}),
        None,
        strategy.GridSearch(shuffle=False),
    )
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=3))
    lines = [r.getMessage() for r in caplog.records if r.name == "retiarii.experiment"]
    assert any(line.startswith("experiment ") and str(tmp_path) in line for line in lines)
    assert any(line.startswith("trial 1 SUCCEEDED in 00:00: 1 {'mode': 1}") for line in lines)
    assert any(line.startswith("trial 2 FAILED in 00:00: no metric") for line in lines)
    assert "trial 2: RuntimeError: evaluator exploded on purpose (mode 2)" in lines
    assert any(line.startswith("trial 3 SUCCEEDED") for line in lines)
    summary = [line for line in lines if " done (max_trial_number reached)" in line]
    assert summary and "2 succeeded, 1 failed; best 3 (trial 3)" in summary[0]


def test_format_seconds() -> None:
    assert format_seconds(None) == "--:--"
    assert format_seconds(-3) == "00:00"
    assert format_seconds(93) == "01:33"
    assert format_seconds(3700) == "1:01:40"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_line_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    progress = Progress(10, None, stream=quiet)
    progress.update(2, 1, 0, 0.5, 1, force=True)
    progress.close()
    assert quiet.getvalue() == ""

    tty = _Terminal()
    progress = Progress(10, None, stream=tty)
    progress.update(2, 1, 1, 0.5, 1, force=True)
    progress.close()
    text = tty.getvalue()
    assert "[2/10] running 1 failed 1 | best 0.5 (#1)" in text
    assert "ETA" in text and text.endswith("\n")


def test_outside_a_terminal_a_status_line_is_logged_periodically(
    tmp_path, caplog, monkeypatch
) -> None:
    caplog.set_level(logging.INFO, logger="retiarii.experiment")
    quiet = io.StringIO()
    progress = Progress(10, None, stream=quiet, status_every=0.0)
    assert progress.due() and not progress.due(force=True)  # no final redraw off a terminal
    progress.update(2, 1, 0, 0.5, 1)
    assert quiet.getvalue() == ""  # nothing raw on the stream, only through logging
    assert "status: [2/10] running 1 failed 0 | best 0.5 (#1)" in caplog.messages[-1]
    slow = Progress(10, None, stream=quiet, status_every=3600)
    assert not slow.due()  # not before the interval has passed

    # the experiment logs it while its trials run (here: every 0 s, trials sleep 0.3 s)
    from .spaces import TinyNet, score_tiny

    exp = RetiariiExperiment(
        TinyNet(), FunctionalEvaluator(score_tiny, delay=0.3), None, strategy.GridSearch()
    )
    config = make_config(tmp_path, execution="inprocess", max_trial_number=2)
    import retiarii.experiment.experiment as experiment_module

    every_time = lambda *a, **k: Progress(*a, status_every=0.0, **k)  # noqa: E731
    monkeypatch.setattr(experiment_module, "Progress", every_time)
    exp.run(config)
    assert any(m.startswith("status: [") for m in caplog.messages)
