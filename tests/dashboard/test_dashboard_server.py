"""The dashboard over a real experiment: JSON API, a page that never renders data as HTML,
same-origin-only stop, Host checks, 404s."""

from __future__ import annotations

import json
import logging
import re
import socket
from http.client import HTTPConnection
from pathlib import Path

import pytest

import retiarii.strategy as strategy
from experiment.helpers import dashboard_url, get_json, http, make_config
from experiment.spaces import XSS_LABEL, XssNet, report_width
from retiarii.dashboard import serve_dashboard
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.store import ExperimentStore

pytest.importorskip("fastapi")

#: Ways to turn text into markup: none may appear in the dashboard's own scripts.
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")


@pytest.fixture(scope="module")
def xss(tmp_path_factory):
    """A finished experiment whose label and name are HTML, served by ``exp.run(config, 0)``."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("retiarii.experiment")
    handler, old_level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    exp = RetiariiExperiment(
        XssNet(), FunctionalEvaluator(report_width), None, strategy.GridSearch(shuffle=False)
    )
    try:
        config = make_config(
            tmp_path_factory.mktemp("xss"), execution="inprocess", experiment_name=XSS_LABEL
        )
        exp.run(config, 0)
        url = dashboard_url(records)
        assert url is not None
        yield exp, url
    finally:
        exp.stop()
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def running(tmp_path):
    """A store that says 'running' (this process holds its writer lock, like a live driver),
    served with a stop callback that records its calls."""
    store = ExperimentStore(tmp_path / "experiment.db")
    store.init_experiment(XSS_LABEL, {"max_trial_number": 3}, {}, "maximize")
    store.set_status("running")
    calls: list[int] = []
    server = serve_dashboard(tmp_path, port=0, stop=lambda: calls.append(1))
    try:
        yield server.url.rstrip("/"), server.port, calls
    finally:
        server.close()
        store.close()


def test_api_returns_the_raw_label_as_json(xss) -> None:
    _, url = xss
    status, headers, body = http(url + "/api/experiment")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Content-Type-Options"] == "nosniff"
    overview = json.loads(body)
    assert overview["name"] == XSS_LABEL
    assert list(overview["search_space"]) == [XSS_LABEL]
    assert overview["best"]["sample"] == {XSS_LABEL: 2}
    trials = get_json(url + "/api/trials")
    assert [t["sample"] for t in trials] == [{XSS_LABEL: 1}, {XSS_LABEL: 2}]
    one = get_json(url + "/api/trials/1")
    assert one["sample"] == {XSS_LABEL: 1}
    assert [r["value"] for r in one["intermediates"]] == [0.5]


def _own_scripts(url: str, page: str) -> dict[str, str]:
    """The dashboard's own scripts: those the page loads and, recursively, the modules they
    import (plotly, a third-party library, is left out)."""
    todo = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    scripts: dict[str, str] = {}
    while todo:
        src = todo.pop().split("?")[0]
        if src in scripts or src.endswith("plotly.min.js"):
            continue
        status, _, body = http(url + src)
        assert status == 200, src
        scripts[src] = body.decode()
        folder = src.rsplit("/", 1)[0]
        for name in re.findall(r"""(?:from|import)\s*\(?\s*["']\./([\w.]+)["']""", scripts[src]):
            todo.append(f"{folder}/{name}")
    return scripts


def _without_comments(js: str) -> str:
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return re.sub(r"(?m)(^|\s)//.*$", r"\1", js)


@pytest.mark.parametrize("path", ["/", "/trials", "/trial/1"])
def test_page_never_interpolates_html(xss, path: str) -> None:
    _, url = xss
    status, headers, body = http(url + path)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert "<img" not in page  # no data is templated into the page
    assert not [sink for sink in HTML_SINKS if sink in page]
    scripts = _own_scripts(url, page)
    assert scripts, "the page loads no script of its own?"
    for src, text in scripts.items():
        code = _without_comments(text)
        assert not [sink for sink in HTML_SINKS if sink in code], src
    assert any("textContent" in text for text in scripts.values())
    csp = headers.get("Content-Security-Policy", "")
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )


def test_unknown_trial_and_paths_are_404(xss) -> None:
    _, url = xss
    status, headers, body = http(url + "/api/trials/999")
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert "999" in json.loads(body)["error"]
    for path in ("/api/trials/abc", "/api/nothing", "/static/../experiment.db", "/static/x.py"):
        assert http(url + path)[0] == 404, path
    assert http(url + "/api/other", method="POST")[0] in (404, 405)


def test_stop_refuses_a_foreign_origin(running) -> None:
    url, _, calls = running
    status, _, body = http(url + "/api/stop", "POST", {"Origin": "http://evil.example"})
    assert status == 403
    assert "cross-origin" in json.loads(body)["error"]
    assert http(url + "/api/stop", "POST", {"Origin": "null"})[0] == 403
    assert http(url + "/api/stop", "POST", {"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert calls == []


def test_stop_from_the_page_itself(running) -> None:
    url, _, calls = running
    overview = get_json(url + "/api/experiment")
    assert overview["can_stop"] is True
    status, _, body = http(url + "/api/stop", "POST", {"Origin": url})
    assert (status, json.loads(body)) == (200, {"stopping": True})
    assert calls == [1]


def test_dns_rebinding_is_refused(running) -> None:
    _, port, calls = running
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for method, path in (("GET", "/api/experiment"), ("POST", "/api/stop")):
            conn.putrequest(method, path, skip_host=True)
            conn.putheader("Host", f"evil.example:{port}")
            conn.putheader("Origin", f"http://evil.example:{port}")
            conn.putheader("Content-Length", "0")
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            assert response.status == 400, (method, path)
    finally:
        conn.close()
    assert calls == []


def test_stop_of_a_finished_experiment_is_refused(xss) -> None:
    _, url = xss
    assert get_json(url + "/api/experiment")["can_stop"] is False
    assert http(url + "/api/stop", "POST")[0] == 409


def test_view_has_no_stop(xss) -> None:
    exp, _ = xss
    server = RetiariiExperiment.view(exp.experiment_dir, port=0, non_blocking=True)
    try:
        overview = get_json(server.url + "api/experiment")
        assert overview["status"] == "done" and overview["can_stop"] is False
        assert http(server.url + "api/stop", "POST")[0] == 409
    finally:
        server.close()


def test_binds_to_localhost_and_releases_the_port(xss) -> None:
    exp, _ = xss
    server = serve_dashboard(exp.experiment_dir, port=0)
    port = server.port
    assert server.host == "127.0.0.1"
    with pytest.raises(OSError, match="choose another port"):
        serve_dashboard(exp.experiment_dir, port=port)
    server.close()
    serve_dashboard(exp.experiment_dir, port=port).close()


def test_not_an_experiment_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an experiment directory"):
        serve_dashboard(tmp_path, port=0)


def test_stopping_the_experiment_closes_its_dashboard(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="retiarii.experiment")
    exp = RetiariiExperiment(
        XssNet(), FunctionalEvaluator(report_width), None, strategy.GridSearch(shuffle=False)
    )
    exp.run(make_config(tmp_path, execution="inprocess"), 0)
    url = dashboard_url(caplog.records)
    assert get_json(url + "/api/experiment")["status"] == "done"
    port = int(url.rsplit(":", 1)[1])
    exp.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
