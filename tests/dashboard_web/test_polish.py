"""The dashboard explains itself: dates not epoch seconds, snippets that run as shown, plurals,
filters that say what is wrong, running trials with their progress, one-point curves, the common
error of a failing experiment, metric over wall-clock time, trials compared side by side.

Screenshots go to ``test-artifacts/dashboard/`` like the other browser tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from retiarii.dashboard import serve_dashboard
from retiarii.store import ExperimentStore

pytestmark = pytest.mark.browser

STARTED = 1_796_476_903.835  # a run start as the store keeps it (unix seconds)
ERROR = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 3, in fit\n'
    "RuntimeError: CUDA error: no kernel image is available\n"
)


def write_store(directory: Path) -> Path:
    """One label; #1 with one report; #2 running for a minute; #3 with a curve; #4 failed."""
    clock = [time.time() - 65]  # the running trial started 65 s ago
    with ExperimentStore(directory / "experiment.db", clock=lambda: clock[0]) as store:
        store.init_experiment(
            "polish",
            {"max_trial_number": 10},
            {"width": {"_type": "choice", "_value": [16, 32, 64]}},
            "maximize",
            info={
                "model": "PolishNet",
                "model_import": "from polish_models import PolishNet",
                "model_call": "PolishNet(channels=3)",
                "strategy": "Random(seed=0)",
                "run_started_at": STARTED,
            },
        )
        store.set_status("running")
        one = store.create_trial({"width": 16})
        store.mark_running(one)
        store.add_intermediate(one, 0.61)
        store.finish_trial(one, "SUCCEEDED", final=0.62)
        running = store.create_trial({"width": 32})
        store.mark_running(running)
        clock[0] = time.time()
        store.add_intermediate(running, 0.40)
        store.add_intermediate(running, 0.42)
        three = store.create_trial({"width": 64})
        store.mark_running(three)
        for value in (0.5, 0.7, 0.8):
            store.add_intermediate(three, value)
        store.finish_trial(three, "SUCCEEDED", final=0.81)
        failed = store.create_trial({"width": 64})
        store.mark_running(failed)
        store.finish_trial(failed, "FAILED", error=ERROR)
    return directory


def write_failed_store(directory: Path) -> Path:
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(
            "broken",
            {"max_trial_number": 3},
            {"width": {"_type": "choice", "_value": [16, 32]}},
            "maximize",
            info={"model": "PolishNet"},
        )
        for width in (16, 32, 16):
            trial = store.create_trial({"width": width})
            store.mark_running(trial)
            store.finish_trial(trial, "FAILED", error=ERROR)
        store.set_status("done")
    return directory


@pytest.fixture(scope="module")
def polish_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = serve_dashboard(write_store(tmp_path_factory.mktemp("polish")), port=0)
    yield server.url
    server.close()


def test_overview_shows_dates_plurals_and_a_snippet_that_runs(watch_factory, polish_url) -> None:
    watch = watch_factory(polish_url)
    page = watch.goto("/")
    page.wait_for_selector("#view .stat")
    space = page.locator("section", has_text="Search space")
    assert "1 label · 3 architectures" in space.inner_text()
    config = page.locator("section", has_text="Configuration").inner_text()
    assert "1796476903" not in config  # shown as a date
    assert "run_started_at" in config and "2026" in config
    assert "Random(seed=0)" in config
    assert "model_import" not in config  # used by the snippet, not listed
    snippet = page.locator("section", has_text="Best architecture").locator("pre.code")
    text = snippet.inner_text()
    assert text.startswith("from retiarii import fixed_arch\nfrom polish_models import PolishNet\n")
    assert "model = PolishNet(channels=3)" in text
    assert snippet.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"  # wraps
    watch.screenshot("polish-overview")
    assert watch.errors == []


def test_running_trial_shows_time_so_far_and_latest_value(watch_factory, polish_url) -> None:
    watch = watch_factory(polish_url)
    page = watch.goto("/trials")
    row = page.locator('#trials-table tbody tr[data-id="2"]')
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert "0.42 …" in cells  # the latest intermediate value, marked as not final
    assert any(c.endswith("…") and ":" in c for c in cells), cells  # e.g. "01:05 …"
    watch.screenshot("polish-running")
    assert watch.errors == []


def test_an_invalid_filter_says_what_is_wrong(watch_factory, polish_url) -> None:
    watch = watch_factory(polish_url)
    page = watch.goto("/trials")
    page.locator("#trials-table tbody tr").first.wait_for()
    problems = page.locator("#filter-problems")
    page.fill("input.search", "widht=16")
    assert '"widht" is not a label or a field' in problems.inner_text()
    assert "labels: width" in problems.inner_text()
    page.fill("input.search", "metric>abc")
    assert '"abc" is not a number' in problems.inner_text()
    page.fill("input.search", "width=")
    assert 'nothing after "="' in problems.inner_text()
    watch.screenshot("polish-filter")
    page.fill("input.search", "width=64 metric>0.5")
    assert problems.inner_text() == ""
    assert page.locator("#trials-table tbody tr").count() == 1
    assert watch.errors == []


