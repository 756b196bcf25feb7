"""The ``retiarii`` command line, run through the installed console script."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import torch

import retiarii
from retiarii.store import ExperimentStore

from .conftest import RETIARII, TESTS, run_cli

COMMANDS = ("view", "list", "export", "resume", "ss-gen")


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("retiarii: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"retiarii {retiarii.__version__}"


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    bare = run_cli()
    assert bare.returncode == 2 and "usage: retiarii" in bare.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: retiarii {command}")


# ------------------------------------------------------------------------------------ list


def test_list(working_dir: Path, done_experiment, stopped_experiment) -> None:
    result = run_cli("list", str(working_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "STATUS",
        "TRIALS",
        "FAILED",
        "EARLY-STOPPED",
        "BEST",
        "ELAPSED",
        "CREATED",
    ]
    done = next(line for line in lines if line.startswith(done_experiment.id))
    assert "finished search" in done and " done " in done and " 6/6 " in done
    assert "31 (#" in done  # the best metric: width 3 with Tanh
    stopped = next(line for line in lines if line.startswith(stopped_experiment.id))
    assert " stopped " in stopped


def test_list_json_and_default_root(working_dir: Path, done_experiment, stopped_experiment) -> None:
    result = run_cli("list", "--json", home=working_dir)  # ROOT defaults to $RETIARII_HOME
    assert result.returncode == 0, result.stderr
    entries = {e["id"]: e for e in json.loads(result.stdout)}
    done = entries[done_experiment.id]
    assert done["status"] == "done" and done["best"] == 31.0 and done["name"] == "finished search"
    assert done["progress"]["ended"] == done["progress"]["budget"] == 6
    assert entries[stopped_experiment.id]["status"] == "stopped"


def test_list_a_running_experiment_whose_driver_died(tmp_path: Path) -> None:
    with ExperimentStore(tmp_path / "exp" / "experiment.db") as store:
        store.init_experiment("crashed", {"max_trial_number": 3}, {}, "maximize")
        store.set_status("running")
    result = run_cli("list", str(tmp_path), "--json")  # no process holds its writer lock
    assert json.loads(result.stdout)[0]["status"] == "interrupted"


def test_list_empty_and_missing_roots(tmp_path: Path) -> None:
    result = run_cli("list", str(tmp_path))
    assert result.returncode == 0 and result.stdout.strip() == f"no experiments in {tmp_path}"
    message = assert_one_line_error(run_cli("list", str(tmp_path / "nope")))
    assert "is not a directory" in message


# ------------------------------------------------------------------------------------ export


def test_export_json(done_experiment) -> None:
    result = run_cli("export", str(done_experiment.experiment_dir), "--top-k", "2")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["experiment"] == done_experiment.id
    assert data["optimize_mode"] == "maximize"
    with ExperimentStore(done_experiment.experiment_dir / "experiment.db", readonly=True) as store:
        best = store.best_trials(2)
    assert [e["sample"] for e in data["top"]] == [t.sample for t in best]
    assert [e["trial_id"] for e in data["top"]] == [t.id for t in best]
    worst = json.loads(
        run_cli("export", str(done_experiment.experiment_dir), "--optimize-mode", "minimize").stdout
    )
    assert worst["top"][0]["metric"] < data["top"][0]["metric"]


def test_export_by_id_to_a_file(done_experiment, working_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "top.json"
    result = run_cli("export", done_experiment.id, "-k", "3", "-o", str(out), home=working_dir)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(out.read_text())["top"]) == 3
    assert "3 sample(s) written to" in result.stderr


def test_export_code_rebuilds_the_model(done_experiment, tmp_path: Path) -> None:
    result = run_cli(
        "export", str(done_experiment.experiment_dir), "--format", "code", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# 1. trial ")
    assert "from cli.spaces import CliNet" in result.stdout
    namespace: dict[str, object] = {}
    exec(compile(result.stdout, "<exported>", "exec"), namespace)  # cli.spaces is importable here
    model = namespace["model"]
    assert isinstance(model, torch.nn.Module)
    assert model.fc.out_features == 3 and isinstance(model.act, torch.nn.Tanh)


def test_export_code_without_the_pickle(done_experiment, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(done_experiment.experiment_dir, copy)
    (copy / "experiment.pkl").unlink()
    result = run_cli("export", str(copy), "--format", "code")
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "CliNet" in result.stderr
    assert "# import CliNet from the module that defines it" in result.stdout
    assert "model = CliNet()" in result.stdout


def test_export_errors(tmp_path: Path, done_experiment) -> None:
    message = assert_one_line_error(run_cli("export", str(tmp_path / "missing")))
    assert "no experiment at" in message
    message = assert_one_line_error(
        run_cli("export", str(done_experiment.experiment_dir), "-k", "0")
    )
    assert "--top-k" in message
    bad_format = run_cli("export", str(done_experiment.experiment_dir), "--format", "onnx")
    assert bad_format.returncode == 2 and "invalid choice" in bad_format.stderr
    with ExperimentStore(tmp_path / "empty" / "experiment.db") as store:
        store.init_experiment("empty", {}, {}, "maximize")
    message = assert_one_line_error(run_cli("export", str(tmp_path / "empty")))
    assert "no successful trial" in message


# ------------------------------------------------------------------------------------ view


def _start_view(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    process = subprocess.Popen(
        [str(RETIARII), "view", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    match = re.search(r"(http://\S+)", line)
    assert match, f"no URL in {line!r} (exit {process.poll()})"
    return process, match.group(1)


def test_view_serves_until_ctrl_c(done_experiment) -> None:
    process, url = _start_view(str(done_experiment.experiment_dir), "--port", "0")
    try:
        assert url.startswith("http://127.0.0.1:")
        view = httpx.get(url + "api/experiment", timeout=10).json()
        assert view["id"] == done_experiment.id and view["state"] == "done"
        assert httpx.get(url, timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_view_errors(done_experiment, tmp_path: Path) -> None:
    message = assert_one_line_error(run_cli("view", str(tmp_path)))
    assert "no experiment at" in message
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("view", str(done_experiment.experiment_dir), "--port", str(port))
    message = assert_one_line_error(result)
    assert f"127.0.0.1:{port}" in message and "choose another port" in message


# ------------------------------------------------------------------------------------ resume


def test_resume_runs_to_the_budget(stopped_experiment, tmp_path: Path) -> None:
    directory = stopped_experiment.experiment_dir
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        before = {t.id: t for t in store.trials()}
    # without the experiment's code importable, a clear error and nothing changes
    message = assert_one_line_error(
        run_cli("resume", str(directory), pythonpath=False, cwd=tmp_path)
    )
    assert "cannot load the experiment's model space and evaluator" in message
    result = run_cli("resume", str(directory))
    assert result.returncode == 0, result.stderr
    assert "experiment " in result.stderr and ": done; best " in result.stderr
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        record = store.experiment()
        trials = store.trials()
        counts = store.counts()
    assert record.status == "done"
    assert counts["SUCCEEDED"] == 4
    for trial in trials:  # finished trials were kept as they were
        if trial.id in before and before[trial.id].finished:
            assert trial == before[trial.id]


def test_resume_of_a_missing_experiment(tmp_path: Path) -> None:
    message = assert_one_line_error(run_cli("resume", str(tmp_path / "nope")))
    assert "no experiment at" in message
    with ExperimentStore(tmp_path / "oneshot" / "experiment.db") as store:
        store.init_experiment("one-shot", {}, {}, "maximize")  # no experiment.pkl
    message = assert_one_line_error(run_cli("resume", str(tmp_path / "oneshot")))
    assert "cannot be resumed" in message


# ------------------------------------------------------------------------------------ ss-gen


def test_ss_gen() -> None:
    result = run_cli("ss-gen", "cli.spaces:CliNet", cwd=TESTS, pythonpath=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "width": {"_type": "choice", "_value": [1, 2, 3]},
        "act": {"_type": "layer_choice", "_value": [0, 1]},
    }


def test_ss_gen_errors() -> None:
    assert "expected MODULE:CALLABLE" in assert_one_line_error(run_cli("ss-gen", "nocolon"), 2)
    assert "cannot import module" in assert_one_line_error(run_cli("ss-gen", "no_such_mod:X"), 2)
    assert "has no attribute" in assert_one_line_error(run_cli("ss-gen", "cli.spaces:Nope"), 2)


def test_unexpected_errors_are_one_line_too(tmp_path: Path) -> None:
    (tmp_path / "experiment.db").write_bytes(b"this is not a database" * 100)
    message = assert_one_line_error(run_cli("export", str(tmp_path)))
    assert "experiment.db" in message
    started = time.monotonic()
    assert run_cli("list", str(tmp_path)).returncode == 0  # listed as unreadable, not a crash
    assert time.monotonic() - started < 30
