"""The dashboard with several objectives: the front's size on the overview, the objectives page
and its data (every point with its trial id, the front marked)."""

from __future__ import annotations

import httpx
import pytest

import retiarii.strategy as strategy
from experiment.helpers import make_config
from experiment.mo_spaces import MoNet, accuracy
from retiarii.dashboard import serve_dashboard
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.profiler import NumParamsProfiler

pytest.importorskip("fastapi")

OBJECTIVES = {"default": "maximize", "params": "minimize"}


@pytest.fixture(scope="module")
def mo_dir(tmp_path_factory):
    model = MoNet()
    exp = RetiariiExperiment(
        model,
        FunctionalEvaluator(accuracy),
        strategy=strategy.GridSearch(),
        profilers={"params": NumParamsProfiler(model)},
    )
    exp.run(
        make_config(tmp_path_factory.mktemp("mo"), execution="inprocess", objectives=OBJECTIVES)
    )
    directory = exp.experiment_dir
    exp.close()
    return directory


def test_objectives_api_and_overview(mo_dir) -> None:
    with (
        serve_dashboard(mo_dir, port=0) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        overview = http.get("/api/experiment").json()
        assert overview["pareto"] == {"objectives": OBJECTIVES, "front_size": 4}
        data = http.get("/api/pareto").json()
        assert data["objectives"] == OBJECTIVES
        assert len(data["points"]) == 8
        front = [p for p in data["points"] if p["front"]]
        assert sorted(p["values"]["params"] for p in front) == [5, 10, 20, 40]
        assert all(p["sample"]["act"] == "tanh" for p in front)
        assert sorted(p["id"] for p in front) == sorted(overview["info"]["pareto_front"])
        page = http.get("/pareto")
        assert page.status_code == 200 and "app.js" in page.text
        assert http.get("/static/page_pareto.js").status_code == 200


def test_single_objective_experiment_has_no_front(tmp_path) -> None:
    exp = RetiariiExperiment(MoNet(), FunctionalEvaluator(accuracy), strategy=strategy.GridSearch())
    exp.run(make_config(tmp_path, execution="inprocess", max_trial_number=2))
    directory = exp.experiment_dir
    exp.close()
    with (
        serve_dashboard(directory, port=0) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        assert http.get("/api/experiment").json()["pareto"] is None
        assert http.get("/api/pareto").json() == {"objectives": None, "points": []}


@pytest.mark.browser
def test_objectives_page_in_a_browser(watch_factory, mo_dir) -> None:
    with serve_dashboard(mo_dir, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        card = page.locator(".stat", has_text="Pareto front")
        card.wait_for()
        assert "4" in card.inner_text()
        assert page.locator('#nav a[data-page="pareto"]').is_visible()
        ranges = page.locator(".profiled tbody tr").all_inner_texts()
        assert ranges == ["params\t5\t40\t200"]
        page = watch.goto("/pareto")
        page.locator(".scatterlayer .trace").first.wait_for()
        assert page.locator(".legendtext").all_text_contents() == [
            "other trials (4)",
            "Pareto front (4)",
        ]
        assert page.locator(".parcoords").count() == 1
        assert page.locator("section", has_text="The front").locator("tbody tr").count() == 4
        watch.screenshot("pareto")
        point = page.locator(".scatterlayer .trace").nth(1).locator(".point").first
        box = point.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url("**/trials/*")
        assert watch.errors == [] and watch.dialogs == [] and watch.outside == []
