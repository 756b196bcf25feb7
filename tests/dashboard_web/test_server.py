"""``serve_dashboard``: non-blocking, real port for ``port=0``, clean close, clear errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from retiarii.dashboard import serve_dashboard


def test_port_zero_reports_the_real_port(experiment_dir: Path) -> None:
    with serve_dashboard(experiment_dir, port=0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server.running
        # serving already: no waiting needed after serve_dashboard returns
        assert httpx.get(server.url + "api/experiment", timeout=10).status_code == 200
    assert not server.running


def test_close_releases_the_port_and_is_idempotent(experiment_dir: Path) -> None:
    server = serve_dashboard(experiment_dir, port=0)
    port = server.port
    with httpx.Client(timeout=10) as http:  # a kept-alive connection must not block close()
        assert http.get(server.url).status_code == 200
        server.close()
        server.close()
        with pytest.raises(httpx.HTTPError):
            http.get(server.url)
    again = serve_dashboard(experiment_dir, port=port)
    assert again.port == port
    again.close()


def test_a_port_in_use_is_a_clear_error(experiment_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            OSError, match=f"cannot serve the dashboard on 127.0.0.1:{port}.*choose another port"
        ):
            serve_dashboard(experiment_dir, port=port)


def test_not_an_experiment_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an experiment directory"):
        serve_dashboard(tmp_path, port=0)


def test_binds_to_loopback_unless_told(experiment_dir: Path) -> None:
    with serve_dashboard(experiment_dir, port=0) as server:
        assert server.host == "127.0.0.1"
    with serve_dashboard(experiment_dir, host="0.0.0.0", port=0) as server:
        assert server.host == "0.0.0.0"
        # any Host is accepted once the user chose to serve beyond this machine
        response = httpx.get(
            f"http://127.0.0.1:{server.port}/api/experiment",
            headers={"Host": "my-workstation:1234"},
            timeout=10,
        )
        assert response.status_code == 200


def test_web_stack_is_imported_lazily() -> None:
    code = (
        "import sys, retiarii, retiarii.dashboard, retiarii.cli, retiarii.experiment\n"
        "heavy = [m for m in ('fastapi', 'starlette', 'uvicorn', 'plotly', 'pydantic') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
