"""The dashboard served by ``exp.run(config, port)`` while the experiment writes its store."""

from __future__ import annotations

from pathlib import Path

import httpx

from .conftest import running_experiment, wait_until


def test_live_view_and_stop(tmp_path: Path) -> None:
    with running_experiment(tmp_path, delay=1.0) as (exp, url, thread):
        origin = url.rstrip("/")
        with httpx.Client(base_url=url, timeout=10) as http:
            assert url.startswith("http://127.0.0.1:")

            def running_trial() -> dict | None:
                view = http.get("/api/experiment").json()
                trials = http.get("/api/trials").json()
                busy = [t for t in trials if t["status"] == "RUNNING"]
                return view if view["state"] == "running" and busy else None

            view = wait_until(running_trial, 60, "a RUNNING trial on the dashboard")
            assert view["can_stop"] is True and view["driver_alive"] is True
            assert view["progress"]["budget"] == 20

            # the page keeps up with the writer: intermediates and finished trials appear
            wait_until(
                lambda: http.get("/api/experiment").json()["progress"]["ended"] >= 1,
                60,
                "a finished trial",
            )
            curves = http.get("/api/intermediates").json()
            assert curves and all(len(c["y"]) >= 1 for c in curves.values())

            # cross-site requests cannot stop it
            for headers in (
                {"Origin": "http://evil.example"},
                {"Origin": "null"},
                {"Origin": origin.replace("127.0.0.1", "localhost")},
                {"Sec-Fetch-Site": "cross-site"},
                {"Sec-Fetch-Site": "same-site", "Origin": origin},
            ):
                response = http.post("/api/stop", headers=headers)
                assert response.status_code == 403, headers
                assert response.json() == {"error": "cross-origin request refused"}
            assert thread.is_alive()
            assert http.get("/api/experiment").json()["state"] == "running"

            # the page itself can
            response = http.post(
                "/api/stop",
                headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
                json={},
            )
            assert response.status_code == 200 and response.json() == {"stopping": True}
            thread.join(60)
            assert not thread.is_alive()
            view = http.get("/api/experiment").json()
            assert view["state"] == "stopped" and view["can_stop"] is False
            assert view["end_reason"] == "stopped by request"
            assert view["progress"]["ended"] < 20
            again = http.post("/api/stop", headers={"Origin": origin})
            assert again.status_code == 409 and "not running" in again.json()["error"]
    assert exp.get_status() == "STOPPED"
