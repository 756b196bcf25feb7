"""The dashboard in a real Chromium: pages render, charts draw, user data stays text.

Screenshots go to ``test-artifacts/dashboard/``. Every page is watched: a JavaScript dialog
(``alert``), a script error or a request leaving the dashboard's origin fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retiarii.dashboard import serve_dashboard

from .conftest import XSS_CANDIDATE, running_experiment
from .spaces import XSS_ERROR, XSS_LABEL, XSS_LOG

pytestmark = pytest.mark.browser


def assert_clean(watch) -> None:
    assert watch.dialogs == [], f"a dialog opened (injected script ran?): {watch.dialogs}"
    assert watch.errors == [], f"script errors: {watch.errors}"
    assert watch.outside == [], f"requests outside the dashboard: {watch.outside}"
    page = watch.page
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_overview(watch_factory, dashboard) -> None:
    watch = watch_factory(dashboard.url)
    page = watch.goto("/")
    page.wait_for_selector("#view .stat")
    header = page.locator("#exp-name")
    assert header.inner_text() == "dash <b>demo</b>"  # the name is text, not markup
    assert header.locator("b").count() == 0
    assert page.locator("#exp-state").inner_text() == "done"
    progress = page.locator(".stat", has_text="Progress")
    assert "12" in progress.locator(".stat-value").inner_text()
    assert "11 succeeded" in progress.inner_text() and "1 failed" in progress.inner_text()
    assert page.locator(".stat-value.best").inner_text() == "0.97"
    best = page.locator("section", has_text="Best architecture")
    assert best.locator("table.sample th", has_text=XSS_LABEL).count() == 1
    assert "with fixed_arch(" in best.locator("pre.code").inner_text()
    assert "model = DashNet()" in best.locator("pre.code").inner_text()
    # the final-metric chart is drawn: 11 successful trials as points
    history = page.locator("section", has_text="Final metric per trial")
    history.locator(".scatterlayer .point").first.wait_for()
    assert history.locator(".scatterlayer .trace").first.locator(".point").count() == 11
    space = page.locator("section", has_text="Search space")
    assert space.locator("tbody tr").count() == 3
    assert "12 architectures" in space.inner_text()
    assert page.locator("#stop").is_hidden()  # `retiarii view` cannot stop an experiment
    watch.screenshot("overview")
    assert_clean(watch)


def test_trials_table_sorts_and_filters(watch_factory, dashboard) -> None:
    watch = watch_factory(dashboard.url)
    page = watch.goto("/trials")
    rows = page.locator("#trials-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 12
    headers = page.locator("#trials-table thead th").all_inner_texts()
    assert XSS_LABEL in [h.strip(" ▲▼") for h in headers]
    watch.screenshot("trials")

    page.locator("#trials-table th", has_text="final metric").click()  # best first (maximize)
    assert rows.first.get_attribute("data-id") == "12"
    assert "★" in rows.first.inner_text()
    page.locator("#trials-table th", has_text="final metric").click()
    assert rows.first.get_attribute("data-id") == "1"  # lowest metric first
    assert rows.last.get_attribute("data-id") == "8"  # the failed trial has none: last

    page.fill("input.search", "width=16")
    assert rows.count() == 4
    page.fill("input.search", "width=16 act=tanh")
    assert rows.count() == 2
    page.fill("input.search", "metric>0.9")
    assert rows.count() == 4
    page.fill("input.search", "")
    page.select_option("select", "FAILED")
    assert rows.count() == 1 and rows.first.get_attribute("data-id") == "8"
    assert "status=FAILED" in page.url  # the view can be shared as a link
    watch.screenshot("trials-filtered")

    rows.first.click()  # a row opens its trial
    page.wait_for_url("**/trials/8")
    page.locator("#trial-error").wait_for()
    assert_clean(watch)


def test_trial_page_shows_its_curve(watch_factory, dashboard) -> None:
    watch = watch_factory(dashboard.url)
    page = watch.goto("/trials/2")
    curve = page.locator("section", has_text="Intermediate metric")
    curve.locator(".scatterlayer .trace .point").first.wait_for()
    assert curve.locator(".scatterlayer .trace").first.locator(".point").count() == 4
    line = curve.locator(".scatterlayer .trace .js-line").first.get_attribute("d")
    assert line and line.startswith("M") and "L" in line  # a drawn line through the reports
    assert "Trial #2" in page.locator("h1").inner_text()
    sample = page.locator("section", has_text="Sample")
    assert sample.locator("table.sample th", has_text=XSS_LABEL).count() == 1
    log = page.locator("#trial-log")
    assert XSS_LOG in log.inner_text()  # the log is shown as text
    watch.screenshot("trial")
    assert_clean(watch)


def test_failed_trial_shows_its_traceback(watch_factory, dashboard) -> None:
    watch = watch_factory(dashboard.url)
    page = watch.goto("/trials/8")
    error = page.locator("#trial-error")
    error.wait_for()
    text = error.inner_text()
    assert "Traceback (most recent call last)" in text
    assert f"ValueError: {XSS_ERROR}" in text
    assert page.locator("#trial-error b").count() == 0
    assert page.locator(".pill", has_text="FAILED").count() >= 1
    watch.screenshot("trial-failed")
    assert_clean(watch)


def test_charts_and_escaping_in_them(watch_factory, dashboard) -> None:
    watch = watch_factory(dashboard.url)
    page = watch.goto("/charts")
    page.locator(".parcoords").first.wait_for()
    charts = page.locator("#view .js-plotly-plot")
    assert (
        charts.count() == 7
    )  # history, curves, over time, one per label (3), parallel coordinates
    over_time = page.locator("section", has_text="Final metric over time")
    assert over_time.locator(".scatterlayer .trace").first.locator(".point").count() == 11
    curves = page.locator("section", has_text="Intermediate curves")
    assert curves.locator(".scatterlayer .trace").count() == 12
    by_value = page.locator("section", has_text="Metric by chosen value")
    assert by_value.locator(".boxlayer .trace").count() == 2 + 3 + 2
    # labels reach the SVG as text: the parallel-coordinates axis is titled with the label
    titles = page.locator(".parcoords .axis-title").all_text_contents()
    assert XSS_LABEL[:23] + "…" in titles and "width" in titles and "act" in titles
    assert page.get_by_text(XSS_LABEL, exact=True).count() >= 1
    watch.screenshot("charts")
    assert_clean(watch)


def test_oneshot_page(watch_factory, oneshot_dir: Path) -> None:
    with serve_dashboard(oneshot_dir, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/oneshot")
        page.locator("section", has_text="Architecture probabilities: op").locator(
            ".barlayer .trace"
        ).first.wait_for()
        assert page.locator('#nav a[data-page="oneshot"]').is_visible()
        sections = page.locator("#view section h2").all_inner_texts()
        assert sections == [
            "Current architecture",
            "Loss per epoch",  # loss/val has epochs, loss/train only steps: two x axes
            "Loss per step",
            "Metrics",
            "Architecture probabilities: inp",
            "Architecture probabilities: op",
            "Epochs",  # loss/val and metric/accuracy per epoch
        ]
        for title, trace in (("Loss per epoch", "loss/val"), ("Loss per step", "loss/train")):
            chart = page.locator("section", has_text=title)
            assert chart.locator(".scatterlayer .trace").count() == 1
            assert chart.locator(".legendtext").all_text_contents() == [trace]
        ticks = page.locator("section", has_text="Architecture probabilities: op").locator(
            ".ytick text"
        )
        assert XSS_CANDIDATE in ticks.all_text_contents()
        watch.screenshot("oneshot")
        page = watch.goto("/")  # no trials: the overview shows the one-shot choice
        best = page.locator("section", has_text="Current architecture")
        best.locator("table.sample").wait_for()
        assert "one-shot" in best.inner_text()
        assert_clean(watch)


def test_export_button_downloads_top_k(watch_factory, dashboard) -> None:
    watch = watch_factory(dashboard.url)
    page = watch.goto("/")
    page.wait_for_selector("#view .stat")
    page.fill("#export-k", "3")
    with page.expect_download() as download:
        page.click("#export")
    path = download.value.path()
    data = json.loads(Path(path).read_text())
    assert download.value.suggested_filename.endswith("-top3.json")
    assert [entry["rank"] for entry in data["top"]] == [1, 2, 3]
    assert data["top"][0]["sample"] == {XSS_LABEL: 2, "width": 16, "act": "tanh"}
    assert_clean(watch)


def test_live_updates_and_stop_button(watch_factory, tmp_path: Path) -> None:
    # in-process trials: no worker to start, and a stop lands between two trials
    with running_experiment(tmp_path, delay=0.6, execution="inprocess") as (exp, url, thread):
        watch = watch_factory(url)
        page = watch.goto("/")
        page.locator("#exp-state", has_text="running").wait_for()
        value = page.locator(".stat", has_text="Progress").locator(".stat-value")
        first = int(value.inner_text().split()[0])
        # the page follows the experiment without a reload
        page.wait_for_function(
            "n => parseInt(document.querySelector('.stat .stat-value').parentElement"
            ".parentElement.children[1].querySelector('.stat-value').textContent) > n",
            arg=first,
            timeout=30_000,
        )
        assert "live" in page.locator("#live").inner_text()
        watch.screenshot("live-running")
        watch.accept_dialogs = True
        page.click("#stop")
        page.locator("#exp-state", has_text="stopped").wait_for(timeout=30_000)
        assert watch.dialogs and watch.dialogs[0].startswith("confirm: Stop the experiment?")
        assert page.locator("#stop").is_hidden()
        watch.screenshot("live-stopped")
        thread.join(30)
        assert not thread.is_alive()
        watch.dialogs.clear()
        assert_clean(watch)
    assert exp.get_status() == "STOPPED"
