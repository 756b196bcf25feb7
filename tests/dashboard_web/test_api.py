"""The dashboard's JSON API over the store of a real (finished) experiment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from retiarii.dashboard import serve_dashboard
from retiarii.dashboard.app import plotly_js_path
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store import ExperimentStore

from .spaces import EPOCHS, XSS_ERROR, XSS_LABEL, XSS_LOG


@pytest.fixture(scope="module")
def client(dashboard) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard.url, timeout=10) as http:
        yield http


@contextmanager
def served(directory: Path) -> Iterator[httpx.Client]:
    """A client of a dashboard served over ``directory`` for the time of a ``with``."""
    with (
        serve_dashboard(directory, port=0) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        yield http


def test_overview(client, finished_experiment: RetiariiExperiment) -> None:
    view = client.get("/api/experiment").json()
    assert view["name"] == "dash <b>demo</b>"
    assert view["status"] == view["state"] == "done"
    assert view["end_reason"] == "max_trial_number reached"
    assert view["counts"]["SUCCEEDED"] == 11 and view["counts"]["FAILED"] == 1
    progress = view["progress"]
    assert (progress["budget"], progress["ended"], progress["succeeded"]) == (12, 12, 11)
    assert (progress["failed"], progress["running"], progress["waiting"]) == (1, 0, 0)
    best = max(finished_experiment.list_trial_jobs(), key=lambda t: t.final_value or -1)
    assert view["best"]["id"] == best.id and view["best"]["sample"] == best.sample
    assert view["best"]["sample"] == {XSS_LABEL: 2, "width": 16, "act": "tanh"}
    assert view["config"]["max_trial_number"] == 12
    assert view["optimize_mode"] == "maximize"
    assert view["elapsed"] > 0
    assert view["can_stop"] is False and view["has_series"] is False
    assert view["info"]["model"] == "DashNet"


def test_overview_search_space(client) -> None:
    space = client.get("/api/experiment").json()["space"]
    assert space["size"] == "12"
    rows = {row["label"]: row for row in space["labels"]}
    assert set(rows) == {XSS_LABEL, "width", "act"}
    assert rows["width"] == {
        "label": "width",
        "type": "choice",
        "candidates": [4, 8, 16],
        "n_chosen": None,
        "size": 3,
    }
    assert rows["act"]["type"] == "layer_choice"
    assert rows["act"]["candidates"] == ["relu", "tanh"]


def test_trials_table_rows(client, finished_experiment: RetiariiExperiment) -> None:
    rows = client.get("/api/trials").json()
    records = finished_experiment.list_trial_jobs()
    assert [r["id"] for r in rows] == [t.id for t in records] == list(range(1, 13))
    for row, record in zip(rows, records):
        assert row["sample"] == record.sample
        assert row["status"] == record.status
        assert row["final_value"] == record.final_value
        assert row["duration"] is not None and row["duration"] >= 0
    failed = [r for r in rows if r["status"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["final_value"] is None


def test_trial_page_data(client) -> None:
    trial = client.get("/api/trials/1").json()
    assert trial["status"] == "SUCCEEDED"
    assert [r["sequence"] for r in trial["intermediates"]] == list(range(EPOCHS))
    values = [r["value_num"] for r in trial["intermediates"]]
    assert values == sorted(values) and values[-1] == pytest.approx(trial["final_value"])
    assert trial["final"]["width"] == trial["sample"]["width"]
    assert XSS_LOG in trial["log_tail"] and trial["has_log"] is True
    assert trial["log_truncated"] is False


def test_failed_trial_has_its_traceback(client) -> None:
    failed = next(r for r in client.get("/api/trials").json() if r["status"] == "FAILED")
    trial = client.get(f"/api/trials/{failed['id']}").json()
    assert "Traceback (most recent call last)" in trial["error"]
    assert f"ValueError: {XSS_ERROR}" in trial["error"]
    assert trial["sample"] == {XSS_LABEL: 2, "width": 4, "act": "tanh"}


def test_whole_log(client) -> None:
    response = client.get("/api/trials/2/log")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert XSS_LOG in response.text


def test_intermediates_of_all_trials(client) -> None:
    curves = client.get("/api/intermediates").json()
    assert sorted(curves, key=int) == [str(i) for i in range(1, 13)]
    assert all(c["x"] == list(range(EPOCHS)) and len(c["y"]) == EPOCHS for c in curves.values())


def test_export_top_k(client, finished_experiment: RetiariiExperiment) -> None:
    response = client.get("/api/export", params={"top_k": 3})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["content-disposition"].endswith('-top3.json"')
    data = response.json()
    assert data["experiment"] == finished_experiment.id
    assert [e["rank"] for e in data["top"]] == [1, 2, 3]
    assert [e["sample"] for e in data["top"]] == finished_experiment.export_top_models(top_k=3)
    metrics = [e["metric"] for e in data["top"]]
    assert metrics == sorted(metrics, reverse=True)
    for bad in ("0", "-1", "x", "100000"):
        assert client.get("/api/export", params={"top_k": bad}).status_code == 400


def test_unknown_things_are_404(client) -> None:
    for path in ("/api/trials/999", "/api/trials/abc", "/api/trials/1.5", "/api/nothing"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "error" in response.json()
    assert client.get("/trials/abc").status_code == 404
    assert client.get("/api/trials/999/log").status_code == 404


def test_pages_are_the_app_without_inline_script(client) -> None:
    for path in ("/", "/trials", "/trials/3", "/trial/3", "/charts", "/oneshot"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
    page = client.get("/").text
    assert "<script>" not in page and "onload=" not in page
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp


def test_plotly_comes_from_the_installed_package(client) -> None:
    page = client.get("/").text
    assert "cdn" not in page.lower() and "https://" not in page
    response = client.get(next(p for p in _script_srcs(page) if "plotly" in p))
    assert response.status_code == 200
    assert response.content == plotly_js_path().read_bytes()
    assert "immutable" in response.headers["cache-control"]


def _script_srcs(page: str) -> list[str]:
    import re

    return re.findall(r'<script[^>]*src="([^"]+)"', page)


def test_static_files_are_looked_up_by_name_only(client, experiment_dir: Path) -> None:
    secret = (experiment_dir / "experiment.db").read_bytes()[:16]
    for path in (
        "/static/experiment.db",
        "/static/..%2Fexperiment.db",
        "/static/%2e%2e%2fexperiment.db",
        "/static/..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/index.html/..%2F..%2Fapp.py",
        "/static/%2Fetc%2Fpasswd",
        "/static/app.py",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert secret not in response.content
    assert client.get("/static/app.js").status_code == 200


def test_host_header_must_be_loopback(client, dashboard) -> None:
    assert client.get("/api/experiment", headers={"Host": "evil.example"}).status_code == 400
    assert (
        client.get("/api/experiment", headers={"Host": f"localhost:{dashboard.port}"}).status_code
        == 200
    )


def test_stop_is_refused_without_a_running_experiment(client, dashboard) -> None:
    response = client.post("/api/stop", headers={"Origin": dashboard.url.rstrip("/")})
    assert response.status_code == 409
    assert "not attached" in response.json()["error"]
    assert client.get("/api/stop").status_code == 405


def test_logs_outside_the_experiment_are_not_served(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("TOP SECRET\n")
    directory = tmp_path / "exp"
    (directory / "trials" / "3").mkdir(parents=True)
    (directory / "trials" / "3" / "trial.log").symlink_to(outside)
    (directory / "trials" / "4").mkdir(parents=True)
    (directory / "trials" / "4" / "trial.log").write_text("inside\n")
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment("logs", {}, {}, "maximize")
        for log in ("../secret.txt", str(outside), "trials/3/trial.log", "trials/4/trial.log"):
            trial = store.create_trial({})
            store.mark_running(trial, log_path=log)
    with served(directory) as http:
        for trial_id in (1, 2, 3):
            view = http.get(f"/api/trials/{trial_id}").json()
            assert view["log_tail"] == "" and view["has_log"] is False, trial_id
            assert http.get(f"/api/trials/{trial_id}/log").status_code == 404
        assert http.get("/api/trials/4").json()["log_tail"] == "inside\n"
        assert http.get("/api/trials/4/log").text == "inside\n"


def test_logs_of_old_stores_with_cwd_relative_paths_are_found(tmp_path: Path) -> None:
    # stores written before the fix kept the log path relative to the driver's cwd
    (tmp_path / "trials" / "1").mkdir(parents=True)
    (tmp_path / "trials" / "1" / "trial.log").write_text("old store\n")
    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment("old", {}, {}, "maximize")
        store.mark_running(
            store.create_trial({}), log_path="retiarii-experiments/abc/trials/1/trial.log"
        )
    with served(tmp_path) as http:
        assert http.get("/api/trials/1").json()["log_tail"] == "old store\n"


def test_long_logs_show_their_tail(tmp_path: Path) -> None:
    (tmp_path / "trials" / "1").mkdir(parents=True)
    lines = [f"line {i}" for i in range(10_000)]
    (tmp_path / "trials" / "1" / "trial.log").write_text("\n".join(lines) + "\n")
    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment("long", {}, {}, "maximize")
        store.mark_running(store.create_trial({}), log_path="trials/1/trial.log")
    with served(tmp_path) as http:
        view = http.get("/api/trials/1").json()
    assert view["log_truncated"] is True
    assert view["log_tail"].endswith("line 9999\n")
    assert view["log_tail"].startswith("line ")  # cut at a line boundary
    assert len(view["log_tail"]) <= 20_000


def test_oneshot_series(oneshot_dir: Path) -> None:
    with served(oneshot_dir) as http:
        view = http.get("/api/experiment").json()
        series = http.get("/api/series").json()
    assert view["has_series"] is True
    assert view["selected"] == {"sample": {"op": "conv3", "inp": [0]}, "epoch": 5, "step": 5}
    assert view["space"]["size"] == "6"  # 3 ops x 2 inputs (choose 1)
    assert series["names"] == [
        "arch/selected",
        "arch_prob/inp",
        "arch_prob/op",
        "loss/train",
        "loss/val",
        "metric/accuracy",
    ]
    loss = series["series"]["loss/train"]
    assert loss["step"] == list(range(18)) and loss["epoch"] == [None] * 18
    probs = series["series"]["arch_prob/op"]
    assert probs["epoch"] == list(range(6))
    assert all(sum(p.values()) == pytest.approx(1.0) for p in probs["value"])


def test_export_json_is_what_fixed_arch_takes(client) -> None:
    data = json.loads(client.get("/api/export", params={"top_k": 1}).content)
    assert data["top"][0]["sample"] == {XSS_LABEL: 2, "width": 16, "act": "tanh"}


def test_a_damaged_row_is_a_json_error_naming_it(tmp_path: Path) -> None:
    import sqlite3

    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment("damaged", {}, {}, "maximize")
        store.mark_running(store.create_trial({"a": 1}))
    with sqlite3.connect(tmp_path / "experiment.db") as db:
        db.execute("UPDATE trials SET sample = '{broken'")
    with served(tmp_path) as http:
        assert http.get("/api/experiment").status_code == 200  # the rest still answers
        for url in ("/api/trials", "/api/trials/1"):
            response = http.get(url)
            assert response.status_code == 503
            assert "the sample of trial 1 is damaged" in response.json()["error"]
