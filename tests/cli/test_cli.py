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
from signals import default_sigint

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
        "STRATEGY",
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
    assert " GridSearch(shuffle=False) " in done  # the strategy, as the experiment recorded it
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


def _oneshot_store(directory: Path, epochs: int, export: bool) -> None:
    """A Regression one-shot search as the experiment records it: val_mse, to minimize."""
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(
            "darts <search>",
            {},
            {"op": {"_type": "layer_choice", "_value": ["a", "b"]}},
            "minimize",
            info={
                "oneshot": True,
                "strategy": "DARTS(arc_learning_rate=0.05)",
                "headline_metric": "val_mse",
                "max_epochs": 4,
                "model": "Net",
            },
        )
        store.set_status("running")
        for epoch, mse in enumerate([0.5, 0.25, 0.375][:epochs]):
            store.add_series("metric/val_mse", mse, epoch=epoch)
            store.add_series("metric/val_loss", mse, epoch=epoch)
        if export:
            trial = store.create_trial({"op": "b"})
            store.mark_running(trial)
            store.finish_trial(trial, "SUCCEEDED", final={"default": 0.375, "val_mse": 0.375})
            store.set_status("done")


def test_list_and_export_a_oneshot_search(tmp_path: Path) -> None:
    _oneshot_store(tmp_path / "done", 3, export=True)
    _oneshot_store(tmp_path / "early", 2, export=False)
    result = run_cli("list", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    done = next(line for line in lines.values() if " done " in line)
    # epochs, not trials; the evaluator's metric by name, in its direction; the strategy
    assert "DARTS(arc_learning_rate=0.05)" in done and " 3/4 epochs " in done
    assert " 0.375 val_mse (min) " in done and "(#1)" not in done
    early = next(line for line in lines.values() if " done " not in line)
    assert " 2/4 epochs " in early and " 0.25 val_mse (min) " in early  # the last epoch's
    entry = next(
        e
        for e in json.loads(run_cli("list", "--json", str(tmp_path)).stdout)
        if e["oneshot"]["exported"]
    )
    assert entry["strategy"] == "DARTS(arc_learning_rate=0.05)"
    assert entry["oneshot"]["metric"]["best_epoch"] == 2  # the lowest val_mse
    export = json.loads(run_cli("export", "-k", "3", str(tmp_path / "done")).stdout)
    assert export["metric_name"] == "val_mse" and export["optimize_mode"] == "minimize"
    assert [e["sample"] for e in export["top"]] == [{"op": "b"}]
    message = assert_one_line_error(run_cli("export", str(tmp_path / "early")))
    assert "has not exported an architecture yet" in message


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


class _RunsCodeWhenUnpickled:
    """A stand-in for a hostile experiment.pkl: unpickling it creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def test_reading_commands_never_unpickle_the_experiment(done_experiment, tmp_path: Path) -> None:
    import pickle

    copy = tmp_path / "copy"
    shutil.copytree(done_experiment.experiment_dir, copy)
    marker = tmp_path / "code-ran"
    (copy / "experiment.pkl").write_bytes(pickle.dumps(_RunsCodeWhenUnpickled(marker)))
    code = run_cli("export", str(copy), "--format", "code")
    assert code.returncode == 0, code.stderr
    assert "from cli.spaces import CliNet" in code.stdout and "model = CliNet()" in code.stdout
    for command in (["export", str(copy)], ["list", str(tmp_path)]):
        assert run_cli(*command).returncode == 0
    assert not marker.exists(), "a reading command ran code from experiment.pkl"
    assert "RUNS CODE" in run_cli("resume", "--help").stdout


def test_export_code_from_an_older_store(done_experiment, tmp_path: Path) -> None:
    import sqlite3

    copy = tmp_path / "copy"
    shutil.copytree(done_experiment.experiment_dir, copy)
    with sqlite3.connect(copy / "experiment.db") as db:  # stores before the import line was kept
        (info,) = db.execute("SELECT info FROM experiment").fetchone()
        old = {k: v for k, v in json.loads(info).items() if k not in ("model_import", "model_call")}
        db.execute("UPDATE experiment SET info = ?", (json.dumps(old),))
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
        [str(RETIARII), "view", *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # Ctrl-C works even when the tests run in the background
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


def test_view_warns_when_serving_beyond_this_machine(done_experiment) -> None:
    with socket.socket() as busy:  # the port is taken, so nothing is actually served
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "view", str(done_experiment.experiment_dir), "--host", "0.0.0.0", "--port", str(port)
        )
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("retiarii: warning: serving the dashboard on 0.0.0.0: anyone")
    assert result.returncode == 1 and "choose another port" in lines[-1]


def test_the_api_warns_like_the_cli(done_experiment) -> None:
    from retiarii.experiment.pytorch import RetiariiExperiment

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        warned = pytest.warns(UserWarning, match="anyone who can reach this machine")
        with warned, pytest.raises(OSError):
            RetiariiExperiment.view(
                done_experiment.experiment_dir, port=port, host="0.0.0.0", non_blocking=True
            )


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


def _store_with_a_running_trial(directory: Path, name: str) -> None:
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(name, {}, {"a": {"_type": "choice", "_value": [1, 2]}}, "maximize")
        store.mark_running(store.create_trial({"a": 1}))


def test_list_shows_damaged_experiments_beside_the_others(tmp_path: Path) -> None:
    import sqlite3

    _store_with_a_running_trial(tmp_path / "fine", "fine \x1b[31mred\x07")
    _store_with_a_running_trial(tmp_path / "edited", "edited")
    with sqlite3.connect(tmp_path / "edited" / "experiment.db") as db:
        db.execute("UPDATE experiment SET config = '{broken'")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "experiment.db").write_bytes(b"not a database" * 100)
    result = run_cli("list", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "damaged" in lines["edited"] and "the experiment's config is damaged" in lines["edited"]
    assert "unreadable" in lines["garbage"]
    (fine,) = (line for line in lines.values() if "fine" in line)
    assert "fine \\x1b[31mred\\x07" in fine and "\x1b" not in result.stdout  # escaped, not run
    entries = json.loads(run_cli("list", str(tmp_path), "--json").stdout)
    assert sorted(e["status"] for e in entries) == ["created", "damaged", "unreadable"]


def test_ss_gen_prints_the_range_of_parameters_and_flops(tmp_path: Path) -> None:
    result = run_cli("ss-gen", "cli.spaces:CliNet", "--ranges", "--input-shape", "1,4")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["width"]["_value"] == [1, 2, 3]  # the JSON is unchanged
    # Linear(4, w): 4w + w parameters and 4w multiply-adds, w in {1, 2, 3}
    assert "params: 5 .. 15 over" in result.stderr
    assert "flops: 4 .. 12 over" in result.stderr
    bad = run_cli("ss-gen", "cli.spaces:CliNet", "--ranges", "--input-shape", "1,x")
    assert bad.returncode != 0 and "--input-shape" in bad.stderr
