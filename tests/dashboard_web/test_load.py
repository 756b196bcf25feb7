"""The dashboard under load: incremental polls, slim rows, downsampled curves, the server-side
trial table, and the dashboard served from a separate process (with its stop path)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retiarii.dashboard import DashboardProcess, serve_dashboard
from retiarii.dashboard.table import parse_filter
from retiarii.dashboard.views import downsample
from retiarii.store import ExperimentStore

from .conftest import wait_until

SPACE = {
    "width": {"_type": "choice", "_value": [4, 8, 16]},
    "act": {"_type": "choice", "_value": ["relu", "tanh"]},
}
BIG_METRIC = {"default": 0.5, **{f"m{k}": k / 1000 for k in range(1000)}}


def _add_trial(store: ExperimentStore, i: int, status: str = "SUCCEEDED", points: int = 3) -> int:
    trial = store.create_trial({"width": [4, 8, 16][i % 3], "act": ["relu", "tanh"][i % 2]})
    store.mark_running(trial)
    for step in range(points):
        store.add_intermediate(trial, (i + step) / 100)
    if status == "RUNNING":
        return trial
    if status == "FAILED":
        store.finish_trial(
            trial, "FAILED", error="Traceback ...\n" + "x" * 2000 + "\nValueError: boom"
        )
    else:
        store.finish_trial(trial, status, final={**BIG_METRIC, "default": i / 100})
    return trial


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[tuple[Path, ExperimentStore]]:
    store = ExperimentStore(tmp_path / "experiment.db")
    store.init_experiment("load", {"max_trial_number": 100}, SPACE)
    store.set_status("running")
    for i in range(1, 31):
        _add_trial(store, i, "FAILED" if i == 7 else "SUCCEEDED")
    time.sleep(0.2)  # past the cursor's slack (a poll re-sends rows stamped just before it)
    _add_trial(store, 31, "RUNNING", points=1000)
    yield tmp_path, store
    store.close()


@pytest.fixture
def http(store_dir: tuple[Path, ExperimentStore]) -> Iterator[httpx.Client]:
    with (
        serve_dashboard(store_dir[0], port=0) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def test_rows_are_slim_except_on_the_trial_page(http: httpx.Client) -> None:
    rows = http.get("/api/trials").json()
    assert len(rows) == 31 and all("final" not in r for r in rows)
    assert rows[0]["final_value"] == pytest.approx(0.01)
    failed = rows[6]
    assert failed["status"] == "FAILED" and failed["error"].endswith("ValueError: boom")
    assert len(failed["error"]) <= 500  # the end of the traceback; the trial page has it all
    assert rows[30]["latest"] == pytest.approx((31 + 999) / 100)  # a running trial's last value
    assert "final" not in http.get("/api/experiment").json()["best"]
    trial = http.get("/api/trials/30").json()
    assert len(trial["final"]) == 1001 and len(http.get("/api/trials/7").json()["error"]) > 2000


def test_an_incremental_poll_sends_only_what_changed(
    http: httpx.Client, store_dir: tuple[Path, ExperimentStore]
) -> None:
    store = store_dir[1]
    first = http.get("/api/trials", params={"since": 0}).json()
    assert len(first["trials"]) == first["total"] == 31
    steady = http.get("/api/trials", params={"since": first["cursor"]}).json()
    # nothing changed: the running trial only (it is the last-stamped one, too)
    assert [r["id"] for r in steady["trials"]] == [31]
    assert steady["total"] == 31
    new = _add_trial(store, 32)
    store.finish_trial(31, "SUCCEEDED", final=0.9)
    changed = http.get("/api/trials", params={"since": steady["cursor"]}).json()
    assert {r["id"] for r in changed["trials"]} == {31, new}
    assert changed["total"] == 32 and changed["cursor"] >= steady["cursor"]
    after = http.get("/api/trials", params={"since": changed["cursor"]}).json()
    assert {r["id"] for r in after["trials"]} <= {31, new}  # only ties with the cursor
    assert http.get("/api/trials", params={"since": "x"}).status_code == 400


def test_curves_are_incremental_and_downsampled(
    http: httpx.Client, store_dir: tuple[Path, ExperimentStore]
) -> None:
    first = http.get("/api/intermediates", params={"since": 0}).json()
    assert len(first["curves"]) == 31
    long = first["curves"]["31"]
    assert len(long["x"]) <= 200 and long["x"][0] == 0 and long["x"][-1] == 999
    assert max(long["y"]) == pytest.approx(10.3) and min(long["y"]) == pytest.approx(0.31)
    assert first["curves"]["1"] == {"x": [0, 1, 2], "y": [0.01, 0.02, 0.03]}
    assert http.get("/api/intermediates", params={"since": first["cursor"]}).json()["curves"] == {}
    store_dir[1].add_intermediate(31, 5.0)
    grown = http.get("/api/intermediates", params={"since": first["cursor"]}).json()
    assert list(grown["curves"]) == ["31"] and grown["curves"]["31"]["x"][-1] == 1000
    full = http.get("/api/intermediates", params={"max_points": 2000}).json()
    assert len(full["31"]["x"]) == 1001  # whole when asked
    assert http.get("/api/intermediates", params={"max_points": 1}).status_code == 400


def test_downsample_keeps_the_ends_and_the_extremes() -> None:
    xs = list(range(10_000))
    ys = [0.0] * 10_000
    ys[1234], ys[8765] = 5.0, -5.0
    x, y = downsample(xs, ys, 100)
    assert len(x) <= 100 and x[0] == 0 and x[-1] == 9999
    assert 5.0 in y and -5.0 in y and x == sorted(x)
    assert downsample([1, 2], [3.0, 4.0], 100) == ([1, 2], [3.0, 4.0])


def test_the_table_is_filtered_sorted_and_paged_on_the_server(http: httpx.Client) -> None:
    def table(**params: object) -> dict:
        response = http.get("/api/trials/table", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    page = table(limit=10)
    assert [r["id"] for r in page["rows"]] == list(range(1, 11))
    assert (page["total"], page["matched"], page["offset"]) == (31, 31, 0)
    assert page["statuses"] == ["FAILED", "RUNNING", "SUCCEEDED"]
    assert all("final" not in r for r in page["rows"])
    assert [r["id"] for r in table(limit=10, offset=30)["rows"]] == [31]
    best = table(sort="metric", desc=1, limit=3)
    assert [r["id"] for r in best["rows"]] == [30, 29, 28]
    # empty values last in either direction
    assert table(sort="metric", desc=0, limit=31)["rows"][-1]["id"] in (7, 31)
    wide = table(q="width=16 act=tanh", limit=100)
    assert {r["id"] for r in wide["rows"]} == {5, 11, 17, 23, 29}
    assert wide["problems"] == []
    assert [r["id"] for r in table(status="FAILED")["rows"]] == [7]
    assert table(q="metric>0.25 metric<=0.27")["matched"] == 2
    assert table(q="tanh")["matched"] == 16  # plain text: id, status, metric or sample
    problems = table(q="widht=16 metric>abc width=")["problems"]
    assert problems[0].startswith('"widht" is not a label or a field (labels: width, act;')
    assert problems[1] == '"abc" is not a number (in "metric>abc")'
    assert problems[2] == '"width=": nothing after "="; write e.g. width=value'
    # a steady poll of an unchanged page is a few bytes
    cursor = page["cursor"]
    same = http.get("/api/trials/table", params={"limit": 10, "cursor": cursor})
    assert same.json() == {"unchanged": True, "cursor": cursor} and len(same.content) < 200
    assert http.get("/api/trials/table", params={"limit": 0}).status_code == 400
    assert http.get("/api/trials/table", params={"sort": "nope"}).status_code == 400


def test_filter_problems_match_the_page() -> None:
    _, problems = parse_filter("width>big duration=x relu", ["width"])
    assert problems == [
        '"width>big": > compares numbers, but "big" is not one (values are then compared as text)',
        '"x" is not a number (in "duration=x")',
    ]


def test_separate_process_serves_and_stops_through_the_driver(
    store_dir: tuple[Path, ExperimentStore],
) -> None:
    asked = threading.Event()
    server = serve_dashboard(store_dir[0], port=0, stop=asked.set, separate_process=True)
    assert isinstance(server, DashboardProcess) and server.pid != os.getpid()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/api/experiment").json()["can_stop"] is True
            refused = client.post("/api/stop", headers={"Origin": "http://evil.example"})
            assert refused.status_code == 403 and not asked.wait(0.5)
            ok = client.post("/api/stop", headers={"Origin": server.url.rstrip("/")})
            assert ok.status_code == 200 and ok.json() == {"stopping": True}
            assert asked.wait(10)  # called in this process
    finally:
        server.close()
    assert not server.running
    wait_until(lambda: not _alive(server.pid), 10, "the serving process to exit")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is gone too
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_large_table_is_paged_and_filtered_by_the_server(watch_factory, tmp_path) -> None:
    from playwright.sync_api import expect

    store = ExperimentStore(tmp_path / "experiment.db")
    store.init_experiment("large", {"max_trial_number": 1200}, SPACE)
    conn = store._connection()  # 1,200 trials in one transaction (the API commits each write)
    with conn:
        for i in range(1, 1201):
            sample = f'{{"width": {[4, 8, 16][i % 3]}, "act": "{["relu", "tanh"][i % 2]}"}}'
            conn.execute(
                "INSERT INTO trials (id, sample, status, created_at, started_at, ended_at, "
                "final, final_value) VALUES (?, ?, 'SUCCEEDED', ?, ?, ?, ?, ?)",
                (i, sample, 1e9 + i, 1e9 + i, 1e9 + i + 1, str(i / 1000), i / 1000),
            )
    store.set_status("done")
    store.close()
    with serve_dashboard(tmp_path, port=0) as server:
        watch = watch_factory(server.url)
        page = watch.goto("/trials")
        rows = page.locator("#trials-table tbody tr")
        expect(rows).to_have_count(100)
        assert "1\u2013100 of 1200 matching" in page.locator(".toolbar").inner_text()
        page.locator('tr[data-id="3"] input.pick').check()
        page.locator("#page-next").click()
        expect(rows.first).to_have_attribute("data-id", "101")
        page.locator("#page-prev").click()
        expect(page.locator('tr[data-id="3"] input.pick')).to_be_checked()
        page.fill("input.search", "width=16 act=tanh metric>1.1")
        expect(rows).to_have_count(17)  # ids 1103, 1109, ..., 1199
        expect(rows.first).to_have_attribute("data-id", "1103")
        page.fill("input.search", "widht=16")
        expect(page.locator("#filter-problems")).to_contain_text('"widht" is not a label')
        page.fill("input.search", "")
        metric = page.locator('th[data-key="metric"]')
        metric.click()  # sorted on the server; maximize: best first, as in the small table
        expect(metric).to_have_attribute("aria-sort", "descending")
        expect(rows.first).to_have_attribute("data-id", "1200")
        page.locator('th[data-key="metric"]').click()
        expect(page.locator('th[data-key="metric"]')).to_have_attribute("aria-sort", "ascending")
        expect(rows.first).to_have_attribute("data-id", "1")
        assert watch.errors == []


def test_the_serving_process_ends_with_a_killed_driver(
    store_dir: tuple[Path, ExperimentStore],
) -> None:
    import signal
    import subprocess
    import sys

    driver = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from retiarii.dashboard import serve_dashboard\n"
            "s = serve_dashboard(sys.argv[1], port=0, stop=print, separate_process=True)\n"
            "print(s.pid, flush=True)\n"
            "time.sleep(120)\n",
            str(store_dir[0]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert driver.stdout is not None
        child = int(driver.stdout.readline())
        assert _alive(child)
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        wait_until(lambda: not _alive(child), 20, "the orphaned serving process to exit")
    finally:
        driver.kill()
        driver.wait()
