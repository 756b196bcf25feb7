"""One-shot experiments on the dashboard: architecture probabilities as a heatmap over epochs and
the final probabilities as bars with the chosen candidate marked (after one epoch and after
fifty), epochs counted from 1, the loss from the first logged step, and none of the multi-trial
pages (trial budget, charts across trials, multi-trial configuration fields).

Screenshots go to ``test-artifacts/dashboard/`` like the other browser tests.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from retiarii.dashboard import serve_dashboard
from retiarii.dashboard.views import is_oneshot, oneshot_view
from retiarii.store import ExperimentStore

from .conftest import write_oneshot_store

CONFIG = {
    "trial_concurrency": 4,
    "max_trial_number": 100,
    "trial_gpu_number": 1,
    "max_experiment_duration": "1h",
    "training_service": {"platform": "local", "use_active_gpu": False},
}


def write_store(
    directory: Path,
    epochs: int,
    *,
    mse: list[float] | None = None,
    max_epochs: int | None = None,
    export: bool = False,
) -> Path:
    """A one-shot search of ``epochs`` epochs over one label, as ``RetiariiExperiment`` records it.

    With ``mse`` (one value per epoch) it is a ``Regression`` search: ``val_mse`` is its metric,
    to minimize, and the trainer publishes no ``arch/selected``; ``export`` ends it with the
    exported architecture as its single trial.
    """
    regression = mse is not None
    info: dict[str, object] = {"model": "Net", "strategy": "DARTS()", "oneshot": True}
    if regression:
        info.update(headline_metric="val_mse", max_epochs=max_epochs)
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(
            "darts",
            CONFIG,
            {"op": {"_type": "layer_choice", "_value": ["conv3", "conv5", "skip"]}},
            "minimize" if regression else "maximize",
            info=info,
        )
        store.set_status("running")
        store.add_series("loss/step", 2.1)
        for epoch in range(epochs):
            share = min(0.9, 0.34 + epoch / 60)
            rest = (1 - share) / 2
            store.add_series("loss", 2.0 - epoch / 40, epoch=epoch)
            store.add_series(
                "arch_prob/op", {"conv3": rest, "conv5": share, "skip": rest}, epoch=epoch
            )
            if regression:
                store.add_series("metric/val_mse", mse[epoch], step=epoch, epoch=epoch)
                store.add_series("metric/val_loss", mse[epoch], step=epoch, epoch=epoch)
            else:
                store.add_series("arch/selected", {"op": "conv5"}, epoch=epoch)
        if export:
            trial = store.create_trial({"op": "conv5"})
            store.mark_running(trial)
            last = mse[-1] if mse else 0.0
            store.finish_trial(trial, "SUCCEEDED", final={"default": last, "val_mse": last})
            store.update_info({"duration": 12.0, "end_reason": "search finished"})
            store.set_status("done")
    return directory


#: val_mse per epoch of a Regression search: the second epoch is the best (the lowest).
MSE = [0.5, 0.25, 0.375]


@contextmanager
def driver(directory: Path) -> Iterator[None]:
    """Hold the store's writer lock, as a running experiment's driver does (so it is live)."""
    with open(directory / "experiment.db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def stat(page, title: str):
    """The overview card titled ``title``."""
    exact = page.locator(".stat-title", has_text=re.compile(f"^{re.escape(title)}$"))
    return page.locator(".cards .stat").filter(has=exact)


def test_oneshot_progress_judges_the_metric_in_its_own_direction(tmp_path) -> None:
    directory = write_store(tmp_path, 3, mse=MSE, max_epochs=5, export=True)
    with ExperimentStore(directory / "experiment.db", readonly=True) as store:
        view = oneshot_view(store, store.experiment(), store.series_names())
    assert view == {
        "epochs_done": 3,
        "max_epochs": 5,
        "step": 0,
        "metric": {
            "name": "val_mse",
            "optimize_mode": "minimize",
            "value": 0.375,
            "epoch": 3,
            "best": 0.25,
            "best_epoch": 2,
        },
        "exported": {"trial_id": 1, "sample": {"op": "conv5"}, "value": 0.375},
    }


def test_older_stores_name_the_metric_from_the_exported_trial(tmp_path) -> None:
    """Before ``info["headline_metric"]``: the exported trial's metric equal to its default
    (``val_mse`` before ``val_loss``, which a Regression logs with the same value)."""
    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment("old", {}, {}, "minimize", info={"oneshot": True})
        for name in ("metric/val_loss", "metric/val_mse", "metric/reward"):
            store.add_series(name, 0.5, epoch=0)
        before = oneshot_view(store, store.experiment(), store.series_names())
        assert before["metric"]["name"] == "val_loss"  # no export yet: the first but the reward
        trial = store.create_trial({})
        store.mark_running(trial)
        store.finish_trial(
            trial, "SUCCEEDED", final={"default": 0.5, "val_loss": 0.5, "val_mse": 0.5}
        )
        view = oneshot_view(store, store.experiment(), store.series_names())
    assert view["metric"]["name"] == "val_mse" and view["max_epochs"] is None


def test_trial_apis_of_a_oneshot_search_answer_what_the_store_holds(tmp_path) -> None:
    """The trial pages of a one-shot search explain themselves in the page; the JSON behind them
    keeps answering (one trial, the exported architecture; no curves), and the overview has the
    one-shot progress."""
    directory = write_store(tmp_path, 3, mse=MSE, max_epochs=5, export=True)
    with (
        serve_dashboard(directory, port=0) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        for path in ("/trials", "/trials/1", "/charts", "/compare?ids=1", "/oneshot"):
            response = http.get(path)
            assert response.status_code == 200 and response.headers["content-type"].startswith(
                "text/html"
            )
        view = http.get("/api/experiment").json()
        assert view["one_shot"] is True and view["oneshot_progress"]["metric"]["best_epoch"] == 2
        assert [row["sample"] for row in http.get("/api/trials").json()] == [{"op": "conv5"}]
        assert http.get("/api/trials/table").json()["total"] == 1
        assert http.get("/api/trials/1").json()["final"]["val_mse"] == 0.375
        assert http.get("/api/intermediates").json() == {}
        export = http.get("/api/export", params={"top_k": 3}).json()
    assert export["oneshot"] is True and export["metric_name"] == "val_mse"
    assert [entry["sample"] for entry in export["top"]] == [{"op": "conv5"}]


def test_multi_trial_views_have_no_oneshot_progress(tmp_path) -> None:
    from retiarii.dashboard.views import experiment_view, export_view

    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment("random", CONFIG, {}, "maximize", info={"oneshot": False})
        trial = store.create_trial({})
        store.mark_running(trial)
        store.finish_trial(trial, "SUCCEEDED", final=0.5)
        assert experiment_view(store)["oneshot_progress"] is None
        assert "metric_name" not in export_view(store)


def test_is_oneshot_from_info_or_series() -> None:
    assert is_oneshot({"oneshot": True}, [])
    assert not is_oneshot({"oneshot": False}, ["arch_prob/op"])
    assert is_oneshot({}, ["arch_prob/op", "loss"])  # a store written by hand
    assert not is_oneshot({}, ["loss/step"])


@pytest.mark.browser
@pytest.mark.parametrize("epochs", [1, 50])
def test_architecture_probabilities_read_well(watch_factory, tmp_path, epochs) -> None:
    with serve_dashboard(write_store(tmp_path, epochs), port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/oneshot")
        section = page.locator("section", has_text="Architecture probabilities: op")
        section.locator(".barlayer .trace").first.wait_for()
        heat = section.locator('[data-chart="arch-heatmap"]')
        assert heat.locator(".heatmaplayer .hm").count() == 1
        ticks = [int(t) for t in heat.locator(".xtick text").all_text_contents()]
        assert min(ticks) >= 1 and max(ticks) <= epochs  # epochs from 1, not 0
        assert sorted(heat.locator(".ytick text").all_text_contents()) == ["conv3", "conv5", "skip"]
        bars = section.locator('[data-chart="arch-final"]')
        assert bars.locator(".barlayer .point").count() == 3
        assert [t for t in bars.locator(".bartext").all_text_contents() if t] == ["chosen"]
        colors = page.evaluate(
            """() => document.querySelector('[data-chart="arch-final"]').data[0].marker.color"""
        )
        assert colors.count("#d4a017") == 1 and colors[1] == "#d4a017"  # conv5, the chosen one
        assert f"as of epoch {epochs}" in page.locator("section", has_text="Current").inner_text()
        loss_x = page.evaluate(
            """() => [...document.querySelectorAll('.chart')].find(
                 (d) => d.data && d.data[0].name === 'loss').data[0].x"""
        )
        assert loss_x[0] == 1 and loss_x[-1] == epochs
        watch.screenshot(f"oneshot-{epochs}-epochs")
        assert watch.errors == [] and watch.dialogs == []


@pytest.mark.browser
def test_oneshot_overview_hides_multi_trial_pages(watch_factory, tmp_path) -> None:
    with serve_dashboard(write_store(tmp_path, 3), port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        best = page.locator("section", has_text="Current architecture")
        best.locator("table.sample").wait_for()
        assert "epoch 3" in best.inner_text()  # the third epoch, counted from 1
        cards = page.locator(".cards .stat-title").all_text_contents()
        assert "Progress" not in cards and "Best metric" not in cards and "Elapsed" in cards
        # max_experiment_duration stops a one-shot search too: its limit is shown
        assert "limit 1:00:00" in page.locator(".stat", has_text="Elapsed").inner_text()
        assert not page.locator("section", has_text="Final metric per trial").is_visible()
        config = page.locator("section", has_text="Configuration").inner_text()
        for field in (
            "trial_concurrency",
            "max_trial_number",
            "trial_gpu_number",
            "use_active_gpu",
        ):
            assert field not in config
        assert "max_experiment_duration" in config
        nav = page.locator("#nav")
        assert not nav.locator('[data-page="charts"]').is_visible()
        assert not nav.locator('[data-page="trials"]').is_visible()
        assert nav.locator('[data-page="oneshot"]').is_visible()
        watch.screenshot("oneshot-overview")


@pytest.mark.browser
def test_multi_trial_overview_keeps_its_pages(watch_factory, tmp_path) -> None:
    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment(
            "random", CONFIG, {"w": {"_type": "choice", "_value": [1, 2]}}, "maximize"
        )
        trial = store.create_trial({"w": 1})
        store.mark_running(trial)
        store.finish_trial(trial, "SUCCEEDED", final=0.5)
    with serve_dashboard(tmp_path, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        page.locator(".cards .stat-title", has_text="Progress").wait_for()
        assert "trial_concurrency" in page.locator("section", has_text="Configuration").inner_text()
        assert page.locator('#nav [data-page="charts"]').is_visible()
        assert page.locator('#nav [data-page="trials"]').is_visible()
        assert page.locator("#export-k").is_visible()
        for path, shown in (("/trials", "#trials-table tbody tr"), ("/charts", ".chart")):
            page = watch.goto(path)
            page.locator(shown).first.wait_for()
            assert page.locator("#oneshot-notice").count() == 0
        page = watch.goto("/trials/99")  # a trial that does not exist is said to be missing
        page.locator("#view h2", has_text="No trial #99").wait_for()
        assert page.locator("#oneshot-notice").count() == 0
        assert watch.errors == []


@pytest.mark.browser
def test_loss_from_the_first_logged_step(watch_factory, tmp_path) -> None:
    with ExperimentStore(tmp_path / "experiment.db") as store:
        store.init_experiment(
            "darts",
            CONFIG,
            {"op": {"_type": "choice", "_value": ["a", "b"]}},
            "maximize",
            info={"oneshot": True},
        )
        store.set_status("running")
        store.add_series("loss/step", 2.3)  # the first step, before any epoch ended
    with serve_dashboard(tmp_path, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/oneshot")
        chart = page.locator("section", has_text="Loss")
        chart.locator(".scatterlayer .trace").first.wait_for()
        assert chart.locator(".legendtext").all_text_contents() == ["loss/step"]
        watch.screenshot("oneshot-first-step")


@pytest.mark.browser
def test_handwritten_store_is_oneshot(watch_factory, tmp_path) -> None:
    with serve_dashboard(write_oneshot_store(tmp_path), port=0) as server:
        page = watch_factory(server.url).goto("/")
        page.locator("section", has_text="Current architecture").locator("table.sample").wait_for()
        assert not page.locator('#nav [data-page="charts"]').is_visible()


@pytest.mark.browser
def test_trial_pages_say_what_a_oneshot_search_has_instead(watch_factory, tmp_path) -> None:
    directory = write_store(tmp_path, 3, mse=MSE, max_epochs=5, export=True)
    with serve_dashboard(directory, port=0) as server:
        watch = watch_factory(server.url)
        pages = [
            ("/trials", "Trials"),
            ("/trials/1", "Trial #1"),
            ("/trials/7", "Trial #7"),  # no such trial: the same notice, not "No trial #7"
            ("/charts", "Charts"),
            ("/compare?ids=1", "Compare trials"),
        ]
        for path, title in pages:
            page = watch.goto(path)
            notice = page.locator("#oneshot-notice")
            notice.wait_for()
            assert notice.locator("h2").inner_text() == f"{title}: not in a one-shot search"
            assert "one-shot search (DARTS())" in notice.inner_text()
            assert page.locator("#view .chart, #view table").count() == 0  # no trial charts
            assert not page.locator('#nav [data-page="trials"]').is_visible()
        watch.screenshot("oneshot-trials-notice")
        notice.get_by_role("link", name="One-shot").click()
        page.locator("section", has_text="Architecture probabilities: op").wait_for()
        assert page.url.endswith("/oneshot")
        assert watch.errors == [] and watch.dialogs == []


@pytest.mark.browser
def test_oneshot_cards_while_it_runs_and_once_exported(watch_factory, tmp_path) -> None:
    running = write_store(tmp_path / "running", 3, mse=MSE, max_epochs=5)
    with driver(running), serve_dashboard(running, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        metric = stat(page, "val_mse")
        metric.wait_for()
        assert page.locator(".cards .stat-title").all_text_contents() == [
            "Status",
            "Epoch",
            "Elapsed",
            "val_mse",
            "Architecture",
        ]
        epoch = stat(page, "Epoch").inner_text()
        assert "3 of 5" in epoch and "training epoch 4" in epoch  # epochs from 1
        # the last epoch's value, and the best one in the metric's direction (the lowest)
        assert "0.375" in metric.inner_text() and "minimize · epoch 3" in metric.inner_text()
        assert "best 0.25 at epoch 2" in metric.inner_text()
        assert "searching" in stat(page, "Architecture").inner_text()
        assert page.locator("section h2", has_text="Architecture").inner_text() == "Architecture"
        assert not page.locator("#export").is_visible()  # nothing exported yet
        watch.screenshot("oneshot-running-cards")
    done = write_store(tmp_path / "done", 3, mse=MSE, max_epochs=5, export=True)
    with serve_dashboard(done, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        exported = page.locator("section", has_text="Exported architecture")
        exported.locator("table.sample").wait_for()
        assert "after 3 epochs; val_mse 0.375 at the last finished epoch (minimize)." in (
            exported.inner_text()
        )
        assert "with fixed_arch(" in exported.inner_text()
        card = stat(page, "Architecture").inner_text()
        assert "exported" in card and "1 label" in card
        assert page.locator("#export").get_attribute("href") == "/api/export?top_k=1"
        assert not page.locator("#export-k").is_visible()  # one architecture to export
        watch.screenshot("oneshot-exported-overview")
        page = watch.goto("/oneshot")
        table = page.locator("#epoch-table")
        table.wait_for()
        assert table.locator("tbody tr").count() == 3
        assert table.locator("tr.best-row").get_attribute("data-epoch") == "2"  # the lowest MSE
        page.locator('[data-chart="arch-final"] .bartext').first.wait_for()
        # no arch/selected series: the exported architecture is the chosen candidate
        colors = page.evaluate(
            """() => document.querySelector('[data-chart="arch-final"]').data[0].marker.color"""
        )
        assert colors.count("#d4a017") == 1 and colors[1] == "#d4a017"  # conv5
        watch.screenshot("oneshot-exported-page")
        assert watch.errors == [] and watch.dialogs == []


def add_export(directory: Path, sample: dict[str, str], final: dict[str, float] | None) -> None:
    """A run's export, as ``RetiariiExperiment`` records it (``final`` None: the run was
    stopped before an epoch ended)."""
    with ExperimentStore(directory / "experiment.db") as store:
        trial = store.create_trial(sample)
        store.mark_running(trial)
        store.finish_trial(trial, "SUCCEEDED", final=final)
        store.update_info({"end_reason": "max_experiment_duration reached"})
        store.set_status("done")


@pytest.mark.browser
def test_the_newest_export_is_shown_even_without_a_metric(watch_factory, tmp_path) -> None:
    """Resumed with a larger limit and stopped before an epoch ended: its export (no metric) is
    the answer over the older one with the best val_mse; the older stays listed."""
    resumed = write_store(tmp_path / "resumed", 2, mse=MSE[:2], max_epochs=5, export=True)
    add_export(resumed, {"op": "skip"}, None)
    with serve_dashboard(resumed, port=0) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            export = http.get("/api/export", params={"top_k": 2}).json()
        assert [(e["trial_id"], e["metric"]) for e in export["top"]] == [(2, None), (1, 0.25)]
        watch = watch_factory(server.url)
        page = watch.goto("/")
        exported = page.locator("section", has_text="Exported architecture")
        exported.locator("table.sample").wait_for()
        text = exported.inner_text()
        assert 'with fixed_arch({"op": "skip"})' in text and "conv5" not in text
        assert (
            "stopped after 2 epochs and part of the next and exported this architecture: the "
            "export has no metric " in text
        )
        assert "(val_mse 0.25 at the last finished epoch (minimize))" in text
        watch.screenshot("oneshot-resumed-newest-export")
        page = watch.goto("/oneshot")
        page.locator('[data-chart="arch-final"] .bartext').first.wait_for()
        colors = page.evaluate(
            """() => document.querySelector('[data-chart="arch-final"]').data[0].marker.color"""
        )
        assert colors.count("#d4a017") == 1 and colors[2] == "#d4a017"  # skip, the newest
        assert watch.errors == [] and watch.dialogs == []
    early = write_store(tmp_path / "early", 0, mse=[], max_epochs=5)
    add_export(early, {"op": "conv3"}, None)
    with serve_dashboard(early, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        exported = page.locator("section", has_text="Exported architecture")
        exported.locator("table.sample").wait_for()
        assert (
            "stopped during its first epoch and exported this architecture: the export has no "
            "metric." in exported.inner_text()
        )
        metric = stat(page, "Metric").inner_text()
        value = stat(page, "Metric").locator(".stat-value").inner_text()
        assert value == "\N{EN DASH}" and "none: stopped before an epoch finished" in metric
        assert not any(c.isdigit() for c in metric)  # no invented number
        watch.screenshot("oneshot-export-without-metric")
        assert watch.errors == [] and watch.dialogs == []
