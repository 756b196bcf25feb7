"""One-shot experiments on the dashboard: architecture probabilities as a heatmap over epochs and
the final probabilities as bars with the chosen candidate marked (after one epoch and after
fifty), epochs counted from 1, the loss from the first logged step, and none of the multi-trial
pages (trial budget, charts across trials, multi-trial configuration fields).

Screenshots go to ``test-artifacts/dashboard/`` like the other browser tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retiarii.dashboard import serve_dashboard
from retiarii.dashboard.views import is_oneshot
from retiarii.store import ExperimentStore

from .conftest import write_oneshot_store

CONFIG = {
    "trial_concurrency": 4,
    "max_trial_number": 100,
    "trial_gpu_number": 1,
    "max_experiment_duration": "1h",
    "training_service": {"platform": "local", "use_active_gpu": False},
}


def write_store(directory: Path, epochs: int) -> Path:
    """A one-shot search of ``epochs`` epochs over one label, as ``RetiariiExperiment`` records it."""
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(
            "darts",
            CONFIG,
            {"op": {"_type": "layer_choice", "_value": ["conv3", "conv5", "skip"]}},
            "maximize",
            info={"model": "Net", "strategy": "DARTS()", "oneshot": True},
        )
        store.set_status("running")
        for epoch in range(epochs):
            share = min(0.9, 0.34 + epoch / 60)
            rest = (1 - share) / 2
            store.add_series("loss", 2.0 - epoch / 40, epoch=epoch)
            store.add_series(
                "arch_prob/op", {"conv3": rest, "conv5": share, "skip": rest}, epoch=epoch
            )
            store.add_series("arch/selected", {"op": "conv5"}, epoch=epoch)
    return directory


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
        best = page.locator("section", has_text="Best architecture")
        best.locator("table.sample").wait_for()
        assert "epoch 3" in best.inner_text()  # the third epoch, counted from 1
        cards = page.locator(".cards .stat-title").all_text_contents()
        assert "Progress" not in cards and "Elapsed" in cards
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
        page = watch_factory(server.url).goto("/")
        page.locator(".cards .stat-title", has_text="Progress").wait_for()
        assert "trial_concurrency" in page.locator("section", has_text="Configuration").inner_text()
        assert page.locator('#nav [data-page="charts"]').is_visible()


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
        page.locator("section", has_text="Best architecture").locator("table.sample").wait_for()
        assert not page.locator('#nav [data-page="charts"]').is_visible()