def test_a_curve_of_one_point_has_a_sensible_axis(watch_factory, polish_url) -> None:
    watch = watch_factory(polish_url)
    page = watch.goto("/trials/1")
    chart = page.locator("section", has_text="Intermediate metric").locator(".js-plotly-plot")
    chart.locator(".scatterlayer .point").first.wait_for()
    low, high = chart.evaluate("e => e._fullLayout.yaxis.range")
    assert 0.4 < low < 0.61 < 0.62 < high < 0.9
    watch.screenshot("polish-one-point")
    assert watch.errors == []


def test_all_failed_shows_the_common_error_on_the_overview(watch_factory, tmp_path) -> None:
    server = serve_dashboard(write_failed_store(tmp_path), port=0)
    try:
        watch = watch_factory(server.url)
        page = watch.goto("/")
        summary = page.locator(".failure-summary")
        summary.wait_for()
        text = summary.inner_text()
        assert "All 3 trials failed" in text and "every one" in text
        assert "RuntimeError: CUDA error: no kernel image is available" in text
        assert summary.locator("a", has_text="trial #1").count() == 1
        watch.screenshot("polish-all-failed")
        assert watch.errors == []
    finally:
        server.close()


def test_metric_over_time_and_comparing_trials(watch_factory, polish_url) -> None:
    watch = watch_factory(polish_url)
    page = watch.goto("/charts")
    over_time = page.locator("section", has_text="Final metric over time")
    over_time.locator(".scatterlayer .point").first.wait_for()
    assert over_time.locator(".scatterlayer .trace").first.locator(".point").count() == 2

    page = watch.goto("/trials")
    page.locator("#trials-table tbody tr").first.wait_for()
    assert page.locator("#compare").is_disabled()
    page.locator('tr[data-id="1"] input.pick').check()
    page.locator('tr[data-id="3"] input.pick').check()
    assert page.locator("#compare").inner_text() == "Compare 2 trials"
    page.locator("#compare").click()
    page.wait_for_url("**/compare?ids=1,3")
    table = page.locator("#compare-table")
    table.wait_for()
    assert table.locator("thead th").all_inner_texts()[1:] == ["#1", "#3 ★"]
    assert table.locator("tr.differs").count() == 2  # final metric and width differ
    curves = page.locator("section", has_text="Intermediate curves")
    curves.locator(".scatterlayer .point").first.wait_for()
    assert curves.locator(".scatterlayer .trace").count() == 2
    watch.screenshot("polish-compare")
    assert watch.errors == []


def write_pruned_store(directory: Path) -> Path:
    """Two trials ran 6 reports; two were stopped early after 2."""
    with ExperimentStore(directory / "experiment.db") as store:
        store.init_experiment(
            "pruned", {}, {"width": {"_type": "choice", "_value": [1, 2, 3, 4]}}, "maximize"
        )
        for width, (reports, status) in enumerate(
            [(6, "SUCCEEDED"), (2, "EARLY_STOPPED"), (6, "SUCCEEDED"), (2, "EARLY_STOPPED")], 1
        ):
            trial = store.create_trial({"width": width})
            store.mark_running(trial)
            for step in range(reports):
                store.add_intermediate(trial, width / 10 + step / 100)
            error = "MedianStop: below the median" if status == "EARLY_STOPPED" else None
            store.finish_trial(trial, status, error, final=width / 10 + (reports - 1) / 100)
        store.set_status("done")
    return directory


def test_charts_show_where_trials_were_stopped_and_what_it_saved(watch_factory, tmp_path) -> None:
    server = serve_dashboard(write_pruned_store(tmp_path), port=0)
    try:
        watch = watch_factory(server.url)
        page = watch.goto("/charts")
        curves = page.locator("section", has_text="Intermediate curves")
        curves.locator(".scatterlayer .point").first.wait_for()
        stopped = curves.locator(".scatterlayer .trace").last  # drawn last, above the curves
        assert stopped.locator(".point").count() == 2
        savings = page.locator("#pruning-savings").inner_text()
        # 2 trials x 2 of 6 reports; 8 of 12 spared out of 12 + 4 + 8 = 24 (33%)
        assert "2 trials stopped after 4 of the 12 reports" in savings and "33%" in savings
        watch.screenshot("polish-pruned")
        assert watch.errors == []
    finally:
        server.close()
